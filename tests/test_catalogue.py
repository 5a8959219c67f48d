"""The metric catalogue: one row per figure, and every output reads its kind, scale and label from it."""

from __future__ import annotations

import pytest

import scslab
from scslab import engine
from scslab.experiments.metrics import HEADLINE_METRICS, SUMMARY_ONLY, figure_at, is_count, is_stock
from scslab.model.catalogue import COUNT, Catalogue, Metric
from scslab.model.metrics import catalogue, metric_names
from scslab.model.params import compile_params
from scslab.outputs import metric_columns
from scslab.report.tables import number
from scslab.results import Result
from scslab.scenario.schema import CAUSES


@pytest.fixture(scope="module")
def result() -> Result:
    scenario = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 3_000, "days": 20})
    return scslab.simulate(scenario, seed=2)


def rows_of(column: str, cp_values: dict[str, tuple[str, ...]]) -> list[Metric]:
    """The catalogue rows that declare `column` (exact names and expanded patterns)."""
    return [m for m in catalogue() if column in m.columns(cp_values.get(m.expands or "", ()))]


def test_every_column_has_exactly_one_row(result: Result) -> None:
    cp = result.state.cp
    values = {"tier": cp.tier_names, "event": cp.events.names, "cause": CAUSES}
    columns = metric_columns(result.timeseries.columns)
    assert columns == metric_names(cp)
    for column in columns:
        rows = rows_of(column, values)
        assert len(rows) == 1, (column, rows)
        assert rows[0].daily and catalogue()[column] is rows[0]
    # and every daily row has its columns in the table
    for m in catalogue():
        if m.daily:
            assert set(m.columns(values.get(m.expands or "", ()))) <= set(columns), m.name


def test_summary_takes_stocks_on_the_last_day_and_sums_flows(result: Result) -> None:
    ts, figures = result.timeseries, result.figures
    kinds = {"stock": 0, "flow": 0}
    for column in metric_columns(ts.columns):
        m = catalogue()[column]
        kinds[m.kind] += 1
        expected = ts[column].iloc[-1] if m.kind == "stock" else ts[column].sum()
        assert figures[column] == pytest.approx(float(expected), rel=0, abs=0), column
        assert is_stock(column) == (m.kind == "stock")
        assert figure_at(ts, column, len(ts) - 1) == figures[column]
    assert kinds["stock"] > 0 and kinds["flow"] > 0
    # the stocks are the end-of-run state: the tiers count everyone, the blacklist its members
    state = result.state
    tiers = sum(figures[f"tier_{t}"] for t in state.cp.tier_names)
    assert tiers == state.n
    assert figures["blacklisted"] == state.blacklist.size
    assert sum(figures[f"blacklisted_{c}"] for c in CAUSES) == state.blacklist.size
    # the flows are run totals: the events of the political types add up to political_events
    political = [e for e, flag in zip(state.cp.events.names, state.cp.events.political, strict=True) if flag]
    assert sum(figures[f"events_{e}"] for e in political) == figures["political_events"]


def test_scaled_figures_are_the_rows_that_scale(result: Result) -> None:
    figures, scaled, scale = result.figures, result.summary["scaled"], result.summary["scale"]
    assert set(scaled) == {k for k in figures if catalogue()[k].scales}
    assert {"score_mean", "score_p50", "rho_mean", "wrongful_share"}.isdisjoint(scaled)
    for key, value in scaled.items():
        assert value == figures[key] * scale
        assert is_count(key)


def test_headline_labels_and_scaling_come_from_the_catalogue(result: Result) -> None:
    table = result.headline()
    # the chilling effect's rows need a baseline, which simulate() does not run
    rows = tuple(m for m in catalogue().headline() if m.name in result.figures)
    assert {m.name for m in catalogue().headline()} - {m.name for m in rows} == {
        "chilling_effect", "political_events_suppressed"}
    assert list(table["metric"]) == [m.name for m in rows]
    assert list(table["figure"]) == [m.label for m in rows]
    scale = result.summary["scale"]
    for row, m in zip(table.itertuples(index=False), rows, strict=True):
        assert row.scaled == (row.simulated * scale if m.scales else row.simulated)


