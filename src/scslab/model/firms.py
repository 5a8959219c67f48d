"""Corporate credit (docs/model.md section 6): firms' scores, violations, and the firm blacklist.

Firms' violations are seen by the regulator source (`firms.source`: its coverage, share and
delay; no misattribution). A firm recovers like a citizen (`recovery.per_day` after
`recovery.clean_days` without a violation, back up to `firms.start`) and leaves the
blacklist after `blacklist.min_days` with its score back at the threshold.
"""

from __future__ import annotations

import numpy as np

from scslab.model.draws import FIRM_DETECT, FIRM_VIOLATION, Draws
from scslab.model.state import State


def enlist_firms(state: State, firm: np.ndarray, day: int) -> None:
    """Blacklist `firm` (those not yet listed) from `day`."""
    firm = np.unique(firm[~state.firm_blacklisted[firm]])
    state.firm_blacklisted[firm] = True
    state.firm_listed_day[firm] = day
    state.firms_listed_today = np.concatenate([state.firms_listed_today, firm])


def violations(state: State, draws: Draws, day: int) -> None:
    """Draw the day's violations, detect them, and post the ones that land today."""
    f = state.cp.p.firms
    assert f is not None
    src = state.cp.sources
    s = src.names.index(f.source)
    private = state.private_firms
    p_seen = src.coverage_on(day)[s] * src.share[s]
    firm, nth = draws.occurrences(private, f.violation_rate, FIRM_VIOLATION)
    seen = draws.uniform(firm, FIRM_DETECT, nth) < p_seen
    state.firm_pending.push(day + int(src.delay[s]), firm[seen])
    (landed,) = state.firm_pending.pop(day, 1)
    if landed.size:
        p = state.cp.p.score
        np.add.at(state.firm_score, landed, f.violation_points)
        state.firm_score[landed] = np.clip(state.firm_score[landed], p.min, p.max)
        if f.violation_points < 0:
            state.firm_last_negative[landed] = day


def recover_firms(state: State, day: int) -> None:
    """Firms clean for `clean_days` regain `per_day` points, up to `firms.start`."""
    f = state.cp.p.firms
    rec = state.cp.p.recovery
    assert f is not None
    if rec.per_day <= 0:
        return
    low = np.flatnonzero(state.firm_score < f.start)
    low = low[day - state.firm_last_negative[low] >= rec.clean_days]
    state.firm_score[low] = np.minimum(state.firm_score[low] + rec.per_day, f.start)


def corporate_credit(state: State, draws: Draws, day: int) -> None:
    """One day of corporate credit: violations, recovery, firm listings and exits."""
    state.firms_listed_today = np.empty(0, dtype=np.int64)
    f = state.cp.p.firms
    if f is None:
        return
    violations(state, draws, day)
    recover_firms(state, day)
    enlist_firms(state, np.flatnonzero((state.firm_score < f.blacklist_threshold) & ~state.firm_blacklisted), day)
    listed = np.flatnonzero(state.firm_blacklisted)
    leave = (day - state.firm_listed_day[listed] >= state.cp.p.blacklist.min_days) & (
        state.firm_score[listed] >= f.blacklist_threshold
    )
    state.firm_blacklisted[listed[leave]] = False
