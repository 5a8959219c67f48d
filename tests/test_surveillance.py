"""Behaviour, surveillance and ledgers against numbers derived by hand from MODEL.md sections 3-5, and
the ledgers' per-citizen rules (tier, counterfactual, histogram bin) against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from modelkit import column, gof, offence, population, scenario, simulate
from scslab.model.ledgers import (
    L_ASSOCIATION,
    L_MERIT,
    L_MISATTRIBUTED,
    L_OWN,
    LEDGER_COLUMNS,
    SNAP,
    ScoreIndex,
    bin_of,
    counterfactual_scores,
    score_tier,
    score_tiers,
)
from scslab.model.params import SCORE_BIN
from scslab.population.types import CIVIL_SERVANT, EMPLOYEE

N = 20_000


def test_own_ledger_is_points_times_poisson() -> None:
    """One offence, h = 0, coverage c, no recovery: own = points * Poisson(rate * c * days)."""
    days, rate, c = 200, 0.004, 0.5
    params = scenario(
        N, days, sources={"cameras": {"coverage": c}}, events={"jaywalking": offence(rate=rate, points=-5.0)}
    )
    r = simulate(params, population(N))
    counts = np.rint(r.state.own / -5.0).astype(np.int64)
    m = rate * c * days
    assert np.allclose(r.state.own, -5.0 * counts)
    assert abs(counts.mean() - m) < 5 * np.sqrt(m / N)
    assert abs(counts.var() - m) < 5 * m * np.sqrt(2 / N) + 0.02 * m
    assert gof(counts, stats.poisson(m)) > 1e-4
    assert r.state.misattributed.sum() == 0 and r.state.association.sum() == 0


def test_heterogeneity_inflates_variance() -> None:
    """With u ~ Gamma(1/h^2, h^2) the count's variance is m + m^2 h^2 (negative binomial)."""
    days, rate, h = 100, 0.02, 1.0
    params = scenario(N, days, events={"jaywalking": offence(rate=rate, points=-5.0, heterogeneity=h)})
    r = simulate(params, population(N))
    counts = np.rint(-r.state.own / 5.0).astype(np.int64)
    m = rate * days
    var = m + m**2 * h**2
    m4 = np.mean((counts - counts.mean()) ** 4)
    assert abs(counts.mean() - m) < 5 * np.sqrt(var / N)
    assert abs(counts.var() - var) < 5 * np.sqrt((m4 - counts.var() ** 2) / N)
    # and it is a negative binomial with r = 1/h^2, p = r / (r + m)
    r_nb = 1 / h**2
    assert gof(counts, stats.nbinom(r_nb, r_nb / (r_nb + m))) > 1e-4
    assert gof(counts, stats.poisson(m)) < 1e-10  # and clearly not a Poisson


def test_coverage_ramp_is_linear() -> None:
    """Coverage grows linearly from coverage to coverage_end over ramp_days."""
    days, rate = 100, 0.01
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 0.2, "coverage_end": 0.6, "ramp_days": 100}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N))
    detected = column(r, "detected_jaywalking").sum()
    events = column(r, "events_jaywalking").sum()
    expected = sum(rate * N * (0.2 + 0.4 * t / 100) for t in range(days))
    assert abs(events - rate * N * days) < 5 * np.sqrt(rate * N * days)
    assert abs(detected - expected) < 5 * np.sqrt(expected)


def test_delay_drops_the_last_days() -> None:
    """A delay of d days drops the last d days of charges."""
    days, rate, d = 100, 0.01, 30
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "delay": d}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N))
    charged = -r.state.own.sum() / 5.0
    m = rate * N * (days - d)
    assert abs(charged - m) < 5 * np.sqrt(m)
    assert column(r, "detected_jaywalking").sum() > charged  # detections are counted on the day they happen


def test_share_thins_records() -> None:
    """Only a share of observed records reaches the scoring authority."""
    days, rate, share = 100, 0.01, 0.3
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "share": share}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N))
    charged = -r.state.own.sum() / 5.0
    m = rate * N * days * share
    assert abs(charged - m) < 5 * np.sqrt(m)


def test_civil_servant_multiplier_caps_at_one() -> None:
    """Civil servants are observed with probability min(1, c * multiplier)."""
    days, rate = 100, 0.01
    occ = np.where(np.arange(N) < N // 2, CIVIL_SERVANT, EMPLOYEE)
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 0.4, "civil_servant_multiplier": 3.0}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N, occupation=occ))
    cs = -r.state.own[: N // 2].sum() / 5.0
    emp = -r.state.own[N // 2 :].sum() / 5.0
    m = rate * N / 2 * days
    assert abs(cs - m * 1.0) < 5 * np.sqrt(m)
    assert abs(emp - m * 0.4) < 5 * np.sqrt(m * 0.4)


def test_misattribution_moves_charges_without_changing_total() -> None:
    """Misattributed charges move between ledgers; their total is what was detected."""
    days, rate, mu, ratio = 100, 0.01, 0.05, 4.0
    group = (np.arange(N) % 5 == 0).astype(np.int8)  # 20% minority
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "misattribution": mu, "minority_error_ratio": ratio}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N, group=group, district=np.arange(N) % 4))
    s = r.state
    detected = column(r, "detected_jaywalking").sum()
    assert np.isclose(s.own.sum() + s.misattributed.sum(), -5.0 * detected)
    wrong = -s.misattributed.sum() / 5.0
    p = 0.8 * mu + 0.2 * min(1.0, mu * ratio)
    assert abs(wrong / detected - p) < 5 * np.sqrt(p * (1 - p) / detected)
    # minority citizens are wrongly charged ratio times as often as majority ones
    per_minority = -s.misattributed[group == 1].mean()
    per_majority = -s.misattributed[group == 0].mean()
    assert 0.75 * ratio < per_minority / per_majority < 1.25 * ratio