def test_orders_are_those_before_the_catalogue() -> None:
    """The headline table, the experiments' defaults and the summary-only figures keep their order."""
    assert [m.name for m in catalogue().headline()] == [
        "blacklisted", "blacklisted_wrongful", "ever_wrongfully_listed", "wrongful_listing_days",
        "ever_blacklisted", "listings_new", "appeals_won", "appeals_won_wrongful", "trips_denied",
        "speech_suppressed", "political_events", "chilling_effect", "political_events_suppressed",
        "promotions_blocked", "children_restricted", "green_channel_benefits", "red_loans", "firms_blacklisted",
        "ties_cut", "score_mean", "wrongful_share",
    ]  # fmt: skip
    assert HEADLINE_METRICS == (
        "blacklisted", "blacklisted_wrongful", "ever_wrongfully_listed", "wrongful_share", "ever_blacklisted",
        "listings_new", "appeals_won", "appeals_won_wrongful", "trips_denied", "speech_suppressed",
        "political_events", "chilling_effect", "score_mean",
    )  # fmt: skip
    assert SUMMARY_ONLY == ("ever_wrongfully_listed", "wrongful_listing_days", "appeals_won_wrongful",
                            "chilling_effect", "political_events_suppressed", "ever_blacklisted",
                            "wrongful_share")  # fmt: skip


def test_formats_follow_the_rows() -> None:
    assert number(0.1234, "wrongful_share") == "12.3%"
    assert number(612.34, "score_p10") == "612.3"
    assert number(0.01234, "rho_mean") == "0.012"
    assert number(12345.0, "tier_B") == "12,345"
    assert number(12345.0, "not_a_metric") == "12,345"
    assert number(-0.01, "score_mean") == "0.0"  # no negative zero


def test_rows_are_complete_and_unique() -> None:
    names = [m.name for m in catalogue()]
    assert len(names) == len(set(names))
    for m in catalogue():
        assert m.kind in ("stock", "flow")
        assert m.label.strip() and m.description and m.unit, m.name
        m.format.format(1.0)
        assert not (m.counted and m.kind == "stock"), m.name
    headline = [m.headline for m in catalogue() if m.headline]
    assert len(set(headline)) == len(headline) and min(headline) == 1  # one place each
    assert all(m.dispersion >= 1 for m in catalogue())  # an interval is only ever widened
    with pytest.raises(ValueError, match="declared twice"):
        Catalogue([*catalogue(), Metric("blacklisted", "stock", True, "x", "x", "x")])


def test_patterns_match_only_their_columns() -> None:
    cat = catalogue()
    assert cat["tier_B"].name == "tier_{tier}" and cat["tier_B"].kind == "stock"
    assert cat["events_jaywalking"].kind == "flow" and cat["detected_jaywalking"].kind == "flow"
    assert cat["blacklisted_association"].name == "blacklisted_{cause}"
    assert cat["blacklisted_wrongful"].name == "blacklisted_wrongful"
    assert cat.get("blacklisted_nonsense") is None and cat.get("nonsense") is None
    assert COUNT.format(1234.0) == "1,234"


def test_counters_are_the_counted_rows() -> None:
    """The day's named counters are the catalogue's counted flows (and the blacklist's exits)."""
    scenario = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 5_000, "days": 60})
    seen: set[str] = set()
    engine.run(scenario.params, 1, after_day=lambda at: seen.update(at.state.counters.counts))
    counted = set(catalogue().counted())
    assert seen - {"exits"} <= counted
    assert {"listings_new", "speech_suppressed"} <= seen
    cp = compile_params(scenario.params)
    assert counted <= set(metric_names(cp))
