"""The figures block (uncertainty.py): wrongful listings counted from listings.parquet, each figure's interval and
the count behind it, disparities with Katz intervals, and the chilling effect against a baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import scslab
from scslab.intervals import FEW, binomial, katz, paired_ratio, poisson
from scslab.model.metrics import catalogue
from scslab.results import Result
from scslab.uncertainty import (
    CHILLING_DESIGN_EFFECT,
    add_chilling,
    burn_in,
    chilling,
    figure_values,
    headline_rows,
    wrongful_totals,
)
from test_listings import BUSY  # listings of every cause, terms, recovery and appeals, many appeals won


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    result = scslab.simulate(scslab.load_scenario("beijing-2020").with_overrides(BUSY), seed=3)
    return result, result.save(tmp_path_factory.mktemp("busy") / "run")


def by_hand(listings: pd.DataFrame, days: int) -> dict[str, float]:
    """The three wrongful figures, one episode and one day at a time (docs/model.md, "The listing log")."""
    people, listing_days, appeals = set(), 0, 0
    for row in listings.itertuples(index=False):
        end = days if pd.isna(row.exit_day) else int(row.exit_day)
        changes = list(row.wrongful_changes)
        wrongful_days = 0
        for d in range(int(row.entry_day), end):
            flips = sum(1 for c in changes if c <= d)
            wrongful_days += bool(row.wrongful_at_entry) ^ (flips % 2 == 1)
        if wrongful_days:
            people.add(int(row.citizen))
        listing_days += wrongful_days
        appeals += row.exit_reason == "appeal_won" and bool(row.wrongful_at_exit)
    return {"ever_wrongfully_listed": len(people), "wrongful_listing_days": listing_days,
            "appeals_won_wrongful": appeals}  # fmt: skip


def test_wrongful_listings_are_counted_from_the_listing_log(busy: tuple[Result, Path]) -> None:
    result, run_dir = busy
    listings = pd.read_parquet(run_dir / "listings.parquet")
    days = result.scenario.params.days
    expected = by_hand(listings, days)
    f = result.figures
    assert {k: f[k] for k in expected} == expected
    assert wrongful_totals(pq.read_table(run_dir / "listings.parquet"), days) == expected
    # the listing-days are the daily stock summed over days; the people are at least the stock on any day
    ts = result.timeseries
    assert f["wrongful_listing_days"] == ts["blacklisted_wrongful"].sum()
    assert f["ever_wrongfully_listed"] >= ts["blacklisted_wrongful"].max() > 0
    assert 0 < f["appeals_won_wrongful"] <= f["appeals_won"]
    # people who won an appeal left the end-of-run stock but are still counted as wrongfully listed
    assert f["ever_wrongfully_listed"] > f["blacklisted_wrongful"]


def test_wrongful_totals_of_an_empty_log() -> None:
    sc = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 500, "days": 3})
    res = scslab.simulate(sc, seed=1)
    empty = res.listings_table().slice(0, 0)
    assert wrongful_totals(empty, 3) == {"ever_wrongfully_listed": 0, "wrongful_listing_days": 0,
                                         "appeals_won_wrongful": 0}  # fmt: skip


def test_every_figure_has_its_interval_method_and_row(busy: tuple[Result, Path]) -> None:
    result, run_dir = busy
    stored = json.loads((run_dir / "summary.json").read_text())["figures"]
    assert figure_values({"figures": stored}) == result.figures
    for name, entry in stored.items():
        m = catalogue()[name]
        assert (entry["kind"], entry["scales"], entry["unit"], entry["description"]) == (
            m.kind, m.scales, m.unit, m.description)  # fmt: skip
        assert entry["level"] == 0.95 and entry["method"]
        if m.scales:
            assert entry["interval"] == pytest.approx(list(poisson(entry["value"], dispersion=m.dispersion)))
            assert entry["interval"][0] >= 0
            assert entry["small"] == (entry["count"] < FEW)
    b = stored["blacklisted"]
    assert b["count"] == b["value"]
    days = stored["wrongful_listing_days"]
    assert days["count"] == stored["ever_wrongfully_listed"]["value"]  # rests on the people, not the days
    share = stored["wrongful_share"]
    k, n = stored["blacklisted_wrongful"]["value"], stored["blacklisted"]["value"]
    assert share["interval"] == pytest.approx(list(binomial(k, n))) and share["count"] == k
    score = stored["score_mean"]
    half = 1.959963984540054 * result.state.score.std(ddof=1) / np.sqrt(result.state.n)
    assert score["interval"] == pytest.approx([score["value"] - half, score["value"] + half])
    assert stored["score_p10"]["interval"] is None


def test_disparities_carry_their_counts_and_katz_interval(busy: tuple[Result, Path]) -> None:
    result, _ = busy
    b = result.breakdowns.set_index(["dimension", "value"])
    for key, (dim, num, den) in {"blacklisted_share_q1_to_q5": ("income_q", "q1", "q5"),
                                 "wrongful_share_minority_to_majority": ("group", "minority", "majority")}.items():
        entry = result.summary["disparities"][key]
        column = key.split("_share")[0]
        a, n1 = b.loc[(dim, num), column], b.loc[(dim, num), "citizens"]
        c, n2 = b.loc[(dim, den), column], b.loc[(dim, den), "citizens"]
        assert entry["counts"] == {num: [a, n1], den: [c, n2]}
        assert entry["value"] == pytest.approx((a / n1) / (c / n2))
        k = katz(a, n1, c, n2)
        assert (entry["interval"] is None) == (k is None)
        if k is not None:
            assert entry["interval"] == pytest.approx([k[1], k[2]])
        assert entry["small"] == (min(a, c) < FEW)


def test_burn_in_is_when_the_initial_risk_has_decayed() -> None:
    p = scslab.load_scenario("beijing-2020").params  # rho0 = 0.1, eta = 0.05
    assert burn_in(p) == 90  # 0.95^90 = 0.0099 < 1% < 0.95^89
    assert 0.95**90 < 0.01 < 0.95**89
    short = scslab.load_scenario("beijing-2020").with_overrides({"days": 60}).params
    assert burn_in(short) == 30  # at most half the run
    assert burn_in(scslab.load_scenario("beijing-2020").with_overrides({"feedback.rho0": 0.0}).params) == 0


def test_chilling_effect_from_hand_made_days() -> None:
    p = scslab.load_scenario("beijing-2020").with_overrides({"days": 100}).params  # burn-in 50
    base = pd.DataFrame({"political_events": np.r_[np.full(50, 5.0), np.tile([100.0, 120.0], 25)]})
    run = pd.DataFrame({"political_events": np.r_[np.full(50, 1.0), np.tile([75.0, 90.0], 25)]})
    share, suppressed = chilling(run, base, p)
    assert share["window"] == [50, 99] and share["baseline_events"] == 5500 and share["run_events"] == 4125
    assert share["value"] == pytest.approx(0.25)  # 1 - 4125 / 5500: the burn-in's days are left out
    r = paired_ratio(run["political_events"].to_numpy()[50:], base["political_events"].to_numpy()[50:],
                     design_effect=CHILLING_DESIGN_EFFECT)  # fmt: skip
    assert r is not None and share["interval"] == pytest.approx([1 - r[2], 1 - r[1]])
    assert suppressed["value"] == 1375 and suppressed["interval"] == pytest.approx([5500 * (1 - r[2]),
                                                                                    5500 * (1 - r[1])])
    # the same run as its own baseline: no chilling effect, and an interval of no width
    same, _ = chilling(base, base, p)
    assert same["value"] == 0 and same["interval"] == pytest.approx([0, 0])


def test_run_with_its_baseline_reports_the_chilling_effect(tmp_path: Path) -> None:
    sc = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 3_000, "days": 120})
    res = scslab.run(sc, seed=2, out=tmp_path / "run", report=False)
    stored = json.loads((tmp_path / "run" / "summary.json").read_text())
    base = pd.read_parquet(tmp_path / "run" / "baseline_timeseries.parquet")
    entry = stored["figures"]["chilling_effect"]
    first = burn_in(sc.params)
    a, b = res.timeseries["political_events"][first:].sum(), base["political_events"][first:].sum()
    assert entry["value"] == pytest.approx(1 - a / b) and entry["window"] == [first, 119]
    assert entry["interval"][0] <= entry["value"] <= entry["interval"][1]
    assert stored["figures"]["political_events_suppressed"]["value"] == b - a
    assert stored["scaled"]["political_events_suppressed"] == (b - a) * stored["scale"]
    assert res.summary["figures"]["chilling_effect"] == entry  # what the CLI prints is what is stored
    labels = [row.metric for row in headline_rows(stored)]
    assert labels.index("chilling_effect") == labels.index("political_events") + 1
    without = scslab.run(sc, seed=2, out=tmp_path / "without", baseline=False, report=False)
    assert "chilling_effect" not in without.figures
    assert not (tmp_path / "without" / "baseline_timeseries.parquet").exists()


def test_add_chilling_scales_the_count() -> None:
    sc = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 1_000, "days": 10})
    res = scslab.simulate(sc, seed=1)
    summary = add_chilling(res.summary, res.timeseries, res.timeseries, sc.params)
    assert summary["figures"]["chilling_effect"]["value"] == 0
    assert summary["scaled"]["political_events_suppressed"] == 0


def test_headline_rows_quote_counts_at_their_precision(busy: tuple[Result, Path]) -> None:
    result, _ = busy
    rows = {row.metric: row for row in headline_rows(result.summary)}
    f, scale = result.summary["figures"], result.summary["scale"]
    row = rows["blacklisted"]
    low, high = (x * scale for x in f["blacklisted"]["interval"])
    assert row.simulated == f"{f['blacklisted']['value']:,.0f}"
    assert row.sentence.startswith("about ") and row.estimate.startswith("about ")
    # the scaled count is rounded to two significant figures of the half-width
    step = 10 ** (np.floor(np.log10((high - low) / 2)) - 1)
    assert float(row.estimate.removeprefix("about ").replace(",", "")) % step == 0
    assert float(row.low.replace(",", "")) == pytest.approx(round(low / step) * step)
    for name, row in rows.items():
        assert (row.note == "few") == bool(f[name]["small"])


def test_experiments_record_the_chilling_effect_in_the_catalogue(tmp_path: Path) -> None:
    from scslab.experiments import Catalog, LocalExecutor, Options, ensemble

    sc = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 2_000, "days": 40})
    res = ensemble(sc, 2, options=Options(LocalExecutor(0), tmp_path, "ens"))
    rows = Catalog(tmp_path).query(
        "SELECT r.path, m.value FROM runs r JOIN metrics m USING (experiment_id, run_index) "
        "WHERE m.metric = 'chilling_effect' ORDER BY r.run_index"
    )
    assert len(rows) == 2
    for path, value in zip(rows["path"], rows["value"], strict=True):
        stored = json.loads((tmp_path / str(path) / "summary.json").read_text())["figures"]["chilling_effect"]
        assert value == stored["value"] and stored["window"] == [20, 39]
    row = res.intervals.set_index("metric").loc["chilling_effect"]
    assert row["runs"] == 2 and row["mean"] == pytest.approx(rows["value"].mean())
    off = ensemble(sc, 2, options=Options(LocalExecutor(0), tmp_path, "off", baseline=False))
    assert off.intervals.set_index("metric").loc["chilling_effect", "runs"] == 0
