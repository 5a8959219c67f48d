"""The experiments' report.html and the intervals over seeds they show (report/experiments.py)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scslab
from scslab.experiments import LocalExecutor, Options, Target, calibrate, ensemble, sensitivity, sweep
from scslab.intervals import quote, seeds_count_interval, t_interval
from scslab.report.experiments import EXPERIMENT_REPORT, indices_figure, interval_rows


@pytest.fixture(scope="module")
def sc() -> scslab.Scenario:
    return scslab.load_scenario("beijing-2020").with_overrides(
        {"population.size": 2_000, "days": 40, "blacklist.threshold": 790}
    )


def values_of(directory: Path, metric: str) -> list[float]:
    runs = sorted((directory / "runs").iterdir())
    return [json.loads((p / "summary.json").read_text())["figures"][metric]["value"] for p in runs]


def test_ensemble_intervals_are_over_seeds_and_never_below_zero(sc: scslab.Scenario, tmp_path: Path) -> None:
    res = ensemble(sc, 4, options=Options(LocalExecutor(0), tmp_path, "ens"))
    rows = res.intervals.set_index("metric")
    for metric in ("blacklisted", "appeals_won", "wrongful_share", "chilling_effect"):
        v = values_of(res.directory, metric)
        count = metric in ("blacklisted", "appeals_won")
        low, high = (seeds_count_interval if count else t_interval)(v)
        assert (rows.at[metric, "ci_low"], rows.at[metric, "ci_high"]) == pytest.approx((low, high), nan_ok=True)
        if count:
            assert rows.at[metric, "ci_low"] >= 0
            assert rows.at[metric, "ci_high_real"] == pytest.approx(high * res.scale)
    page = (res.directory / EXPERIMENT_REPORT).read_text(encoding="utf-8")
    r = rows.loc["blacklisted"]
    shown = quote(r["mean"] * res.scale, r["ci_low"] * res.scale, r["ci_high"] * res.scale)
    assert html.escape(shown) in page
    assert next(row[2] for row in interval_rows(res.intervals, res.scale)) == shown


def test_sweep_points_carry_their_intervals_over_seeds(sc: scslab.Scenario, tmp_path: Path) -> None:
    res = sweep(sc, ["events.criticism.points=-90:-10:40"], seeds=3, options=Options(LocalExecutor(0), tmp_path, "sw"))
    stored = pd.read_parquet(res.directory / "points.parquet")
    runs = sorted((res.directory / "runs").iterdir())
    figures = [json.loads((p / "summary.json").read_text()) for p in runs]
    tasks = [json.loads((p / "task.json").read_text()) for p in runs]
    for point in stored.itertuples(index=False):
        v = [f["figures"]["blacklisted"]["value"] for f, t in zip(figures, tasks, strict=True)
             if t["point"] == point.point]  # fmt: skip
        assert len(v) == 3
        assert (point.blacklisted_low, point.blacklisted_high) == pytest.approx(seeds_count_interval(v))
        assert point.blacklisted_low >= 0
    assert (res.directory / EXPERIMENT_REPORT).is_file()


def test_sensitivity_bars_carry_the_confidence(sc: scslab.Scenario, tmp_path: Path) -> None:
    res = sensitivity(sc, ["events.criticism.points=-90:-10", "sources.cameras.misattribution=0:0.1"],
                      method="morris", n=2, options=Options(LocalExecutor(0), tmp_path, "se"))  # fmt: skip
    fig = indices_figure(res.indices, "morris")
    shown = [m for m in dict.fromkeys(res.indices["metric"])
             if res.indices.loc[res.indices["metric"] == m].iloc[:, 2:].notna().any(axis=None)]  # fmt: skip
    assert shown  # some metric varied over the design
    part = res.indices[res.indices["metric"] == shown[0]]
    first = next(t for t in fig.data if t.name == "mu_star")  # the first panel's bars
    np.testing.assert_allclose(np.asarray(first.y, dtype=float), part["mu_star"].fillna(0))
    np.testing.assert_allclose(np.asarray(first.error_y.array, dtype=float), part["mu_star_conf"].fillna(0))
    assert "mu*" in (res.directory / EXPERIMENT_REPORT).read_text(encoding="utf-8")


def test_calibration_page_shows_trials_and_fit(sc: scslab.Scenario, tmp_path: Path) -> None:
    res = calibrate(sc, [Target(metric="blacklisted", value=20, tolerance=5)], ["blacklist.threshold=770:795"],
                    trials=4, options=Options(LocalExecutor(0), tmp_path, "ca"))  # fmt: skip
    page = (res.directory / EXPERIMENT_REPORT).read_text(encoding="utf-8")
    assert f"4 trials; the best has loss {res.best_loss:.4g}." in page
    assert f"{res.best['blacklist.threshold']:.6g}" in page
