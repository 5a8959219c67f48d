"""Intervals and quoting (intervals.py): against chi-square and beta quantiles, by hand, and by their coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from scslab.intervals import (
    binomial,
    count_ratio,
    katz,
    paired_ratio,
    parts,
    poisson,
    quote,
    seeds_count_interval,
    step,
)


@pytest.mark.parametrize("k", [0, 1, 5, 69, 518, 24_926])
def test_garwood_is_the_chi_square_interval(k: int) -> None:
    low, high = poisson(k)
    assert low == (0.0 if k == 0 else pytest.approx(stats.chi2.ppf(0.025, 2 * k) / 2, rel=1e-12))
    assert high == pytest.approx(stats.chi2.ppf(0.975, 2 * k + 2) / 2, rel=1e-12)
    assert 0 <= low <= k <= high


def test_garwood_textbook_values() -> None:
    # Garwood (1936) / the usual tables: 0 -> (0, 3.689), 5 -> (1.623, 11.668)
    assert poisson(0)[1] == pytest.approx(-math.log(0.025), rel=1e-9)  # P(0) = exp(-mu) = 2.5%
    assert poisson(5) == pytest.approx((1.6235, 11.6683), abs=1e-4)


@pytest.mark.parametrize("mu", [0.5, 3.0, 12.0, 40.0])
def test_garwood_covers_at_least_95_percent(mu: float) -> None:
    ks = np.arange(0, int(mu + 20 * math.sqrt(mu) + 30))
    covered = np.array([lo <= mu <= hi for lo, hi in (poisson(int(k)) for k in ks)])
    assert stats.poisson.pmf(ks, mu)[covered].sum() >= 0.95


def test_dispersion_widens_and_keeps_the_centre() -> None:
    plain, wide = poisson(100), poisson(100, dispersion=4.0)
    assert wide[0] < plain[0] and wide[1] > plain[1] and wide[0] >= 0
    # the interval of 25 effective units, times 4
    assert wide == pytest.approx(tuple(4 * x for x in poisson(25)), rel=1e-12)
    assert poisson(100, dispersion=0.5) == plain  # never narrowed


def test_clopper_pearson_by_hand() -> None:
    # k = 0: the upper end solves (1 - p)^n = 2.5%; k = n: the lower end solves p^n = 2.5%
    assert binomial(0, 10) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12))
    assert binomial(10, 10) == (pytest.approx(0.025 ** (1 / 10), rel=1e-12), 1.0)
    low, high = binomial(69, 788)
    assert low == pytest.approx(stats.beta.ppf(0.025, 69, 720), rel=1e-12)
    assert high == pytest.approx(stats.beta.ppf(0.975, 70, 719), rel=1e-12)
    assert binomial(0, 0) == (0.0, 1.0)


def test_katz_by_hand() -> None:
    # (10/100) / (20/400) = 2; se of the log = sqrt(1/10 - 1/100 + 1/20 - 1/400) = sqrt(0.1375)
    ratio, low, high = katz(10, 100, 20, 400)  # type: ignore[misc]
    half = 1.959963984540054 * math.sqrt(0.1375)
    assert ratio == pytest.approx(2.0)
    assert (low, high) == pytest.approx((2 * math.exp(-half), 2 * math.exp(half)), rel=1e-12)
    assert (low, high) == pytest.approx((0.9670, 4.1367), abs=1e-4)
    assert katz(0, 100, 20, 400) is None and katz(5, 100, 0, 400) is None


def test_count_ratio_is_symmetric_on_the_log_scale() -> None:
    ratio, low, high = count_ratio(50, 50)  # type: ignore[misc]
    assert ratio == 1 and low * high == pytest.approx(1.0, rel=1e-9)
    assert count_ratio(5, 0) is None


def test_paired_ratio_by_hand() -> None:
    a, b = [9.0, 11.0, 10.0, 10.0], [10.0, 10.0, 10.0, 10.0]
    r, low, high = paired_ratio(a, b)  # type: ignore[misc]
    # R = 40 / 40 = 1; residuals -1, 1, 0, 0; var = 4 / 3 * 2 / 40^2
    se = math.sqrt(4 / 3 * 2) / 40
    assert r == 1 and (low, high) == pytest.approx((1 - 1.959964 * se, 1 + 1.959964 * se), rel=1e-6)
    _, _, high4 = paired_ratio(a, b, design_effect=4.0)  # type: ignore[misc]
    assert high4 - 1 == pytest.approx(2 * (high - 1), rel=1e-12)
    assert paired_ratio([1.0], [2.0]) is None and paired_ratio([1.0, 2.0], [0.0, 0.0]) is None


def test_seed_intervals_of_counts_never_go_below_zero() -> None:
    low, high = seeds_count_interval([0, 0, 1])
    assert low == 0 and high > 1 / 3
    low, high = seeds_count_interval([100, 110, 90, 105])
    assert 0 < low < 101.25 < high
    assert all(math.isnan(x) for x in seeds_count_interval([3]))


def test_step_is_two_significant_figures_of_the_half_width() -> None:
    assert step(5_370, 8_730) == 100  # half-width 1,680
    assert step(0.069, 0.110) == pytest.approx(0.001)  # half-width 0.0205
    assert step(3, 3) == 0


def test_quote_rounds_to_what_the_interval_supports() -> None:
    # 69 simulated people at 1:100: never "6,900" to the last digit of a false precision
    low, high = poisson(69)
    assert quote(6_900, 100 * low, 100 * high) == "about 6,900 (95% interval 5,400 to 8,700)"
    low, high = poisson(518)
    assert quote(518 * 440, 440 * low, 440 * high) == "about 228,000 (95% interval 209,000 to 248,000)"
    assert quote(0.088, 0.069, 0.110, share=True) == "8.8% (95% interval 6.9% to 11.0%)"
    assert quote(0, 0, 368.9) == "0 (95% interval 0 to 370)"
    assert quote(3, 0.06, 12.3) == "3 (95% interval 0 to 12)"  # a count: no decimals, never below 0
    assert quote(-0.02, -0.05, 0.01, share=True) == "-2.0% (95% interval -5.0% to 1.0%)"  # a change may be < 0
    assert parts(791.16, 790.80, 791.52, integer=False) == ("791.16", "790.80", "791.52")
    assert parts(2, 0.5, math.inf) == ("2", "0", "no upper bound")
