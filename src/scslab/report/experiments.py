"""The HTML pages of experiments, written beside their Parquet files: an ensemble's bands and intervals, a sweep's
response curves, a sensitivity analysis's indices, a calibration's trials and fit (report.html in each folder).

Only formatting: the experiments (scslab.experiments) ran the runs and computed the tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from scslab.atomic import write_text
from scslab.intervals import parts, quote, seeds_count_interval, t_interval
from scslab.model.metrics import catalogue
from scslab.report.figures import esc, styled
from scslab.report.html import Section, page, table
from scslab.version import __version__

EXPERIMENT_REPORT = "report.html"
LINE = "#2980b9"
BAND = "rgba(41, 128, 185, 0.2)"
SECOND = "#c0392b"
FOOTER = f"scslab {__version__}. Synthetic populations: no real person's records were used."


def _label(metric: str) -> str:
    m = catalogue().get(metric)
    return metric if m is None else m.label.strip().replace("{", "").replace("}", "")


def _is_count(metric: str) -> bool:
    m = catalogue().get(metric)
    return m is not None and m.scales


def _is_share(metric: str) -> bool:
    m = catalogue().get(metric)
    return m is not None and m.unit == "share"


def _grid(n: int, cols: int = 2) -> tuple[int, int]:
    return max(1, math.ceil(n / cols)), min(cols, max(1, n))


def _write(directory: Path, text: str) -> Path:
    return write_text(Path(directory) / EXPERIMENT_REPORT, text)


# --- ensembles ---------------------------------------------------------------------------------------------------


def interval_rows(intervals: pd.DataFrame, scale: float) -> list[tuple[str, ...]]:
    """(figure, runs, mean with its 95% interval over seeds, scaled to the real population where it counts, 10-90%
    of the seeds) for each metric of an ensemble."""
    rows: list[tuple[str, ...]] = []
    for r in intervals.itertuples(index=False):
        metric = str(r.metric)
        share = _is_share(metric)
        count = _is_count(metric)
        factor = scale if count else 1.0
        if r.runs < 2 or not math.isfinite(r.ci_low):
            shown = "n/a" if not math.isfinite(r.mean) else f"{r.mean * factor:,.4g} (one run: no interval)"
        else:
            shown = quote(r.mean * factor, r.ci_low * factor, r.ci_high * factor, share=share, integer=count)
        spread = ""
        if math.isfinite(r.p10):
            _, low, high = parts(r.mean * factor, r.p10 * factor, r.p90 * factor, share=share, integer=count)
            spread = f"{low} to {high}"
        rows.append((_label(metric), f"{r.runs:,}", shown, spread))
    return rows


def bands_figure(bands: pd.DataFrame, metrics: Sequence[str]) -> go.Figure:
    """Each metric's daily median over the seeds with the band where 80% of them lie (10th to 90th percentile)."""
    present = [m for m in metrics if m in set(bands["metric"])]
    rows, cols = _grid(len(present))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[esc(_label(m)) for m in present],
                        vertical_spacing=0.3 / rows, horizontal_spacing=0.08)  # fmt: skip
    for n, metric in enumerate(present):
        part = bands[bands["metric"] == metric].sort_values("day")
        row, col = n // cols + 1, n % cols + 1
        fig.add_scatter(x=part["day"], y=part["p90"], mode="lines", line={"width": 0}, showlegend=False,
                        name="90th percentile", legendgroup="band", row=row, col=col)  # fmt: skip
        fig.add_scatter(x=part["day"], y=part["p10"], mode="lines", line={"width": 0}, fill="tonexty",
                        fillcolor=BAND, name="10-90% of the seeds", legendgroup="band", showlegend=n == 0,
                        row=row, col=col)  # fmt: skip
        fig.add_scatter(x=part["day"], y=part["p50"], mode="lines", line={"color": LINE, "width": 2},
                        name="median over the seeds", legendgroup="median", showlegend=n == 0, row=row, col=col)
    fig.update_xaxes(title_text="day")
    return styled(fig, "Daily bands over the seeds", height=max(360, 280 * rows), hovermode="closest",
                  margin={"l": 60, "r": 20, "t": 90, "b": 60})  # fmt: skip


