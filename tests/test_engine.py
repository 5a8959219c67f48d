"""The engine: a run is a pure function of (scenario, seed), and one day is one function
(`engine.one_day`) that tests drive with hand-made charges."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit import build_state, charges, column, draws, offence, population, scenario, simulate
from scslab import engine
from scslab.model.metrics import MetricTable


@pytest.mark.parametrize("seed", [1, 2])
def test_same_seed_same_outputs(seed: int) -> None:
    """A run is a pure function of (scenario, seed)."""
    params = scenario(
        2_000,
        60,
        events={"jaywalking": offence(rate=0.05, points=-5.0, heterogeneity=1.0)},
        recovery={"clean_days": 5, "per_day": 1.0},
        blacklist={"threshold": 790},
    )
    a = simulate(params, population(2_000), seed)
    b = simulate(params, population(2_000), seed)
    c = simulate(params, population(2_000), seed + 10)
    for name in a.table.names:
        assert np.array_equal(column(a, name), column(b, name)), name
    assert np.array_equal(a.state.score, b.state.score)
    assert not np.array_equal(a.state.score, c.state.score)


def test_hand_made_charges_stand_in_for_behaviour_and_surveillance() -> None:
    """Day 0 with one hand-made charge: no event is drawn or detected, citizen 3 alone loses its
    10 points, and the profile times every phase but the two skipped. Day 1 without charges: the
    engine's own behaviour (rate 1 a day, coverage 1) draws and detects about n events."""
    n = 1_000
    state = build_state(scenario(n, 2, events={"act": offence(rate=1.0)}), population(n))
    table = MetricTable(state.cp, 2)
    rng = np.random.default_rng(4)
    profile = dict.fromkeys(engine.PHASES, 0.0)
    today = {name: draws(state, rng, 0) for name in engine.STREAMS}
    engine.one_day(state, today, 0, table, charges([3], 0), profile)
    assert table.columns["events_act"][0] == 0 and table.columns["detected_act"][0] == 0
    assert state.own[3] == -10.0 and state.own.sum() == -10.0
    assert np.isclose(table.columns["score_mean"][0], 800 - 10 / n, rtol=0, atol=1e-9)
    assert profile["behaviour"] == profile["surveillance"] == 0.0
    assert all(profile[phase] > 0 for phase in ("scoring", "sanctions", "feedback", "metrics"))
    engine.one_day(state, {name: draws(state, rng, 1) for name in engine.STREAMS}, 1, table)
    events = table.columns["events_act"][1]
    assert abs(events - n) < 5 * np.sqrt(n) and table.columns["detected_act"][1] == events
