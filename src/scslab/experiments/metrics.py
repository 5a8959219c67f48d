"""The figures an experiment reports: the headline list, which are counts, and a figure on a given day."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from scslab.errors import ScslabError
from scslab.model.metrics import metric_names
from scslab.model.params import compile_params
from scslab.results import STOCKS
from scslab.scenario import Scenario

# The headline metrics, in the order tables show them; any key of `Result.summary["figures"]` may be asked for.
HEADLINE_METRICS = (
    "blacklisted",
    "blacklisted_wrongful",
    "wrongful_share",
    "ever_blacklisted",
    "listings_new",
    "appeals_won",
    "trips_denied",
    "speech_suppressed",
    "political_events",
    "score_mean",
)
# Figures of the summary that have no daily column.
SUMMARY_ONLY = ("ever_blacklisted", "wrongful_share")


def available(scenario: Scenario) -> list[str]:
    """Every figure a run of `scenario` reports: its daily columns, then the summary-only figures."""
    return [*metric_names(compile_params(scenario.params)), *SUMMARY_ONLY]


def check_metrics(names: Iterable[str], scenario: Scenario, where: str = "--metric") -> tuple[str, ...]:
    """`names` if each is a figure of `scenario`, else a one-line error naming the first that is not."""
    known = available(scenario)
    chosen = tuple(dict.fromkeys(names))
    if not chosen:
        raise ScslabError(f"{where}: no metric (allowed: one or more of {', '.join(HEADLINE_METRICS)}, ...)")
    for name in chosen:
        if name not in known:
            raise ScslabError(
                f"{where}: unknown metric {name!r} (allowed: {', '.join(HEADLINE_METRICS)}, or another figure "
                f"of the scenario such as {', '.join(k for k in known[:3])})"
            )
    return chosen


def is_count(metric: str) -> bool:
    """Whether a figure counts people or events, and so scales to the real population."""
    return not metric.startswith(("score_", "rho_")) and metric != "wrongful_share"


def is_stock(metric: str) -> bool:
    """Whether a daily column is a stock (read on a day) rather than a flow (summed up to a day)."""
    return metric in STOCKS or metric.startswith(("tier_", "blacklisted_"))


def figure_at(timeseries: pd.DataFrame, metric: str, day: int) -> float:
    """A figure as the summary would give it had the run ended on `day` (0-based)."""
    column = timeseries[metric].to_numpy()
    if is_stock(metric):
        return float(column[day])
    return float(column[: day + 1].sum())