def means_figure(intervals: pd.DataFrame, scale: float) -> go.Figure:
    """Each metric's mean over the seeds with its 95% interval, one small panel each (their units differ)."""
    rows_ = [r for r in intervals.itertuples(index=False) if math.isfinite(r.mean)]
    rows, cols = _grid(len(rows_), 4)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[esc(_label(str(r.metric))) for r in rows_],
                        vertical_spacing=0.35 / rows, horizontal_spacing=0.1)  # fmt: skip
    for n, r in enumerate(rows_):
        factor = scale if _is_count(str(r.metric)) else 1.0
        low = r.ci_low if math.isfinite(r.ci_low) else r.mean
        high = r.ci_high if math.isfinite(r.ci_high) else r.mean
        fig.add_scatter(
            x=["mean"], y=[r.mean * factor], mode="markers", marker={"color": LINE, "size": 9},
            error_y={"type": "data", "symmetric": False, "array": [(high - r.mean) * factor],
                     "arrayminus": [(r.mean - low) * factor]},
            name="mean, 95% interval", showlegend=n == 0, legendgroup="mean", row=n // cols + 1, col=n % cols + 1,
        )  # fmt: skip
    return styled(fig, "Means over the seeds with their 95% intervals (counts scaled to the real population)",
                  height=max(300, 230 * rows), hovermode="closest",
                  margin={"l": 60, "r": 20, "t": 90, "b": 40})  # fmt: skip


def ensemble_html(experiment_id: str, scenario: str, runs: int, bands: pd.DataFrame, intervals: pd.DataFrame,
                  scale: float, metrics: Sequence[str]) -> str:  # fmt: skip
    """An ensemble's page: the metrics' intervals over seeds, their means, and the daily bands."""
    sections = [
        Section("Figures over the seeds",
                f"Each figure's mean over {runs} runs (seeds) with its 95% interval over seeds (for counts, the t "
                f"interval of the square roots squared back, never below 0), at the precision the interval "
                f"supports; counts are scaled by {scale:,.1f} to the real population. The last column is where "
                f"80% of the seeds lie.",
                html=table(("figure", "runs", "mean (95% interval)", "10-90% of the seeds"),
                           interval_rows(intervals, scale))),
        Section("Means", "The same means and intervals, drawn.", means_figure(intervals, scale)),
        Section("Over time", "The daily median over the seeds and the band where 80% of them lie.",
                bands_figure(bands, [m for m in metrics if m in set(bands["metric"])])),
    ]  # fmt: skip
    meta = [("experiment", experiment_id), ("scenario", scenario), ("runs", runs), ("scslab", __version__)]
    return page(f"scslab ensemble: {scenario}", "", meta, sections, FOOTER)


def write_ensemble_report(directory: Path, *args: Any) -> Path:
    """Write an ensemble's report.html (arguments of `ensemble_html`)."""
    return _write(directory, ensemble_html(*args))


# --- sweeps ------------------------------------------------------------------------------------------------------


def point_intervals(values: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Each metric's 95% interval over the replicate seeds at each point (points x 2; NaN with one seed)."""
    out = {}
    for m, metric in enumerate(metrics):
        rows = []
        for point in values[:, :, m]:
            v = [float(x) for x in point if math.isfinite(x)]
            count = _is_count(metric) and all(x >= 0 for x in v)
            rows.append((seeds_count_interval if count else t_interval)(v))
        out[metric] = np.asarray(rows, dtype=float).reshape(len(values), 2)
    return out


def response_figure(points: pd.DataFrame, params: Sequence[str], metrics: Sequence[str],
                    spans: dict[str, np.ndarray]) -> go.Figure:  # fmt: skip
    """Each metric (rows) against each parameter (columns): the mean over seeds at each point, with its interval."""
    rows, cols = len(metrics), len(params)
    titles = [esc(f"{_label(m)} against {p}") for m in metrics for p in params]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.3 / max(rows, 1),
                        horizontal_spacing=0.08)  # fmt: skip
    for i, metric in enumerate(metrics):
        span = spans[metric]
        mean = points[metric].to_numpy(dtype=float)
        has = np.isfinite(span).all(axis=1)
        for j, param in enumerate(params):
            order = np.argsort(points[param].to_numpy(dtype=float), kind="stable")
            error = None
            if has.any():
                error = {"type": "data", "symmetric": False, "array": np.where(has, span[:, 1] - mean, 0)[order],
                         "arrayminus": np.where(has, mean - span[:, 0], 0)[order]}  # fmt: skip
            fig.add_scatter(x=points[param].to_numpy()[order], y=mean[order], mode="markers+lines",
                            line={"color": LINE, "width": 1}, marker={"size": 7}, error_y=error,
                            name="mean over seeds, 95% interval", showlegend=i == 0 and j == 0, legendgroup="mean",
                            row=i + 1, col=j + 1)  # fmt: skip
            fig.update_xaxes(title_text=esc(param), row=i + 1, col=j + 1)
    return styled(fig, "Response curves: each metric against each parameter", height=max(360, 260 * rows),
                  hovermode="closest", margin={"l": 60, "r": 20, "t": 90, "b": 60})  # fmt: skip


