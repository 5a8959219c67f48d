"""The figures block of summary.json: each figure with its interval, the count behind it and its catalogue row;
the wrongful listings counted from the listing log; the chilling effect against the baseline (docs/uncertainty.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scslab.intervals import FEW, LEVEL, binomial, katz, paired_ratio, parts, poisson, quote
from scslab.model.catalogue import SHARE
from scslab.model.metrics import catalogue

if TYPE_CHECKING:
    from scslab.scenario import ScenarioParams

GARWOOD = "exact Poisson (Garwood) interval of the simulated count, scaled"
CLOPPER_PEARSON = "exact binomial (Clopper-Pearson) interval of the simulated share"
MEAN = "normal interval of the mean over citizens (sd / sqrt(n))"
RATIO = ("normal interval of the ratio of the two runs' counts over the window, its variance from the daily pairs' "
         "residuals times the measured design effect {deff}")
# The daily pairs' variance over the variance over seeds: 1.23 measured over 60 seeds (bench/README.md), rounded up
# for the measurement's own error.
CHILLING_DESIGN_EFFECT = 1.5
KATZ = "Katz log interval of the ratio of two shares"
BURN_IN_LEFT = 0.01  # the baseline's initial perceived risk decayed to this share of rho0
RESTS_ON = {"wrongful_listing_days": "ever_wrongfully_listed"}  # a figure whose count behind it is another figure


def figure_values(summary: Mapping[str, Any]) -> dict[str, float]:
    """Each figure's value, as a flat mapping (the summary's figures block holds more)."""
    return {k: float(v["value"]) for k, v in summary["figures"].items()}


def wrongful_totals(listings: pa.Table, days: int) -> dict[str, int]:
    """From the listing log: people wrongfully listed at the end of at least one day, wrongful listing-days
    (equal to the sum over days of `blacklisted_wrongful`), and appeals won by listings wrongful when they ended."""
    citizen = listings.column("citizen").to_numpy()
    entry = listings.column("entry_day").to_numpy().astype(np.int64)
    exit_day = listings.column("exit_day").to_numpy(zero_copy_only=False)
    end = np.where(pd.isna(exit_day), days, exit_day).astype(np.int64)
    w0 = listings.column("wrongful_at_entry").to_numpy(zero_copy_only=False).astype(bool)
    changes = listings.column("wrongful_changes").combine_chunks()
    if isinstance(changes, pa.ChunkedArray):  # an empty table
        changes = pa.array([], type=pa.list_(pa.int32())) if changes.num_chunks == 0 else changes.chunk(0)
    offsets = changes.offsets.to_numpy().astype(np.int64)
    flat = changes.values.to_numpy().astype(np.int64)
    k = offsets[1:] - offsets[:-1]
    episode = np.repeat(np.arange(len(k)), k)
    rank = np.arange(flat.size) - offsets[:-1][episode]  # 0 for an episode's first change
    # Segments of constant status: [entry, c1), [c1, c2), ..., [ck, end); the i-th is wrongful if w0 xor (i odd).
    starts = np.concatenate([entry, flat])
    owner = np.concatenate([np.arange(len(k)), episode])
    index = np.concatenate([np.zeros(len(k), dtype=np.int64), rank + 1])
    order = np.lexsort((index, owner))
    starts, owner, index = starts[order], owner[order], index[order]
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    last = np.r_[owner[1:] != owner[:-1], True] if starts.size else np.zeros(0, dtype=bool)
    ends[last] = end[owner[last]]
    status = w0[owner] ^ (index % 2 == 1)
    length = np.clip(ends - starts, 0, None)
    wrongful_days = length * status
    per_episode = np.bincount(owner, weights=wrongful_days, minlength=len(k))
    appealed = pc.fill_null(pc.equal(listings.column("exit_reason").cast(pa.string()), "appeal_won"), False)
    wrongful_exit = pc.fill_null(listings.column("wrongful_at_exit"), False)
    appeals = int(pc.sum(pc.and_(appealed, wrongful_exit)).as_py() or 0)
    return {  # counts: integers, as in summary.json
        "ever_wrongfully_listed": int(np.unique(citizen[per_episode > 0]).size),
        "wrongful_listing_days": int(per_episode.sum()),
        "appeals_won_wrongful": appeals,
    }


def burn_in(params: ScenarioParams) -> int:
    """The first day of the chilling effect's window: when the baseline's initial perceived risk has decayed to
    BURN_IN_LEFT of rho0, at most half the run (the whole run with rho0 = 0)."""
    fb = params.feedback
    if fb.rho0 <= 0:
        return 0
    if fb.eta <= 0:
        return params.days // 2
    return min(params.days // 2, math.ceil(math.log(BURN_IN_LEFT) / math.log(1 - fb.eta)))


def chilling(
    timeseries: pd.DataFrame, baseline: pd.DataFrame, params: ScenarioParams
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chilling effect: the share of political events that surveillance suppressed, over the window from
    `burn_in` to the end, 1 - (events in the run) / (events in the baseline), with its interval; and the count."""
    first = burn_in(params)
    run_days = timeseries["political_events"].to_numpy(dtype=np.float64)[first:]
    base_days = baseline["political_events"].to_numpy(dtype=np.float64)[first:]
    a, b = float(run_days.sum()), float(base_days.sum())
    window = [first, len(timeseries) - 1]
    r = paired_ratio(run_days, base_days, design_effect=CHILLING_DESIGN_EFFECT)
    if r is None:
        share: dict[str, Any] = {"value": 0.0, "interval": None}
        suppressed: dict[str, Any] = {"value": b - a, "interval": None}
    else:
        ratio, low, high = r
        share = {"value": 1 - ratio, "interval": [1 - high, 1 - low]}
        suppressed = {"value": b - a, "interval": [b * (1 - high), b * (1 - low)]}
    method = RATIO.format(deff=CHILLING_DESIGN_EFFECT)
    common = {"window": window, "count": min(a, b), "method": method, "run_events": a, "baseline_events": b}
    return share | common | {"name": "chilling_effect"}, suppressed | common | {"name": "political_events_suppressed"}