def test_misattribution_stays_in_district_and_group() -> None:
    """The wrong person comes from the actor's district and group."""
    days = 50
    occ = np.where(np.arange(N) < N // 2, CIVIL_SERVANT, EMPLOYEE)
    district = np.where(np.arange(N) < N // 2, 0, 1)
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "misattribution": 0.5}},
        events={"jaywalking": offence(rate=0.02, points=-5.0, eligible={"occupations": ["civil_servant"]})},
    )
    r = simulate(params, population(N, occupation=occ, district=district))
    assert r.state.misattributed[N // 2 :].sum() == 0
    assert r.state.own[N // 2 :].sum() == 0
    assert r.state.misattributed[: N // 2].sum() < 0


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


# The score-to-tier rule and the counterfactual are each defined once, compiled (`ledgers.score_tier`,
# `ledgers.counterfactual_score`); numpy callers go through their array forms. These check them
# against the definitions of MODEL.md written with numpy, at the edges included.
edge_floats = st.floats(min_value=-1000.0, max_value=2000.0, allow_nan=False, allow_infinity=False)


@st.composite
def tiers_and_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Descending tier bounds, and scores on, a hair off, between and beyond them."""
    bounds = np.array(sorted(set(draw(st.lists(edge_floats, min_size=1, max_size=6))), reverse=True))
    near = [float(np.nextafter(b, d)) for b in bounds for d in (-np.inf, np.inf)]
    picks = st.one_of(edge_floats, st.sampled_from([*bounds.tolist(), *near]))
    return bounds, np.array(draw(st.lists(picks, min_size=1, max_size=50)))


@settings(max_examples=300, deadline=None)
@given(tiers_and_scores())
def test_score_tier_is_the_number_of_bounds_strictly_above(case: tuple[np.ndarray, np.ndarray]) -> None:
    """A score's tier index is the number of tier bounds strictly above it, capped at the lowest
    tier: a score exactly on a bound is in that bound's tier."""
    bounds, scores = case
    n_tiers = bounds.size  # the last bound's tier is the lowest: below it is still that tier
    expected = np.minimum((bounds[None, :] > scores[:, None]).sum(axis=1), n_tiers - 1)
    assert np.array_equal(score_tiers(scores, bounds, n_tiers), expected)
    assert all(score_tier(float(s), bounds, n_tiers - 1) == e for s, e in zip(scores, expected, strict=True))
    on_bound = score_tiers(bounds, bounds, n_tiers)
    assert np.array_equal(on_bound, np.arange(bounds.size))


def test_score_tier_at_the_edges() -> None:
    """Tiers A-D with lower bounds 900, 800, 650, 350: the bounds themselves, a hair below them, and the
    score range's ends."""
    bounds = np.array([900.0, 800.0, 650.0, 350.0])
    scores = np.array([1000.0, 900.0, np.nextafter(900.0, 0), 800.0, 650.0, 649.999999999, 350.0, 300.0, 0.0])
    assert score_tiers(scores, bounds, 4).tolist() == [0, 0, 1, 1, 2, 3, 3, 3, 3]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(edge_floats, edge_floats), min_size=1, max_size=40),
    st.floats(min_value=0.0, max_value=1000.0),
    st.floats(min_value=0.0, max_value=300.0),
)
def test_counterfactual_is_clamped_own_plus_merit_on_the_grid(
    ledgers: list[tuple[float, float]], low: float, width: float
) -> None:
    """`counterfactual_scores` == rint(clip(S0 + own + merit, min, max) * SNAP) / SNAP, bit for bit (own
    <= 0, merit >= 0; sums landing on, below and above the bounds included)."""
    start, high = low + width / 2, low + width
    own = -np.abs([o for o, _ in ledgers])
    merit = np.abs([m for _, m in ledgers])
    own[0], merit[0] = low - start, 0.0  # exactly at the minimum
    records = np.zeros((own.size, LEDGER_COLUMNS))
    records[:, L_OWN], records[:, L_MERIT] = own, merit
    records[:, L_MISATTRIBUTED], records[:, L_ASSOCIATION] = -1.0, -2.0  # (not part of it)
    bounds = np.array([start, low, high, SCORE_BIN, start])
    expected = np.rint(np.clip(start + own + merit, low, high) * SNAP) / SNAP
    got = counterfactual_scores(records, np.arange(own.size, dtype=np.int64), bounds)
    assert got.tobytes() == expected.tobytes()


def test_counterfactual_snaps_round_off_onto_a_bound() -> None:
    """A counterfactual a hair below a whole-point bound (proportional recovery's round-off) is that bound."""
    records = np.zeros((2, LEDGER_COLUMNS))
    records[0, L_OWN] = -100.00000000000003
    records[1, L_OWN], records[1, L_MERIT] = -300.0, 1e-13
    got = counterfactual_scores(records, np.arange(2, dtype=np.int64), np.array([800.0, 350.0, 950.0, 0.1, 700.0]))
    assert got.tolist() == [700.0, 500.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(edge_floats, min_size=1, max_size=50))
def test_histogram_bin_is_the_same_compiled_and_numpy(scores: list[float]) -> None:
    """`bin_of` (compiled, for the citizens `refresh` moves) and `ScoreIndex._bins` (numpy) agree."""
    index = ScoreIndex(10, 800.0, 0, 350.0, 950.0, 4)
    got = [bin_of(s, index.low, index.BIN, index.n_bins) for s in scores]
    assert got == index._bins(np.array(scores)).tolist()