def sweep_html(experiment_id: str, scenario: str, seeds: int, points: pd.DataFrame, correlations: pd.DataFrame,
               params: Sequence[str], metrics: Sequence[str], spans: dict[str, np.ndarray]) -> str:  # fmt: skip
    """A sweep's page: response curves with intervals over seeds, and the rank correlations."""
    interval = ("95% interval over the point's seeds (for counts never below 0)" if seeds > 1
                else "one seed per point: no interval (run with --seeds 2 or more)")  # fmt: skip
    corr_rows = [(_label(str(r["metric"])), *(f"{r[p]:+.2f}" if math.isfinite(r[p]) else "n/a" for p in params))
                 for _, r in correlations.iterrows()]  # fmt: skip
    sections = [
        Section("Response curves", f"The mean over {seeds} seed(s) at each design point, with its {interval}.",
                response_figure(points, params, metrics, spans)),
        Section("Rank correlations", "Spearman's rank correlation of each metric's mean with each parameter over "
                "the points (n/a where either does not vary).", html=table(("metric", *params), corr_rows)),
    ]  # fmt: skip
    meta = [("experiment", experiment_id), ("scenario", scenario), ("points", len(points)), ("seeds", seeds),
            ("scslab", __version__)]  # fmt: skip
    return page(f"scslab sweep: {scenario}", "", meta, sections, FOOTER)


def write_sweep_report(directory: Path, *args: Any) -> Path:
    """Write a sweep's report.html (arguments of `sweep_html`)."""
    return _write(directory, sweep_html(*args))


# --- sensitivity -------------------------------------------------------------------------------------------------


