"""Scoring (docs/model.md section 5): association charges, score bounds and tiers, against numbers
derived by hand."""

from __future__ import annotations

import numpy as np

from modelkit import build_state, charges, offence, population, scenario, simulate, step
from scslab.model import scoring
from scslab.model.metrics import MetricTable

N = 20_000


def test_association_grows_with_degree() -> None:
    """Association ledgers grow with degree at slope alpha * points * rate * c * days."""
    days, rate, c, alpha = 100, 0.004, 0.5, 0.2
    rng = np.random.default_rng(5)
    deg_target = rng.integers(0, 30, size=N)
    u = np.repeat(np.arange(N), deg_target)
    v = rng.integers(0, N, size=u.size)
    ok = u != v
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": c}},
        events={"criticism": offence(rate=rate, points=-50.0)},
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": alpha}},
    )
    pop = population(N, edges={"friends": (u[ok], v[ok])})
    r = simulate(params, pop)
    deg = pop.layers["friends"].degree().astype(float)
    slope_expected = alpha * -50.0 * rate * c * days
    slope = (deg @ r.state.association) / (deg @ deg)
    # var(sum_i deg_i * assoc_i) = (alpha * w)^2 * m * sum_k (sum_{i ~ k} deg_i)^2
    nbr_deg_sum = np.bincount(
        np.repeat(np.arange(N), np.diff(pop.layers["friends"].indptr)),
        weights=deg[pop.layers["friends"].indices],
        minlength=N,
    )
    se = abs(alpha * 50.0) * np.sqrt(rate * c * days * (nbr_deg_sum**2).sum()) / (deg @ deg)
    assert abs(slope - slope_expected) < 5 * se
    assert np.all(r.state.association[deg == 0] == 0)


def test_tiers_follow_the_bounds() -> None:
    """Tiers A >= 900, B >= 800, C >= 650, D below; lower bounds inclusive."""
    scores = [950, 900, 899, 850, 800, 799, 700, 650, 649, 400, 350]
    tiers = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    n = len(scores)
    params = scenario(n, 3, events={"move": offence(points=1.0)})
    state = build_state(params, population(n))
    # one charge of (score - 800) points each, as merit or own
    state.merit[:] = np.maximum(np.array(scores) - 800.0, 0)
    state.own[:] = np.minimum(np.array(scores) - 800.0, 0)
    scoring.refresh_scores(state, np.arange(n))
    assert state.score.tolist() == scores
    assert state.tier.tolist() == tiers
    assert scoring.tier_of(state, np.array(scores, dtype=float)).tolist() == tiers
    # and the start tier
    for start, tier in ((850.0, 1), (700.0, 2), (400.0, 3)):
        s = build_state(scenario(n, 3, score={"start": start}), population(n))
        assert np.all(s.tier == tier), start


def test_score_is_clamped_and_tier_counts_follow() -> None:
    """Scores are clamped to [350, 950]; tier counts and score_mean follow the clamped scores.
    Scores on the tier bounds (950, 900, 800, 650, 350) are placed in their tier."""
    n = 10
    params = scenario(
        n,
        3,
        events={
            "crime": offence(points=-1000.0),
            "award": offence(points=1000.0),
            "small": offence(points=-150.0),
            "bonus": offence(points=100.0),
        },
    )
    state = build_state(params, population(n))
    table = MetricTable(state.cp, 3)
    step(state, 0, charges([0, 1, 2, 3, 4], [0, 1, 2, 3, 0]), table=table)
    step(state, 1, charges([4], 1), table=table)
    # 0: 800 - 1000 -> 350; 1: 800 + 1000 -> 950; 2: 650; 3: 900; 4: -1000 + 1000 -> 800; 5-9: 800
    assert state.score.tolist() == [350, 950, 650, 900, 800] + [800] * 5
    assert state.own[0] == -1000 and state.merit[1] == 1000  # the ledgers keep the full points
    assert state.tier.tolist() == [3, 0, 2, 0, 1] + [1] * 5
    col = table.columns
    assert [col[f"tier_{t}"][1] for t in "ABCD"] == [2, 6, 1, 1]
    assert col["score_mean"][0] == np.mean([350, 950, 650, 900, 350] + [800] * 5)
    assert col["score_mean"][1] == np.mean([350, 950, 650, 900, 800] + [800] * 5)
    # sorted: 350, 650, 800 x 6, 900, 950; the q-quantile is the lowest score with a share q at or below it
    assert (col["score_p10"][1], col["score_p50"][1], col["score_p90"][1]) == (350, 800, 900)