def _row(name: str, value: float, interval: list[float] | None, method: str, count: float | None) -> dict[str, Any]:
    m = catalogue().get(name)
    entry: dict[str, Any] = {"value": value, "interval": interval, "level": LEVEL, "method": method, "count": count,
                             "small": count is not None and count < FEW}  # fmt: skip
    if m is not None:
        entry |= {"kind": m.kind, "scales": m.scales, "unit": m.unit, "label": m.label.strip(),
                  "description": m.description}  # fmt: skip
    return entry


def figures_block(values: Mapping[str, float], score: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """Every figure with its 95% interval in simulated units (None where the model gives none), the method, the
    simulated count it rests on, whether that count is small, and its catalogue row."""
    metrics = catalogue()
    out: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        m = metrics.get(name)
        if m is not None and m.scales:
            low, high = poisson(value, dispersion=m.dispersion)
            method = GARWOOD if m.dispersion == 1 else f"{GARWOOD}, widened by the measured dispersion {m.dispersion}"
            # What the figure rests on: the simulated count itself, or, for listing-days, the people behind them.
            rests_on = values.get(RESTS_ON.get(name, ""), value)
            out[name] = _row(name, value, [low, high], method, rests_on)
        elif name == "wrongful_share":
            k, n = values.get("blacklisted_wrongful", 0.0), values.get("blacklisted", 0.0)
            out[name] = _row(name, value, list(binomial(k, n)), CLOPPER_PEARSON, k)
        elif name == "score_mean" and score is not None and score.size > 1:
            half = 1.959963984540054 * float(score.std(ddof=1)) / math.sqrt(score.size)
            out[name] = _row(name, value, [value - half, value + half], MEAN, float(score.size))
        else:
            out[name] = _row(name, value, None, "none", None)
    return out


def add_chilling(summary: dict[str, Any], timeseries: pd.DataFrame, baseline: pd.DataFrame,
                 params: ScenarioParams) -> dict[str, Any]:  # fmt: skip
    """`summary` with the chilling effect and the political events suppressed among its figures."""
    scale = float(summary["scale"])
    for entry in chilling(timeseries, baseline, params):
        name = entry.pop("name")
        summary["figures"][name] = _row(name, entry.pop("value"), entry.pop("interval"), entry.pop("method"),
                                        entry.pop("count")) | entry  # fmt: skip
        if catalogue()[name].scales:
            summary["scaled"][name] = summary["figures"][name]["value"] * scale
    return summary


def disparity(b: pd.DataFrame, dimension: str, num: str, den: str, column: str) -> dict[str, Any] | None:
    """The ratio of the share of `num` over that of `den` in a column of the breakdowns, with Katz's interval and
    the counts behind it; None where a value is missing or the second share is 0."""
    rows = b[b["dimension"] == dimension].set_index("value")
    if num not in rows.index or den not in rows.index or rows.at[den, column] == 0:
        return None
    a, n1, c, n2 = (float(rows.at[v, k]) for v in (num, den) for k in (column, "citizens"))
    k = katz(a, n1, c, n2)
    ratio = (a / n1) / (c / n2)
    return {"value": ratio, "interval": None if k is None else [k[1], k[2]], "method": KATZ,
            "counts": {num: [a, n1], den: [c, n2]}, "count": min(a, c), "small": min(a, c) < FEW}  # fmt: skip


def quoted(entry: Mapping[str, Any], scale: float = 1.0) -> str:
    """A figure of the block as text: its value and interval (scaled if it scales), at their precision."""
    value = float(entry["value"])
    share = entry.get("unit") == "share"
    factor = scale if entry.get("scales") else 1.0
    if entry.get("interval") is None:
        fmt = SHARE if share else "{:,.1f}"
        return fmt.format(value)
    low, high = (float(x) * factor for x in entry["interval"])
    return quote(value * factor, low, high, share=share, integer=bool(entry.get("scales")))


@dataclass(frozen=True)
class HeadlineRow:
    """One headline figure as text: simulated value, estimate for the real population, its 95% interval, a note."""

    metric: str
    figure: str  # a label with leading spaces is a sub-figure of the row above
    simulated: str
    estimate: str
    low: str
    high: str
    note: str  # "few" where the figure rests on fewer than FEW simulated people or events
    sentence: str  # "about 6,900 (95% interval 5,400 to 8,700)"


def headline_rows(summary: Mapping[str, Any]) -> list[HeadlineRow]:
    """The headline figures of a run's summary, in the catalogue's order, each with its interval at the precision
    the interval supports (scaled to the real population where the figure scales)."""
    figures, scale = summary["figures"], float(summary["scale"])
    rows = []
    for m in catalogue().headline():
        entry = figures.get(m.name)
        if entry is None:
            continue
        value = float(entry["value"])
        simulated = m.format.format(value) if m.scales else ""
        share = m.unit == "share"
        factor = scale if m.scales else 1.0
        if entry.get("interval") is None:
            est, low, high = m.format.format(value * factor), "", ""
            sentence = est
        else:
            lo, hi = (float(x) * factor for x in entry["interval"])
            est, low, high = parts(value * factor, lo, hi, share=share, integer=m.scales)
            sentence = quote(value * factor, lo, hi, share=share, integer=m.scales)
            if m.scales and sentence.startswith("about "):
                est = f"about {est}"
        note = "few" if entry.get("small") else ""
        rows.append(HeadlineRow(m.name, m.label, simulated, est, low, high, note, sentence))
    return rows