def indices_figure(indices: pd.DataFrame, method: str) -> go.Figure:
    """Per metric, one bar per parameter and index (Sobol S1 and ST, or Morris mu* and sigma), with the 95%
    confidence half-widths as error bars."""
    metrics = list(dict.fromkeys(indices["metric"]))
    shown = [m for m in metrics if indices.loc[indices["metric"] == m].iloc[:, 2:].notna().any(axis=None)]
    rows, cols = _grid(len(shown))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[esc(_label(m)) for m in shown],
                        vertical_spacing=0.35 / rows, horizontal_spacing=0.08)  # fmt: skip
    bars = (("S1", "S1_conf", LINE), ("ST", "ST_conf", SECOND)) if method == "sobol" else (
        ("mu_star", "mu_star_conf", LINE), ("sigma", None, SECOND))  # fmt: skip
    for n, metric in enumerate(shown):
        part = indices[indices["metric"] == metric]
        for name, conf, colour in bars:
            error = None if conf is None else {"type": "data", "array": part[conf].fillna(0).to_numpy()}
            fig.add_bar(x=[esc(p) for p in part["parameter"]], y=part[name].fillna(0), name=name,
                        marker_color=colour, error_y=error, legendgroup=name, showlegend=n == 0,
                        row=n // cols + 1, col=n % cols + 1)  # fmt: skip
    title = ("Sobol indices: first order (S1) and total (ST), with 95% confidence" if method == "sobol"
             else "Morris screening: mu* with its 95% confidence, and sigma")  # fmt: skip
    return styled(fig, title, height=max(360, 300 * rows), barmode="group", hovermode="closest",
                  margin={"l": 60, "r": 20, "t": 90, "b": 60})  # fmt: skip


def sensitivity_html(experiment_id: str, scenario: str, method: str, runs: int, indices: pd.DataFrame) -> str:
    """A sensitivity analysis's page: the indices drawn with their confidence, and as a table."""
    columns = [c for c in indices.columns if c not in ("metric", "parameter")]
    rows = [(_label(str(r["metric"])), str(r["parameter"]),
             *(f"{r[c]:.3f}" if math.isfinite(r[c]) else "n/a" for c in columns)) for _, r in indices.iterrows()]
    what = ("S1: the share of a metric's variance due to the parameter alone; ST: with its interactions. "
            "A *_conf column is the 95% confidence half-width (bootstrap)." if method == "sobol" else
            "mu*: the mean absolute elementary effect (a parameter's total influence); sigma: its spread "
            "(interactions, non-linearity); mu*_conf: the 95% confidence half-width of mu*.")  # fmt: skip
    sections = [
        Section("Indices", what + " A metric that did not vary is left out.", indices_figure(indices, method)),
        Section("Table", "Every index, n/a where the metric did not vary.",
                html=table(("metric", "parameter", *columns), rows, numeric_from=2)),
    ]  # fmt: skip
    meta = [("experiment", experiment_id), ("scenario", scenario), ("method", method), ("runs", runs),
            ("scslab", __version__)]  # fmt: skip
    return page(f"scslab sensitivity: {scenario}", "", meta, sections, FOOTER)


def write_sensitivity_report(directory: Path, *args: Any) -> Path:
    """Write a sensitivity analysis's report.html (arguments of `sensitivity_html`)."""
    return _write(directory, sensitivity_html(*args))


# --- calibration -------------------------------------------------------------------------------------------------


def trials_figure(trials: pd.DataFrame, params: Sequence[str]) -> go.Figure:
    """The loss of every trial and the best so far (left); each fitted parameter against the loss (right)."""
    fig = make_subplots(rows=1, cols=1 + len(params), subplot_titles=["loss by trial",
                        *(esc(f"loss against {p}") for p in params)], horizontal_spacing=0.06)  # fmt: skip
    ordered = trials.sort_values("trial")
    loss = ordered["loss"].to_numpy(dtype=float)
    fig.add_scatter(x=ordered["trial"], y=loss, mode="markers", marker={"color": LINE, "size": 6}, name="trial",
                    row=1, col=1)  # fmt: skip
    fig.add_scatter(x=ordered["trial"], y=np.minimum.accumulate(loss), mode="lines",
                    line={"color": SECOND, "width": 2, "shape": "hv"}, name="best so far", row=1, col=1)
    for j, p in enumerate(params, start=2):
        fig.add_scatter(x=ordered[p], y=loss, mode="markers", marker={"color": LINE, "size": 6}, showlegend=False,
                        name=esc(p), row=1, col=j)  # fmt: skip
        fig.update_xaxes(title_text=esc(p), row=1, col=j)
    fig.update_yaxes(type="log" if (loss > 0).all() else "linear")
    return styled(fig, "Trials: the loss (sum of squared misses in tolerances)", height=420, hovermode="closest",
                  margin={"l": 60, "r": 20, "t": 90, "b": 60})  # fmt: skip


def fit_figure(targets: pd.DataFrame) -> go.Figure:
    """Each target with its tolerance, and the best trial's simulated figure."""
    labels = [esc(t) for t in targets["target"]]
    fig = go.Figure()
    fig.add_scatter(x=labels, y=targets["value"], mode="markers", marker={"symbol": "line-ew-open", "size": 24,
                    "color": SECOND}, error_y={"type": "data", "array": targets["tolerance"]},
                    name="target ± tolerance")  # fmt: skip
    fig.add_scatter(x=labels, y=targets["simulated"], mode="markers", marker={"color": LINE, "size": 10},
                    name="simulated at the best trial")
    return styled(fig, "Fit: each target against the best trial", height=420, hovermode="closest")


def calibration_html(experiment_id: str, scenario: str, trials: pd.DataFrame, targets: pd.DataFrame,
                     best: dict[str, float], best_loss: float) -> str:  # fmt: skip
    """A calibration's page: the trials, the fit at the best trial, and the fitted parameters."""
    params = list(best)
    fit_rows = [(str(r["target"]), str(r["metric"]), f"{r['value']:,.4g}", f"{r['tolerance']:,.4g}",
                 f"{r['simulated']:,.4g}", f"{r['z']:+.2f}") for _, r in targets.iterrows()]  # fmt: skip
    sections = [
        Section("Trials", f"{len(trials)} trials; the best has loss {best_loss:.4g}.", trials_figure(trials, params)),
        Section("Fit", "Each target (with its tolerance) and the figure simulated at the best trial; z is the miss "
                "in tolerances.", fit_figure(targets),
                table(("target", "metric", "target value", "tolerance", "simulated", "z"), fit_rows, numeric_from=2)),
        Section("Fitted parameters", "The best trial's parameters, as written to the fitted scenario.",
                html=table(("parameter", "value"), [(k, f"{v:.6g}") for k, v in best.items()])),
    ]  # fmt: skip
    meta = [("experiment", experiment_id), ("scenario", scenario), ("trials", len(trials)), ("scslab", __version__)]
    return page(f"scslab calibrate: {scenario}", "", meta, sections, FOOTER)


def write_calibration_report(directory: Path, *args: Any) -> Path:
    """Write a calibration's report.html (arguments of `calibration_html`)."""
    return _write(directory, calibration_html(*args))
