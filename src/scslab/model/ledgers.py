"""The ledgers (docs/model.md section 4) and the clamped score (section 5): each citizen's record, the
per-citizen arithmetic on it, and the score index that aggregates the scores.

`State.ledgers` is one record of five float64 a citizen (read together, so kept together): the
columns L_OWN, L_MISATTRIBUTED, L_ASSOCIATION, L_MERIT and L_SCORE. `L_` marks a ledger column,
apart from the causes of a listing (`params.OWN_CONDUCT` ... `params.ASSOCIATION`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from scslab.model.params import SCORE_BIN

L_OWN, L_MISATTRIBUTED, L_ASSOCIATION, L_MERIT, L_SCORE = range(5)
LEDGER_COLUMNS = 5
# Scores and the counterfactual are kept on a grid of 1 / SNAP points (`snap`), far below any
# points a scenario can set, so that whole or decimal points that meet a bound exactly do meet it.
SNAP = 1e9


@njit(cache=True, nogil=True, inline="always")
def snap(score: float) -> float:  # pragma: no cover - compiled
    """`score` on the grid of 1 / SNAP points (the nearest double to the multiple, as written in
    decimal): the round-off of proportional recovery (a debt of 100.00000000000003 after a few
    days' shares, say) must not keep a whole-point score a hair below a bound it meets in exact
    arithmetic."""
    return np.rint(score * SNAP) / SNAP


@njit(cache=True, nogil=True, inline="always")
def negative_debt(ledgers: np.ndarray, i: int) -> float:  # pragma: no cover - compiled
    """The points citizen i owes: minus the sum of the negative parts of own, misattributed and association."""
    return -(min(ledgers[i, L_OWN], 0.0) + min(ledgers[i, L_MISATTRIBUTED], 0.0) + min(ledgers[i, L_ASSOCIATION], 0.0))


@njit(cache=True, nogil=True, inline="always")
def recover_one(ledgers: np.ndarray, i: int, per_day: float) -> bool:  # pragma: no cover - compiled
    """Give `per_day` points back to citizen i, from the negative ledgers in proportion to their
    size; a ledger cleared is set to exactly zero. Returns whether all are now clear."""
    o = min(ledgers[i, L_OWN], 0.0)
    m = min(ledgers[i, L_MISATTRIBUTED], 0.0)
    a = min(ledgers[i, L_ASSOCIATION], 0.0)
    debt = negative_debt(ledgers, i)
    back = min(per_day, debt)
    share = back / debt if debt > 0 else 0.0
    ledgers[i, L_OWN] -= o * share
    ledgers[i, L_MISATTRIBUTED] -= m * share
    ledgers[i, L_ASSOCIATION] -= a * share
    if back < debt:
        return False
    # cleared ledgers are set to exactly zero so that rounding leaves no residue
    for c in (L_OWN, L_MISATTRIBUTED, L_ASSOCIATION):
        ledgers[i, c] = max(ledgers[i, c], 0.0)
    return True


@njit(cache=True, nogil=True, inline="always")
def counterfactual_score(ledgers: np.ndarray, i: int, bounds: np.ndarray) -> float:  # pragma: no cover - compiled
    """Citizen i's counterfactual score `clamp(S0 + own + merit)`, on the grid of `snap` (`bounds`:
    `Compiled.score_bounds`, that is start, min, max, bin width and threshold)."""
    return snap(min(max(bounds[0] + ledgers[i, L_OWN] + ledgers[i, L_MERIT], bounds[1]), bounds[2]))


@njit(cache=True, nogil=True)
def counterfactual_scores(ledgers: np.ndarray, ids: np.ndarray, bounds: np.ndarray) -> np.ndarray:  # pragma: no cover
    """`counterfactual_score` of each of `ids`."""
    out = np.empty(ids.size)
    for j in range(ids.size):
        out[j] = counterfactual_score(ledgers, ids[j], bounds)
    return out


@njit(cache=True, nogil=True, inline="always")
def score_tier(score: float, tier_bounds: np.ndarray, last_tier: int) -> int:  # pragma: no cover - compiled
    """The tier index (0 = top) of a score: the number of tier bounds (descending) strictly above it;
    a score below every bound falls in the lowest tier, `last_tier`."""
    t = 0
    while t < tier_bounds.size and tier_bounds[t] > score:
        t += 1
    return min(t, last_tier)


@njit(cache=True, nogil=True)
def score_tiers(scores: np.ndarray, tier_bounds: np.ndarray, n_tiers: int) -> np.ndarray:  # pragma: no cover
    """`score_tier` of each score (int8)."""
    out = np.empty(scores.size, dtype=np.int8)
    for j in range(scores.size):
        out[j] = score_tier(scores[j], tier_bounds, n_tiers - 1)
    return out


@njit(cache=True, nogil=True, inline="always")
def bin_of(score: float, low: float, bin_width: float, n_bins: int) -> int:  # pragma: no cover - compiled
    """The histogram bin of a score (`ScoreIndex._bins` computes the same with numpy)."""
    return min(max(int(np.rint((score - low) / bin_width)), 0), n_bins - 1)


@njit(cache=True, nogil=True, inline="always")
def moving_slot(bin_: int, cur: int, q: int, moving_size: int, n_bins: int) -> int:  # pragma: no cover - compiled
    """The slot of the moving histogram of a score in bin `bin_` on day `cur`: `bin - q cur + offset`,
    with the score rising q bins a day and `offset = q (days + 1)` (the histogram has
    `n_bins + q (days + 2)` slots, so that every day from -1 to the last fits)."""
    return bin_ - q * cur + moving_size - n_bins - q


@njit(cache=True, nogil=True)
def quantile_bins(  # pragma: no cover - compiled
    hist: np.ndarray, moving_hist: np.ndarray, first: int, targets: np.ndarray
) -> np.ndarray:
    """For each ascending target count, the first bin at which the running count of `hist` plus
    `moving_hist` from slot `first` (none when `first` < 0) reaches it (the last bin if none does)."""
    out = np.full(targets.size, hist.size - 1, dtype=np.int64)
    k = 0
    acc = 0
    for b in range(hist.size):
        acc += hist[b]
        if first >= 0:
            acc += moving_hist[first + b]
        while k < targets.size and acc >= targets[k]:
            out[k] = b
            k += 1
        if k == targets.size:
            break
    return out


class ScoreIndex:
    """Aggregates of the score kept up to date incrementally: sum, tier counts, a 0.1-point histogram.

    Bins are centred on multiples of 0.1 above `score.min`, so a quantile is exact for scores
    on that grid and within 0.05 points otherwise. `posting.refresh` moves citizens between bins.
    """

    BIN = SCORE_BIN

    def __init__(
        self, n: int, score: float, tier: int, low: float, high: float, n_tiers: int, bins_a_day: int = 0, days: int = 0
    ) -> None:
        """The index of `n` citizens who all have `score` and `tier` (everyone at the start).

        With `bins_a_day` > 0 (scheduled recovery over `days` days) the scores that rise that many
        bins a day are kept apart, in `moving_hist`, at `bin - bins_a_day * day + offset`
        (`moving_slot`), so that they move without being touched.
        """
        self.low = low
        self.n_bins = int(np.ceil((high - low) / self.BIN)) + 1
        self.hist = np.zeros(self.n_bins, dtype=np.int64)
        self.hist[self._bins(np.array([score]))[0]] = n
        self.tier_counts = np.zeros(n_tiers, dtype=np.int64)
        self.tier_counts[tier] = n
        self.total = n * float(score)
        self.n = n
        self.bins_a_day = bins_a_day
        self.moving_hist = np.zeros(self.n_bins + bins_a_day * (days + 2) if bins_a_day else 0, dtype=np.int64)
        self.n_moving = 0  # citizens counted in moving_hist

    def _bins(self, score: np.ndarray) -> np.ndarray:
        """The bin of each score (`bin_of` and `posting.refresh` compute the same for the citizens it moves)."""
        return np.clip(np.rint((score - self.low) / self.BIN).astype(np.int64), 0, self.n_bins - 1)

    def first_slot(self, day: int) -> int:
        """The slot of `moving_hist` that holds bin 0 at the end of `day`'s recovery."""
        return moving_slot(0, day, self.bins_a_day, self.moving_hist.size, self.n_bins)

    def histogram(self, day: int) -> np.ndarray:
        """Everyone's scores at the end of `day`'s recovery, by bin: the still ones and the moving ones."""
        if self.n_moving == 0:
            return self.hist
        first = self.first_slot(day)
        return self.hist + self.moving_hist[first : first + self.n_bins]

    def quantile(self, q: float, day: int) -> float:
        """The q-quantile of the score on `day` (the lowest grid value with at least a share q at or below it)."""
        return float(self.quantiles(np.array([q]), day)[0])

    def quantiles(self, q: np.ndarray, day: int) -> np.ndarray:
        """`quantile` of each of `q` (ascending), from one running count over both histograms."""
        first = self.first_slot(day) if self.n_moving else -1
        return self.low + self.BIN * quantile_bins(self.hist, self.moving_hist, first, q * self.n)


class ScoringArrays(NamedTuple):
    """The arrays the scoring kernels read and write, as one argument (numba takes a named tuple of
    arrays): built once per run from the state (`State.scoring_arrays`), never copied."""

    ledgers: np.ndarray  # the ledger records (L_OWN ... L_SCORE)
    tier: np.ndarray  # int8 tier index per citizen
    bounds: np.ndarray  # `Compiled.score_bounds`: (start, min, max, bin width, threshold)
    tier_bounds: np.ndarray  # the tiers' lower bounds, descending
    hist: np.ndarray  # ScoreIndex.hist
    tier_counts: np.ndarray  # ScoreIndex.tier_counts
    moving_hist: np.ndarray  # ScoreIndex.moving_hist
    listed: np.ndarray  # the blacklist's membership mask
    recovering: np.ndarray  # the recovering set's membership mask
    recs: np.ndarray  # scheduled recovery's records (`recovery.REC_DAY` ...)
    wake_meta: np.ndarray  # the days' wakes (`recovery.HEAD` ...)
    wake_pool: np.ndarray  # the blocks of the wakes (`recovery.WAKE_BLOCK`)
