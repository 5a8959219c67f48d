"""Intervals for the figures a run reports, and the text that quotes them (docs/uncertainty.md).

A count k of simulated people or events gets the exact (Garwood) Poisson interval; a share k of
n the exact (Clopper-Pearson) binomial interval; a ratio of two shares Katz's log interval; a
ratio of two counts the interval of the conditional binomial. None goes below 0. `quote` writes a
value with the precision its interval supports: never to the last digit of a scaled count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LEVEL = 0.95
FEW = 30  # a figure resting on fewer simulated people or events than this is flagged


def _z(level: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2))


def poisson(k: float, level: float = LEVEL, dispersion: float = 1.0) -> tuple[float, float]:
    """The exact (Garwood) interval of a Poisson mean from the count `k`.

    With `dispersion` D > 1 (variance D times the mean), the interval of the count k / D,
    multiplied back by D: the same interval for an overdispersed count of k / D "effective" units.
    """
    from scipy import stats

    if k < 0 or dispersion <= 0:
        raise ValueError(f"poisson: k={k}, dispersion={dispersion}")
    d = max(1.0, dispersion)
    k_eff = k / d
    alpha = 1 - level
    low = 0.0 if k_eff == 0 else float(stats.chi2.ppf(alpha / 2, 2 * k_eff)) / 2
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * k_eff + 2)) / 2
    return low * d, high * d


def binomial(k: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a share from `k` of `n`; (0, 1) with n = 0."""
    from scipy import stats

    if n <= 0:
        return 0.0, 1.0
    alpha = 1 - level
    low = 0.0 if k <= 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k >= n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def katz(a: float, n1: float, b: float, n2: float, level: float = LEVEL) -> tuple[float, float, float] | None:
    """The ratio of shares (a / n1) / (b / n2) with Katz's log interval; None where a or b is 0."""
    if a <= 0 or b <= 0 or n1 <= 0 or n2 <= 0:
        return None
    ratio = (a / n1) / (b / n2)
    se = math.sqrt(max(0.0, 1 / a - 1 / n1 + 1 / b - 1 / n2))
    z = _z(level)
    return ratio, ratio * math.exp(-z * se), ratio * math.exp(z * se)


def count_ratio(a: float, b: float, level: float = LEVEL) -> tuple[float, float, float] | None:
    """The ratio a / b of two Poisson counts, with the interval of the conditional binomial.

    Given a + b, a is binomial with share p = ra / (ra + rb); the Clopper-Pearson interval of p
    gives that of the ratio p / (1 - p). For positively correlated counts (common random numbers)
    it is conservative. None where b is 0.
    """
    if b <= 0:
        return None
    low, high = binomial(a, a + b, level)
    upper = math.inf if high >= 1 else high / (1 - high)
    return a / b, low / (1 - low), upper


def t_interval(values: Sequence[float] | np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The t interval of a mean over a few seeds; NaN with fewer than two values."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    k = x.size
    if k < 2:
        return math.nan, math.nan
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, k - 1)) * sd / math.sqrt(k)
    return mean - half, mean + half


def seeds_count_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The interval of a count's mean over a few seeds, never below 0.

    The t interval on the square root of the counts (which steadies a count's variance), squared
    back; its low end is 0 where the root's interval reaches below 0. NaN with fewer than two values.
    """
    if len(values) < 2:
        return math.nan, math.nan
    if min(values) < 0:
        raise ValueError("seeds_count_interval: a negative count")
    low, high = t_interval([math.sqrt(v) for v in values], level)
    return max(0.0, low) ** 2, high**2


def step(low: float, high: float) -> float:
    """The rounding step an interval supports: two significant figures of its half-width (0 for no width)."""
    half = (high - low) / 2
    if not math.isfinite(half) or half <= 0:
        return 0.0
    return 10.0 ** (math.floor(math.log10(half)) - 1)


def rounded(value: float, to: float) -> float:
    """`value` rounded to a multiple of `to` (unchanged with `to` 0)."""
    return value if to <= 0 else round(value / to) * to


def _digits(to: float) -> int:
    return max(0, -math.floor(math.log10(to) + 1e-9)) if to > 0 else 0


def parts(value: float, low: float, high: float, share: bool = False, integer: bool = True) -> tuple[str, str, str]:
    """The value and the ends of its interval as text, rounded to the step the interval supports.

    Counts (`integer`) never show decimals; a share is in percent; a low end never goes below 0 when
    the interval's does not; an infinite end reads "no upper bound".
    """
    factor = 100.0 if share else 1.0
    v, lo, hi = value * factor, low * factor, high * factor
    to = step(lo, hi if math.isfinite(hi) else lo)
    if integer and not share:
        to = max(to, 1.0)
    digits = _digits(to)
    unit = "%" if share else ""
    out = []
    for x in (v, lo, hi):
        if not math.isfinite(x):
            out.append("no upper bound")
            continue
        r = max(0.0, rounded(x, to)) if x >= 0 else rounded(x, to)
        out.append(_fixed(r, digits) + unit)
    return out[0], out[1], out[2]


def quote(value: float, low: float, high: float, share: bool = False, integer: bool = True) -> str:
    """A value with its 95% interval at the precision the interval supports.

    "about 6,900 (95% interval 5,400 to 8,700)"; a share in percent: "8.8% (95% interval 6.9%
    to 11.0%)". A count reads "about" where its interval is wider than one unit or rounding changed it.
    """
    if not math.isfinite(value):
        return "n/a"
    v, lo, hi = parts(value, low, high, share, integer)
    rounded_off = not share and (step(low, high) >= 1 or float(v.replace(",", "")) != value)
    about = "about " if rounded_off and value != 0 else ""
    return f"{about}{v} ({LEVEL:.0%} interval {lo} to {hi})"


def _fixed(x: float, digits: int) -> str:
    if not math.isfinite(x):
        return "n/a"
    text = f"{x:,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def paired_ratio(
    a: Sequence[float], b: Sequence[float], level: float = LEVEL, design_effect: float = 1.0
) -> tuple[float, float, float] | None:
    """The ratio sum(a) / sum(b) of paired daily counts, with the normal interval of a ratio estimator whose
    variance comes from the days' residuals a_d - R b_d (the pairing's correlation is in them), that variance
    multiplied by `design_effect` (for days that are not independent). None where sum(b) is 0 or there are
    fewer than two days."""
    w = len(a)
    total_b = float(sum(b))
    if total_b <= 0 or w < 2:
        return None
    r = float(sum(a)) / total_b
    residuals = [x - r * y for x, y in zip(a, b, strict=True)]
    se = math.sqrt(design_effect * w / (w - 1) * sum(e * e for e in residuals)) / total_b
    half = _z(level) * se
    return r, max(0.0, r - half), r + half
