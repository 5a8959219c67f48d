"""Phase 6, metrics: the day's row of every column of the metric catalogue (docs/model.md section 8).

Stocks are read at the end of the day; flows are the day's counts. Every column is allocated
for all days before the run starts. The rows are `model.catalogue.CORE` with the effects'
rows (`model.effects.REGISTRY`) in their places.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from scslab.model import effects
from scslab.model.catalogue import CORE, Catalogue, splice
from scslab.model.effects import Effect
from scslab.model.params import Compiled
from scslab.model.sanctions import wrongful
from scslab.model.state import State
from scslab.scenario.schema import CAUSES

QUANTILES = {"score_p10": 0.1, "score_p50": 0.5, "score_p90": 0.9}
QUANTILE_LEVELS = np.array(list(QUANTILES.values()))
# The stocks of the core rows, read at the end of the day (rows that expand are filled apart).
READ: dict[str, Callable[[State], float]] = {
    "score_mean": lambda state: state.index.total / state.n,
    "blacklisted": lambda state: state.blacklist.size,
    "blacklisted_wrongful": lambda state: state.listings.wrongful_listed,
    "political_events": lambda state: int(state.counters.events[state.cp.events.political].sum()),
    "firms_blacklisted": lambda state: int(state.firm_blacklisted.sum()),
    "rho_mean": lambda state: state.rho_sum / state.n,
}


@lru_cache(maxsize=4)
def _catalogue(registry: tuple[Effect, ...]) -> Catalogue:
    flows = [m for e in registry for m in e.metrics if m.kind == "flow"]
    stocks = [m for e in registry for m in e.metrics if m.kind == "stock"]
    return Catalogue(splice(CORE, flows, stocks))


def catalogue() -> Catalogue:
    """Every metric: the core rows and the registered effects' rows, in column order."""
    return _catalogue(effects.REGISTRY)


def describe(name: str) -> dict[str, Any]:
    """A figure's catalogue metadata: kind, scales, unit, label, description, format (`Catalogue.describe`)."""
    return catalogue().describe(name)


def metric_names(cp: Compiled) -> list[str]:
    """Every daily column, in a stable order."""
    return catalogue().columns(cp)


def readers() -> dict[str, Callable[[State], float]]:
    """How each stock without a pattern is read: the core's and the effects' readers."""
    out = dict(READ)
    for e in effects.REGISTRY:
        out |= e.read
    return out


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
        }


def record(state: State, table: MetricTable, day: int) -> None:
    """Write the day's row."""
    col = table.columns
    c = state.counters
    idx = state.index
    listed = state.blacklist.ids()
    state.listings.day_end(listed, wrongful(state, listed), day)  # (the day's wrongful stock, read below)
    by_cause = np.bincount(state.cause[listed], minlength=len(CAUSES))
    for group, values in (
        ("quantiles", idx.quantiles(QUANTILE_LEVELS, day)),
        ("tiers", idx.tier_counts),
        ("events", c.events),
        ("detected", c.detected),
        ("causes", by_cause),
    ):
        for column, value in zip(table.groups[group], np.asarray(values).tolist(), strict=True):
            column[day] = value
    for name in catalogue().counted():
        col[name][day] = c[name]
    for name, read in readers().items():
        col[name][day] = read(state)
    table.days_done = day + 1
