"""The engine's run as a whole: a pure function of (scenario, seed)."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit import column, offence, population, scenario, simulate


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
