"""report.html and scslab.plot(): the figures follow the run's numbers, the page stands alone, text is escaped."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scslab
from runkit import cli
from scslab.intervals import binomial, parts
from scslab.model.metrics import describe
from scslab.report import BASELINE_FILE, CHARTS, REPORT_FILE, RunData, build_figures, report_html, save_run
from scslab.report.html import inert_json, plotly_js
from scslab.report.tables import headline_rows, number, ratio_rows, tooltip
from scslab.results import Result, headline_figures
from scslab.scenario.schema import CAUSES

# A threshold just under the starting score lists people within days, so every figure has something to show.
LIVELY = {"population.size": 4000, "days": 60, "blacklist.threshold": 790}
SMALL_SET = ["--set", "population.size=3000", "--set", "days=30"]


@pytest.fixture(scope="module")
def result() -> Result:
    return scslab.simulate(scslab.load_scenario("beijing-2020").with_overrides(LIVELY), seed=1)


def trace(fig: object, name: str) -> np.ndarray:
    matches = [t for t in fig.data if t.name == name]  # type: ignore[attr-defined]
    assert len(matches) == 1, (name, [t.name for t in fig.data])  # type: ignore[attr-defined]
    return np.asarray(matches[0].y, dtype=float)


def test_figures_follow_the_daily_table(result: Result) -> None:
    figs = scslab.plot(result)
    assert set(figs) == {*CHARTS, "headline", "disparity_ratios"}
    ts = result.timeseries
    for name, column in (("median", "score_p50"), ("10-90% band", "score_p10"), ("mean", "score_mean")):
        np.testing.assert_array_equal(trace(figs["score"], name), ts[column])
    tiers = np.vstack([np.asarray(t.y, dtype=float) for t in figs["tiers"].data])
    np.testing.assert_allclose(tiers.sum(axis=0), 1.0, rtol=0, atol=1e-12)  # every citizen is in one tier
    # Causes partition the blacklist: the stacked areas add up to the stock.
    causes = [trace(figs["blacklist"], c.replace("_", " ")) for c in CAUSES]
    np.testing.assert_array_equal(np.sum(causes, axis=0), ts["blacklisted"])
    np.testing.assert_array_equal(trace(figs["blacklist"], "wrongfully listed"), ts["blacklisted_wrongful"])
    assert ts["blacklisted_wrongful"].iloc[-1] > 0
    trips = figs["sanctions"].data[0]
    np.testing.assert_array_equal(trips.y, ts["trips_denied"].cumsum())
    np.testing.assert_allclose(trips.customdata, ts["trips_denied"].cumsum() * result.summary["scale"])
    np.testing.assert_array_equal(trace(figs["political"], "this run, daily"), ts["political_events"])
    assert "no baseline" in figs["political"].layout.title.text


def test_disparity_bars_and_ratios_follow_the_breakdowns(result: Result) -> None:
    figs = scslab.plot(result)
    b = result.breakdowns
    bars = [t for t in figs["disparities"].data if t.name == "wrongfully blacklisted"]
    listed = [t for t in figs["disparities"].data if t.name == "blacklisted"]
    order = ("group", "income_q", "occupation", "party_member")
    expected = [b.loc[b["dimension"] == d, "wrongful_share"] for d in order]
    assert len(bars) == len(expected)
    for bar, other, shares, dim in zip(bars, listed, expected, order, strict=True):
        np.testing.assert_array_equal(np.asarray(bar.y), shares)
        assert bar.yaxis != other.yaxis  # wrongful listings on their own axis, so that they show
        counts = b.loc[b["dimension"] == dim, ["wrongful", "citizens"]].to_numpy()
        highs = [binomial(k, n)[1] for k, n in counts]
        np.testing.assert_allclose(np.asarray(bar.error_y.array) + shares.to_numpy(), highs, rtol=1e-12)
    rows = {row[0]: row for row in ratio_rows(RunData.from_result(result))}
    d = result.summary["disparities"]
    assert d["wrongful_share_q1_to_q5"] is not None and d["blacklisted_share_minority_to_majority"] is not None
    q = d["wrongful_share_q1_to_q5"]
    assert rows["q1 / q5"][2].startswith(f"{q['value']:.2f}× (95%: {q['interval'][0]:.2f} to ")
    assert f"{q['counts']['q1'][0]:,.0f} of {q['counts']['q1'][1]:,.0f}" in rows["q1 / q5"][2]
    assert rows["q1 / q5"][2].endswith(" few") == q["small"]
    assert rows["minority / majority"][1].startswith(f"{d['blacklisted_share_minority_to_majority']['value']:.2f}×")
    member = b[(b["dimension"] == "party_member")].set_index("value")["rewarded_share"]
    # a ratio over a zero share is shown as n/a
    want = f"{member['member'] / member['non-member']:.2f}×" if member["non-member"] > 0 else "n/a"
    assert rows["member / non-member"][3].startswith(want)


def test_headline_is_simulated_and_scaled(result: Result) -> None:
    rows = {label: rest for label, *rest in headline_rows(RunData.from_result(result))}
    f, scale = result.figures, result.summary["scale"]
    entry = result.summary["figures"]["blacklisted"]
    low, high = (x * scale for x in entry["interval"])
    sim, estimate, span, note = rows["Blacklisted at the end"]
    assert sim == number(f["blacklisted"])
    assert estimate == "about " + parts(f["blacklisted"] * scale, low, high)[0]
    assert span == "{} to {}".format(*parts(f["blacklisted"] * scale, low, high)[1:])
    assert note == ("few" if entry["small"] else "")
    assert rows["– of whom wrongfully"][0] == number(f["blacklisted_wrongful"])
    assert rows["– wrongfully listed at some time"][0] == number(f["ever_wrongfully_listed"])
    share = result.summary["figures"]["wrongful_share"]
    est, lo, hi = parts(share["value"], *share["interval"], share=True)
    note = "few" if share["small"] else ""
    assert tuple(rows["Wrongful share of the blacklisted"]) == ("", est, f"{lo} to {hi}", note)
    assert scale == pytest.approx(22_000_000 / 4000)


def test_headline_rows_carry_the_catalogues_description_as_tooltip(result: Result) -> None:
    page = report_html(RunData.from_result(result))
    for _, key, _ in headline_figures():
        if key in result.summary["figures"]:
            d = describe(key)
            assert f'<tr title="{html.escape(tooltip(key), quote=True)}">' in page, key
            assert d["description"] in tooltip(key) and d["unit"] in tooltip(key)
    assert "a flow, summed over the run" in tooltip("listings_new") and "a stock" in tooltip("blacklisted")
    assert "does not scale" in tooltip("wrongful_share")


def test_figures_from_the_run_directory_equal_scslab_plot(result: Result, tmp_path: Path) -> None:
    run_dir = save_run(result, tmp_path / "run")
    from_dir = build_figures(RunData.from_dir(run_dir))
    from_result = scslab.plot(result)
    for name in from_result:
        assert from_dir[name].to_json() == from_result[name].to_json(), name


def test_run_writes_report_with_baseline(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = cli(
        "run", "beijing-2020", *SMALL_SET, "--seed", "4", "--out", str(out), "--quiet", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert {REPORT_FILE, BASELINE_FILE} <= {p.name for p in out.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    ts, base = pd.read_parquet(out / "timeseries.parquet"), pd.read_parquet(out / BASELINE_FILE)
    # Without surveillance nothing is detected and no one is listed; the same seed gives the same first day.
    detected = [c for c in base.columns if c.startswith("detected_")]
    assert detected and (base[detected] == 0).all().all() and (base["blacklisted"] == 0).all()
    events = [c for c in ts.columns if c.startswith("events_")]
    assert ts.loc[0, events].equals(base.loc[0, events])
    page = (out / REPORT_FILE).read_text(encoding="utf-8")
    entry = json.loads((out / "summary.json").read_text())["figures"]["chilling_effect"]
    first, last = entry["window"]
    assert "Chilling effect: " in page and f"of political events suppressed, days {first} to {last}" in page
    assert "the chilling effect, days" in page  # and in the key findings


def test_report_is_self_contained(result: Result, tmp_path: Path) -> None:
    page = (save_run(result, tmp_path / "run") / REPORT_FILE).read_text(encoding="utf-8")
    assert page.count(plotly_js()[:2000]) == 1  # plotly.js inlined, once
    assert "<script src" not in page and "<link" not in page and "<iframe" not in page
    assert page.count('class="scs-figure"') == len(CHARTS)
    for heading in (
        "Headline figures",
        "Score over time",
        "Tiers",
        "Blacklist",
        "Trips denied and speech suppressed",
        "Political events and the chilling effect",
        "Disparities",
        "Scenario",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "blacklist.threshold" in page and f"seed: <b>{result.seed}</b>" in page


def test_report_command_and_no_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = cli("run", "beijing-2020", *SMALL_SET, "--no-report", "--no-baseline", "--out", str(out), "--quiet",
              cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert not (out / REPORT_FILE).exists()
    res = cli("report", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "no baseline" in (out / REPORT_FILE).read_text(encoding="utf-8")
    res = cli("report", str(out), "--baseline", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (out / BASELINE_FILE).exists()
    # the chilling effect measured against the stored baseline goes into summary.json and the report
    entry = json.loads((out / "summary.json").read_text())["figures"]["chilling_effect"]
    assert f"of political events suppressed, days {entry['window'][0]} to" in (out / REPORT_FILE).read_text("utf-8")


@pytest.mark.parametrize("case", ["missing_dir", "missing_summary", "corrupt_parquet", "bad_summary"])
def test_report_bad_run_dir_is_one_line(result: Result, tmp_path: Path, case: str) -> None:
    run_dir = tmp_path / "run"
    if case != "missing_dir":
        save_run(result, run_dir, report=False)
    needle = {
        "missing_dir": "not a run directory",
        "missing_summary": "summary.json: file not found",
        "corrupt_parquet": "timeseries.parquet: cannot be read",
        "bad_summary": "summary.json: missing",
    }[case]
    if case == "missing_summary":
        (run_dir / "summary.json").unlink()
    elif case == "corrupt_parquet":
        (run_dir / "timeseries.parquet").write_bytes(b"not parquet")
    elif case == "bad_summary":
        (run_dir / "summary.json").write_text(json.dumps({"seed": 1}))
    before = sorted(p.name for p in run_dir.iterdir()) if run_dir.exists() else None
    res = cli("report", str(run_dir), cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr, res.stderr
    assert (sorted(p.name for p in run_dir.iterdir()) if run_dir.exists() else None) == before


def test_failed_report_leaves_no_run_directory(result: Result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scslab.report.writer as writer

    def broken(data: RunData) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(writer, "report_html", broken)
    with pytest.raises(RuntimeError):
        save_run(result, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_scenario_text_in_figures_is_escaped(result: Result) -> None:
    """Names, tiers and group labels holding markup reach plotly and the page only as escaped text."""
    data = RunData.from_result(result)
    ts = data.timeseries.rename(columns={"tier_A": "tier_<i>A</i>"})
    b = data.breakdowns.replace({"value": {"majority": "<u>majority</u>"}})
    scenario = dict(data.scenario, score=dict(data.scenario["score"], tiers={"<b>A</b>": 790.0}))
    summary = dict(data.summary, scenario="<script>alert(1)</script>", description="<img src=x onerror=alert(2)>")
    evil = RunData(ts, b, summary, scenario | {"name": "<script>alert(3)</script>"})
    everything = json.dumps([fig.to_plotly_json() for fig in build_figures(evil).values()], default=str)
    for markup in ("<i>", "<b>", "<u>"):
        assert markup not in everything
    assert "&lt;i&gt;A&lt;/i&gt;" in everything and "&lt;b&gt;A&lt;/b&gt;" in everything
    page = report_html(evil)
    for markup in ("<script>alert", "<img src=x", "<i>A", "<b>A", "<u>majority"):
        assert markup not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_inert_json_cannot_close_a_script() -> None:
    text = json.dumps({"t": "</script><script>alert(1)</script><!-- & \u2028"})
    inert = inert_json(text)
    assert "<" not in inert and ">" not in inert and "&" not in inert and "\u2028" not in inert
    assert json.loads(inert) == json.loads(text)


def test_key_findings_quote_the_figures_with_their_intervals(result: Result, tmp_path: Path) -> None:
    from scslab.experiments import simulate_baseline
    from scslab.report.writer import key_findings
    from scslab.uncertainty import quoted

    run_dir = save_run(result, tmp_path / "run", baseline=simulate_baseline(result.scenario, result.seed))
    summary = json.loads((run_dir / "summary.json").read_text())
    f, scale = summary["figures"], summary["scale"]
    text = key_findings(summary)
    assert f"{quoted(f['blacklisted'], scale)} people are on the blacklist at the end" in text
    assert f"of whom {quoted(f['blacklisted_wrongful'], scale)} wrongfully" in text
    assert f"{quoted(f['ever_wrongfully_listed'], scale)} people were wrongfully listed at some time" in text
    first, last = f["chilling_effect"]["window"]
    chill = quoted(f["chilling_effect"])
    assert f"suppressed {chill} of political events (the chilling effect, days {first} to {last}" in text
    small = sum(1 for k in ("blacklisted", "blacklisted_wrongful", "ever_wrongfully_listed", "chilling_effect")
                if f[k]["small"])  # fmt: skip
    assert (f"Quote with care: {small} of these" in text) == (small > 0)
    page = (run_dir / REPORT_FILE).read_text(encoding="utf-8")
    assert page.index("<h2>Key findings</h2>") < page.index("<h2>Headline figures</h2>")
    assert html.escape(text, quote=True) in page
