"""Phase 6, metrics: the day's aggregates under the names of MODEL.md section 8.

Stocks (blacklisted, tiers, children_restricted, red_loans, firms_blacklisted,
green_channel_benefits) are read at the end of the day; flows (events, detections,
listings, trips denied, ...) are the day's counts. Every column is allocated for all days
before the run starts.
"""

from __future__ import annotations

import numpy as np

from scslab.model.params import Compiled
from scslab.model.sanctions import wrongful
from scslab.model.state import State
from scslab.scenario.schema import CAUSES

FLOWS = (
    "listings_new",
    "appeals_won",
    "trips_denied",
    "trips_denied_plane",
    "trips_denied_train",
    "speech_suppressed",
    "promotions_granted",
    "promotions_blocked",
    "ties_cut",
)


QUANTILES = {"score_p10": 0.1, "score_p50": 0.5, "score_p90": 0.9}
QUANTILE_LEVELS = np.array(list(QUANTILES.values()))


def metric_names(cp: Compiled) -> list[str]:
    """Every daily column, in a stable order."""
    names = ["score_mean", *QUANTILES]
    names += [f"tier_{t}" for t in cp.tier_names]
    names += [f"events_{e}" for e in cp.events.names]
    names += [f"detected_{e}" for e in cp.events.names]
    names += ["blacklisted"] + [f"blacklisted_{c}" for c in CAUSES] + ["blacklisted_wrongful"]
    names += list(FLOWS)
    names += [
        "political_events",
        "green_channel_benefits",
        "red_loans",
        "children_restricted",
        "firms_blacklisted",
        "rho_mean",
    ]
    return names


class MetricTable:
    """One preallocated column per metric, one row per day."""

    def __init__(self, cp: Compiled, days: int) -> None:
        self.names = metric_names(cp)
        self.columns = {name: np.zeros(days) for name in self.names}
        self.days_done = 0
        # the columns `record` fills from one array each (the same arrays as in `columns`)
        col = self.columns
        self.groups = {
            "quantiles": [col[name] for name in QUANTILES],
            "tiers": [col[f"tier_{t}"] for t in cp.tier_names],
            "events": [col[f"events_{e}"] for e in cp.events.names],
            "detected": [col[f"detected_{e}"] for e in cp.events.names],
            "causes": [col[f"blacklisted_{cause}"] for cause in CAUSES],
            "flows": [col[name] for name in FLOWS],
        }


def holders(state: State, effect: str) -> int:
    """How many citizens a reward currently reaches (tier rules read from the tier counts)."""
    total = 0
    tiers = state.index.tier_counts
    for rule in state.cp.rewards.get(effect, ()):
        if rule.kind == "tier_at_least":
            total += int(tiers[: rule.tier + 1].sum())
        elif rule.kind == "tier_at_most":
            total += int(tiers[rule.tier :].sum())
        elif rule.kind == "blacklist":
            total += state.blacklist.size
    return min(total, state.n)


def record(state: State, table: MetricTable, day: int) -> None:
    """Write the day's row."""
    cp = state.cp
    col = table.columns
    c = state.counters
    idx = state.index
    listed = state.blacklist.ids()
    by_cause = np.bincount(state.cause[listed], minlength=len(CAUSES))
    for group, values in (
        ("quantiles", idx.quantiles(QUANTILE_LEVELS, day)),
        ("tiers", idx.tier_counts),
        ("events", c.events),
        ("detected", c.detected),
        ("causes", by_cause),
        ("flows", [getattr(c, name) for name in FLOWS]),
    ):
        for column, value in zip(table.groups[group], np.asarray(values).tolist(), strict=True):
            column[day] = value
    col["score_mean"][day] = idx.total / state.n
    col["blacklisted"][day] = listed.size
    col["blacklisted_wrongful"][day] = int(wrongful(state, listed).sum())
    col["political_events"][day] = int(c.events[cp.events.political].sum())
    col["green_channel_benefits"][day] = holders(state, "green_channel")
    col["red_loans"][day] = state.red_loan.size
    col["children_restricted"][day] = state.children_restricted
    col["firms_blacklisted"][day] = int(state.firm_blacklisted.sum())
    col["rho_mean"][day] = state.rho_sum / state.n
    table.days_done = day + 1
