"""scslab compare: per-seed differences, their t interval, common random numbers, and the page."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import scslab
from runkit import cli
from scslab.errors import ScenarioError
from scslab.experiments.comparison import compare, prepare
from scslab.intervals import t_interval as interval
from scslab.report import COMPARE_FILE, compare_html

TINY = {"population.size": 3000, "days": 30}


@functools.cache
def crn_available() -> bool:
    """Whether the engine runs `crn = true` yet (it refuses it with a ScenarioError until then)."""
    probe = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 100, "days": 1, "crn": True})
    try:
        scslab.simulate(probe, seed=1)
    except ScenarioError:
        return False
    return True


needs_crn = pytest.mark.skipif(not crn_available(), reason="the engine does not run crn = true yet (docs/model.md 9)")


def base() -> scslab.Scenario:
    return scslab.load_scenario("beijing-2020").with_overrides(TINY)


def test_interval_is_the_t_interval() -> None:
    values = np.array([3.0, -1.0, 4.0, 1.5, 9.0, 2.0])
    low, high = interval(values)
    expected = stats.t.interval(0.95, df=values.size - 1, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected, rel=1e-12)
    assert all(math.isnan(v) for v in interval(np.array([2.0])))


def test_prepare_sets_crn_and_overrides_on_both() -> None:
    for crn in (True, False):
        sc = prepare("beijing-2020", {"days": 12}, crn)
        assert sc.params.crn is crn and sc.params.days == 12


def test_differences_are_per_seed_pairs() -> None:
    """B - A of each seed, and the table's mean and interval, come from the pairs of runs."""
    a = base()
    b = a.with_overrides({"events.criticism.rate": 3 * a.params.events["criticism"].rate})
    c = compare(a, b, seeds=3, crn=False, first_seed=5)
    assert c.seeds == (5, 6, 7) and len(c.figures) == 6
    for seed in c.seeds:
        one = {s: scslab.simulate(sc, seed=seed).figures for s, sc in (("A", c.a), ("B", c.b))}
        expected = one["B"]["political_events"] - one["A"]["political_events"]
        assert c.differences().loc[seed, "political_events"] == expected
    row = c.table().set_index("key").loc["political_events"]
    diffs = c.differences()["political_events"].to_numpy()
    assert row["difference"] == pytest.approx(diffs.mean())
    assert (row["low"], row["high"]) == pytest.approx(interval(diffs))
    assert row["difference"] > 0  # three times the rate of criticism: more political events in every seed
    assert set(c.timeseries["side"]) == {"A", "B"} and len(c.timeseries) == 2 * 3 * 30


@needs_crn
def test_crn_self_comparison_is_exactly_zero() -> None:
    c = compare(base(), "beijing-2020", seeds=3, overrides=TINY, crn=True)
    assert c.a.params.crn and c.b.params.crn
    assert (c.differences().to_numpy() == 0).all()
    table = c.table()
    assert (table["difference"] == 0).all() and (table["low"] == 0).all() and (table["high"] == 0).all()
    a, b = (c.timeseries[c.timeseries["side"] == s].drop(columns="side").reset_index(drop=True) for s in "AB")
    pd.testing.assert_frame_equal(a, b)


@needs_crn
def test_crn_shrinks_the_spread_of_a_small_change() -> None:
    """5% more jaywalking: with CRN the per-seed differences barely vary; with independent draws they do."""
    a = base()
    b = a.with_overrides({"events.jaywalking.rate": 1.05 * a.params.events["jaywalking"].rate})
    spread = {crn: compare(a, b, seeds=6, crn=crn).differences()["score_mean"].std(ddof=1) for crn in (True, False)}
    assert spread[False] > 0
    assert spread[True] < 0.1 * spread[False], spread


def test_compare_cli_writes_page_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    res = cli(
        "compare",
        "beijing-2020",
        "beijing-2020",
        "--seeds",
        "2",
        "--set",
        "population.size=3000",
        "--set",
        "days=30",
        "--no-crn",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert {p.name for p in out.iterdir()} == {COMPARE_FILE, "compare.parquet"}
    figures = pd.read_parquet(out / "compare.parquet")
    assert sorted(zip(figures["side"], figures["seed"], strict=True)) == [("A", 1), ("A", 2), ("B", 1), ("B", 2)]
    page = (out / COMPARE_FILE).read_text(encoding="utf-8")
    assert "B − A" in page and "The two scenarios are identical." in page and 'class="scs-figure"' in page
    assert "Political events" in res.stdout


def test_compare_page_lists_what_differs_escaped() -> None:
    a = base()
    b = a.with_overrides({"description": "<b>harsher</b>", "events.criticism.points": -80})
    c = compare(a, b, seeds=1, crn=False)
    page = compare_html(c)
    assert "events.criticism.points" in page and "&lt;b&gt;harsher&lt;/b&gt;" in page and "<b>harsher" not in page
    assert "n/a" in page  # one seed: no interval


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["beijing-2020", "no-such-preset"], "no-such-preset"),
        (["beijing-2020", "beijing-2020", "--set", "population.size=-4"], "population.size"),
        (["beijing-2020", "beijing-2020", "--seeds", "0"], "--seeds: 0"),
        (["beijing-2020", "beijing-2020", "--seed", "-1"], "--seed"),
    ],
)
def test_compare_bad_input_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    res = cli("compare", *args, "--out", str(tmp_path / "cmp"), cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr, res.stderr
    assert list(tmp_path.iterdir()) == []
