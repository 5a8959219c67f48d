"""The ledgers' per-citizen rules (model/ledgers.py): tier, counterfactual and histogram bin against
their definitions in docs/model.md section 5, at the edges included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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

# The score-to-tier rule and the counterfactual are each defined once, compiled (`ledgers.score_tier`,
# `ledgers.counterfactual_score`); numpy callers go through their array forms. These check them
# against the definitions of docs/model.md written with numpy, at the edges included.
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
