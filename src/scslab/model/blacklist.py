"""The blacklist's compiled checks (docs/model.md section 6): why a low score lists a citizen, whether a
listing is wrongful, and whether it ends today. The sanctions phase (`sanctions.py`) calls them.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scslab.model.compiled import AHEAD, prefetch
from scslab.model.ledgers import L_ASSOCIATION, L_MISATTRIBUTED, L_SCORE, counterfactual_score


@njit(cache=True, nogil=True)
def score_causes(  # pragma: no cover - compiled
    ids: np.ndarray,
    ledgers: np.ndarray,
    bounds: np.ndarray,
    own_conduct: int,
    misattribution: int,
    association: int,
) -> np.ndarray:
    """Why a low score lists each of `ids`: own conduct if the counterfactual `clamp(S0 + own +
    merit)` alone is below the threshold, else the larger of the misattributed and association
    debts (misattribution on a tie; `bounds`: `Compiled.score_bounds`)."""
    threshold = bounds[4]
    out = np.empty(ids.size, dtype=np.int8)
    for j in range(ids.size):
        i = ids[j]
        if counterfactual_score(ledgers, i, bounds) < threshold:
            out[j] = own_conduct
        elif min(ledgers[i, L_MISATTRIBUTED], 0.0) <= min(ledgers[i, L_ASSOCIATION], 0.0):
            out[j] = misattribution
        else:
            out[j] = association
    return out


@njit(cache=True, nogil=True, parallel=True)
def wrongful_listings(  # pragma: no cover - compiled
    ids: np.ndarray,
    cause: np.ndarray,
    ledgers: np.ndarray,
    listing_wrongful: np.ndarray,
    bounds: np.ndarray,
    last_score_cause: int,
    listed_offence: int,
) -> np.ndarray:
    """Whether each listing of `ids` is wrongful, in one pass: a score listing whose counterfactual
    `clamp(S0 + own + merit)` reaches the threshold, or a listed offence charged to the wrong person
    (`bounds`: `Compiled.score_bounds`)."""
    threshold = bounds[4]
    out = np.empty(ids.size, dtype=np.bool_)
    for j in prange(ids.size):
        if j + AHEAD < ids.size:
            prefetch(cause, ids[j + AHEAD])
            prefetch(ledgers, ids[j + AHEAD])
        i = ids[j]
        k = cause[i]
        if k <= last_score_cause:
            out[j] = counterfactual_score(ledgers, i, bounds) >= threshold
        else:
            out[j] = k == listed_offence and listing_wrongful[i]
    return out


@njit(cache=True, nogil=True, parallel=True)
def due_to_leave(  # pragma: no cover - compiled
    ids: np.ndarray,
    cause: np.ndarray,
    listed_day: np.ndarray,
    ledgers: np.ndarray,
    rep_firm: np.ndarray,
    firm_blacklisted: np.ndarray,
    day: int,
    min_days: int,
    term_days: int,
    threshold: float,
    last_score_cause: int,
    listed_offence: int,
) -> np.ndarray:
    """Whether each listing of `ids` ends today: a score listing after `min_days` with the score
    back at the threshold, a listed offence after `term_days`, joint punishment once the firm is
    off its blacklist."""
    leave = np.empty(ids.size, dtype=np.bool_)
    for j in prange(ids.size):
        if j + AHEAD < ids.size:
            prefetch(cause, ids[j + AHEAD])
            prefetch(listed_day, ids[j + AHEAD])
            prefetch(ledgers, ids[j + AHEAD])
        i = ids[j]
        k = cause[i]
        served = day - listed_day[i]
        if k <= last_score_cause:
            leave[j] = served >= min_days and ledgers[i, L_SCORE] >= threshold
        elif k == listed_offence:
            leave[j] = served >= term_days
        else:
            f = rep_firm[i]
            leave[j] = not (f >= 0 and firm_blacklisted[f])
    return leave
