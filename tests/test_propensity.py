"""The propensity sampler against the law it must draw from."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from scslab.model.propensity import PROPENSITY_BLOCK, PROPENSITY_SUPER, Propensity, block_totals, place_sorted


def test_block_totals_sum_in_order() -> None:
    w = np.random.default_rng(1).random(100).astype(np.float32)
    t = block_totals(w, 32)
    assert t.size == 4 and t[-1] == pytest.approx(float(w[96:].sum()), rel=1e-6)


@pytest.mark.parametrize(("h", "dense"), [(0.5, False), (3.0, False), (1.0, True)])
def test_candidates_are_drawn_in_proportion_to_propensity(h: int, dense: bool) -> None:
    """Chi-square of 400,000 draws over 1,500 citizens (94 blocks of 16 in 6 super-blocks, zero weights
    included); dense: the weights run over citizens 0..2499, zero below 1000, and the drawn entry is
    the citizen."""
    rng = np.random.default_rng(7)
    n = 1500
    w = rng.gamma(1.0 / h**2, h**2, size=n).astype(np.float32)
    w[[3, 40, n - 1]] = 0.0
    eligible = np.arange(1000, 1000 + n, dtype=np.int32)
    if dense:
        everyone = np.zeros(1000 + n, dtype=np.float32)
        everyone[eligible] = w
        prop = Propensity.build(eligible[:0], everyone)
        assert np.array_equal(prop.ids(), eligible[w > 0])
    else:
        prop = Propensity.build(eligible, w)
    k = 400_000
    assert prop.weights is not None and prop.block_cum is not None
    positions = np.sort(rng.random(k)) * prop.total
    assert prop.super_cum is not None
    got = place_sorted(
        positions, prop.block_cum, prop.super_cum, prop.weights, prop.eligible, PROPENSITY_BLOCK, PROPENSITY_SUPER
    )
    assert np.all(np.diff(got) >= 0)
    counts = np.bincount(got - 1000, minlength=n)
    assert counts[[3, 40, n - 1]].sum() == 0
    w64 = w.astype(np.float64)
    expected = k * w64 / w64.sum()
    keep = expected >= 5
    obs, exp = counts[keep], expected[keep]
    if expected[~keep].sum() > 0:
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4
    assert prop.total == pytest.approx(float(w.sum()), rel=1e-6)
