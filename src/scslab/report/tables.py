"""The report's tables as rows of text: headline figures, disparity ratios, scenario parameters."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from scslab import uncertainty
from scslab.model.catalogue import COUNT
from scslab.model.metrics import catalogue, describe
from scslab.report.data import RunData
from scslab.scenario import ScenarioParams

# (dimension, numerator, denominator): the ratios of shares the report shows.
RATIO_PAIRS = (
    ("group", "minority", "majority"),
    ("income_q", "q1", "q5"),
    ("party_member", "member", "non-member"),
    ("occupation", "civil_servant", "employee"),
    ("occupation", "business_owner", "employee"),
    ("occupation", "unemployed", "employee"),
)
SHARES = (
    ("blacklisted_share", "blacklisted"),
    ("wrongful_share", "wrongfully blacklisted"),
    ("rewarded_share", "rewarded"),
)
NEGATIVE_ZERO = re.compile(r"-[0.,]+%?")  # "-0", "-0.0%": a value that rounds to zero
DIMENSION_LABELS = {
    "group": "Group",
    "income_q": "Income quintile",
    "occupation": "Occupation",
    "party_member": "Party membership",
}


def number(value: float | None, key: str = "") -> str:
    """A figure as text, in its catalogue format (shares in percent, scores with one decimal, counts
    with separators); a key outside the catalogue is shown as a count."""
    if value is None or not math.isfinite(value):
        return "n/a"
    metric = catalogue().get(key)
    shown = (metric.format if metric is not None else COUNT).format(value)
    return shown[1:] if NEGATIVE_ZERO.fullmatch(shown) else shown


def tooltip(key: str) -> str:
    """A figure's description from the catalogue, with its kind, unit and whether it scales (as docs/outputs.md)."""
    d = describe(key)
    when = "a stock, on the last day" if d["kind"] == "stock" else "a flow, summed over the run"
    scales = "scales to the real population" if d["scales"] else "does not scale"
    return f"{d['description']} ({when}; {d['unit']}; {scales})"


def headline_titles(data: RunData) -> list[str]:
    """The tooltip of each row of `headline_rows`."""
    return [tooltip(row.metric) for row in uncertainty.headline_rows(data.summary)]


HEADLINE_HEADER = ("figure", "simulated", "real population", "95% interval", "note")


def headline_rows(data: RunData) -> list[tuple[str, str, str, str, str]]:
    """(figure, simulated, estimate for the real population, its 95% interval, note) for each headline figure:
    counts at the precision their interval supports, small counts flagged (`uncertainty.headline_rows`)."""
    rows = []
    for row in uncertainty.headline_rows(data.summary):
        shown = row.figure if row.figure == row.figure.lstrip() else f"– {row.figure.strip()}"  # a sub-figure
        span = f"{row.low} to {row.high}" if row.low else ""
        rows.append((shown, row.simulated, row.estimate, span, row.note))
    return rows


def ratio(breakdowns: pd.DataFrame, dimension: str, num: str, den: str, share: str) -> dict[str, Any] | None:
    """Share of `num` over share of `den` within one dimension, with Katz's interval and its counts; None where
    undefined."""
    return uncertainty.disparity(breakdowns, dimension, num, den, share.removesuffix("_share"))


def ratio_text(entry: dict[str, Any] | None) -> str:
    """A ratio as "4.22× (1.61 to 11.1; 5 of 2,000 and 90 of 150,000)", with "few" when a count is below 30."""
    if entry is None:
        return "n/a"
    counts = "; ".join(f"{a:,.0f} of {n:,.0f}" for a, n in entry["counts"].values())
    if entry["interval"] is None:
        return f"{entry['value']:.2f}× (no interval: {counts})"
    low, high = entry["interval"]
    few = " few" if entry["small"] else ""
    return f"{entry['value']:.2f}× (95%: {low:.2f} to {high:.2f}; {counts}){few}"


def ratio_rows(data: RunData) -> list[tuple[str, ...]]:
    """(pair, blacklisted ratio, wrongful ratio, rewarded ratio) for each pair of RATIO_PAIRS, each with its
    Katz interval and the counts behind it."""
    rows = []
    for dimension, num, den in RATIO_PAIRS:
        values = [ratio(data.breakdowns, dimension, num, den, share) for share, _ in SHARES]
        rows.append((f"{num} / {den}", *(ratio_text(v) for v in values)))
    return rows


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested scenario data as (dotted key, value text) rows, in the scenario's order."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows += flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        rows = []
        for i, item in enumerate(value):
            rows += flatten(item, f"{prefix}[{i}]")
        return rows
    if isinstance(value, list):
        return [(prefix, "[" + ", ".join(_scalar(v) for v in value) + "]")]
    return [(prefix, _scalar(value))]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)


def parameter_rows(scenario: dict[str, Any]) -> list[tuple[str, str]]:
    """The resolved scenario as (key, value) rows in the schema's order; the description is in the page header."""
    order = {name: n for n, name in enumerate(ScenarioParams.model_fields)}
    ordered = dict(sorted(scenario.items(), key=lambda item: order.get(item[0], len(order))))
    return [(key, text) for key, text in flatten(ordered) if key != "description"]


def parameter_differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, value in A, value in B) for every key whose value differs between two scenarios."""
    left, right = dict(flatten(a)), dict(flatten(b))
    keys = list(left) + [k for k in right if k not in left]
    return [(k, left.get(k, "—"), right.get(k, "—")) for k in keys if left.get(k) != right.get(k)]
