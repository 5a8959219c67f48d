"""Random draws in both randomness modes (docs/model.md section 9).

Each phase draws through a `Draws` object: its own generator, the key of common random
numbers (the run's seed, or None) and the day. Model code asks for a draw by its shape
(`uniform`, `counts`, `gamma`, `occurrences`, `events`, `chosen`) and never branches on the mode, so
a new random mechanism gets common random numbers by construction.

Sequential mode (`crn = false`) takes every draw from the phase's generator in call order,
with the aggregate shortcuts that make a day's cost follow its events (one Poisson total,
then its members). Under common random numbers (`crn = true`) every draw is a pure function
of (seed, day, who, stream, sub): a SplitMix64 hash of the key turned into a uniform in
[0, 1). Two scenarios run with the same seed then give the same uniforms to everyone they
treat alike, and a Poisson count is taken by inverse CDF from that one uniform, so a small
change of rate changes few counts. Event types are keyed by a hash of their *name*, so adding
an event type to a scenario leaves the draws of the others unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
from scipy.special import gammaincinv

from scslab.hardware import available_cores
from scslab.model.params import name_key

__all__ = ["Draws", "Pool", "keyed_uniform", "name_key", "poisson_inverse", "repeat_ranks"]

# Streams: one code per kind of decision.
BEHAVIOUR, PROPENSITY, DETECT, MISATTRIBUTE, PICK, SHARE = 1, 2, 3, 4, 5, 6
APPEAL, APPEAL_SUCCESS, TRIPS, PLANE, PROMOTION, FIRM_VIOLATION, FIRM_DETECT, TIE = range(7, 15)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TO_UNIT = 2.0**-53
# An event's draws are keyed by its type's name key times this plus its rank that day (capped).
_RANKS = 1024
# Sequential Gamma draws are made in chunks of this many, one random stream a chunk (so that
# threads may share the work).
DRAW_CHUNK = 1 << 20

T = TypeVar("T")
Factor = Callable[[np.ndarray], np.ndarray]


def _mix(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def keyed_uniform(seed: int, day: int, who: np.ndarray, stream: int, sub: np.ndarray | int = 0) -> np.ndarray:
    """Uniforms in [0, 1), one per element of `who`, determined by (seed, day, who, stream, sub)."""
    with np.errstate(over="ignore"):
        head = np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
        head = _mix(head ^ (np.uint64(day + 1) * _GOLDEN))
        head = _mix(head ^ (np.uint64(stream) * _M1))
        x = np.asarray(who).astype(np.uint64) * _GOLDEN
        x = _mix(x ^ (np.asarray(sub).astype(np.uint64) * _M2) ^ head)
        x = _mix(x ^ head)
    return (x >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def poisson_inverse(mean: np.ndarray | float, u: np.ndarray) -> np.ndarray:
    """Poisson counts by inverse CDF: the smallest k with F(k; mean) > u."""
    mean = np.broadcast_to(np.asarray(mean, dtype=float), u.shape)
    count = np.zeros(u.size, dtype=np.int64)
    p = np.exp(-mean)
    cdf = p.copy()
    todo = np.flatnonzero(u >= cdf)
    k = 0
    while todo.size:
        k += 1
        p[todo] *= mean[todo] / k
        cdf[todo] += p[todo]
        count[todo] = k
        # float round-off can leave cdf just below u far in the tail: stop there
        todo = todo[(u[todo] >= cdf[todo]) & (p[todo] > 1e-300)]
    return count


def chunked_gammas(
    rng: np.random.Generator, shape: float, scale: float, size: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """`size` Gamma(shape, scale) draws as float32, drawn in fixed chunks on parallel threads;
    with `mask`, 0 wherever it is False.

    Chunk k always takes the k-th stream spawned from `rng`, so the draws do not depend on the
    number of threads.
    """
    out = np.empty(size, dtype=np.float32)
    starts = range(0, size, DRAW_CHUNK)
    streams = rng.spawn(len(starts))

    def fill(k: int) -> None:
        lo = starts[k]
        draws = streams[k].standard_gamma(shape, size=min(DRAW_CHUNK, size - lo), dtype=np.float32)
        draws *= np.float32(scale)
        if mask is not None:
            draws[~mask[lo : lo + DRAW_CHUNK]] = 0.0
        out[lo : lo + DRAW_CHUNK] = draws

    with ThreadPoolExecutor(max_workers=available_cores()) as pool:
        list(pool.map(fill, range(len(starts))))
    return out


def repeat_ranks(counts: np.ndarray) -> np.ndarray:
    """For counts per item, the rank 0..c-1 of each repeated item (as np.repeat lays them out)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


class Pool(Protocol):
    """The members of a Poisson process and their weights (an event type's propensities)."""

    @property
    def total(self) -> float:
        """The sum of the members' weights."""
        ...

    def ids(self) -> np.ndarray:
        """The members (int64, ascending)."""
        ...

    def weights_of(self, ids: np.ndarray) -> np.ndarray | None:
        """The weights of `ids` (as `ids()` gives them); None when every weight is 1."""
        ...

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """`k` members drawn with replacement in proportion to their weights, in ascending order."""
        ...


@dataclass(frozen=True)
class Draws:
    """One phase's random draws on one day, in either randomness mode.

    `rng` is the phase's generator (sequential mode); `crn_seed` the key of common random
    numbers, or None for sequential draws. Under common random numbers a draw for `who`
    depends only on (crn_seed, day, who, stream, sub): not on who else is drawn, nor on the
    order of the calls. In sequential mode `stream` and `sub` are ignored.
    """

    rng: np.random.Generator
    crn_seed: int | None
    day: int

    def _keyed(self, who: np.ndarray, stream: int, sub: np.ndarray | int = 0) -> np.ndarray:
        """The keyed uniforms of `who` (common random numbers only)."""
        assert self.crn_seed is not None
        return keyed_uniform(self.crn_seed, self.day, who, stream, sub)

    def uniform(self, who: np.ndarray, stream: int, sub: np.ndarray | int = 0) -> np.ndarray:
        """A uniform in [0, 1) per element of `who` (`sub`: a second key per element, or one for all)."""
        if self.crn_seed is None:
            return self.rng.random(np.asarray(who).size)
        return self._keyed(who, stream, sub)

    def counts(self, who: np.ndarray, mean: np.ndarray | float, stream: int, sub: np.ndarray | int = 0) -> np.ndarray:
        """A Poisson count of mean `mean` (one for all, or one per element) per element of `who`."""
        if self.crn_seed is None:
            return self.rng.poisson(np.broadcast_to(mean, np.shape(who))).astype(np.int64)
        some, positive = self._keyed_counts(who, mean, stream, sub)
        counts = np.zeros(np.shape(who), dtype=np.int64)
        counts[some] = positive
        return counts

    def gamma(self, who: np.ndarray, shape: float, scale: float, stream: int, sub: int = 0) -> np.ndarray:
        """A Gamma(shape, scale) draw (float32) per element of `who`, or, when `who` is a bool mask
        over all ids, one per id with 0 wherever the mask is False.

        Sequential: standard Gamma draws in chunks of spawned streams (`chunked_gammas`); keyed:
        the Gamma inverse CDF of each id's uniform.
        """
        mask = who if who.dtype == np.bool_ else None
        if self.crn_seed is None:
            return chunked_gammas(self.rng, shape, scale, who.size, mask)
        ids = np.flatnonzero(mask) if mask is not None else who
        drawn = (gammaincinv(shape, self._keyed(ids, stream, sub)) * scale).astype(np.float32)
        if mask is None:
            return drawn
        out = np.zeros(who.size, dtype=np.float32)
        out[ids] = drawn
        return out

    def _keyed_counts(
        self, who: np.ndarray, mean: np.ndarray | float, stream: int, sub: np.ndarray | int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keyed Poisson counts: the positions in `who` that may have a positive count, and theirs."""
        u = self._keyed(who, stream, sub)
        mean = np.broadcast_to(np.asarray(mean, dtype=float), u.shape)
        # most counts are 0: invert only where u lies above P(0) = exp(-mean)
        some = np.flatnonzero(u >= np.exp(-mean))
        return some, poisson_inverse(mean[some], u[some])

    def occurrences(self, pool: np.ndarray, rate: float, stream: int) -> tuple[np.ndarray, np.ndarray]:
        """Members of `pool` once per event of a Poisson process of `rate` a member a day, and each
        event's rank among its member's events today (the `sub` that keys its later draws).

        Sequential: a Poisson total of events, their members drawn uniformly with replacement (in
        draw order, ranks all 0); keyed: each member's count by inverse CDF (in pool order).
        """
        if self.crn_seed is None:
            k = self.rng.poisson(pool.size * rate) if pool.size else 0
            who = pool[self.rng.integers(0, pool.size, size=k)] if k else pool[:0]
            return who.astype(np.int64), np.zeros(who.size, dtype=np.int64)
        counts = poisson_inverse(rate, self._keyed(pool, stream))
        return np.repeat(pool, counts).astype(np.int64), repeat_ranks(counts)

    def events(
        self, pool: Pool, rate: float, stream: int, sub: int, factor: Factor | None = None, bound: float = 1.0
    ) -> np.ndarray:
        """Members of `pool` once per event (ascending) of a Poisson process of rate
        `rate * weight_i * factor(ids)_i` a day; `factor` (None: 1) must not exceed `bound`.

        Sequential, by thinning: a Poisson total of candidates at `rate * weight * bound`, placed by
        weight, each kept with probability `factor / bound`; only the candidates are touched.
        Keyed: every member's count by inverse CDF of its own uniform.
        """
        if self.crn_seed is None:
            total = pool.total
            k = self.rng.poisson(rate * total * bound) if total > 0 else 0
            if k == 0:
                return np.empty(0, dtype=np.int64)
            ids = pool.sample(self.rng, k)
            if factor is None:
                return ids
            return ids[self.rng.random(ids.size) < factor(ids) / bound]
        ids = pool.ids()
        mean = np.full(ids.size, rate) if factor is None else rate * factor(ids)
        weights = pool.weights_of(ids)
        if weights is not None:
            mean *= weights
        some, counts = self._keyed_counts(ids, mean, stream, sub)
        return np.repeat(ids[some], counts)

    def chosen(
        self, starts: np.ndarray, lengths: np.ndarray, p: float, stream: int, sub: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each position of the ranges `[starts[j], starts[j] + lengths[j])` chosen with probability
        `p`: the chosen positions and the range `j` each lies in (int64, in range order).

        Sequential: a Binomial number placed without replacement (cost follows the chosen); keyed:
        one uniform per position, keyed by the position.
        """
        starts = np.asarray(starts, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if ends.size else 0
        none = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        if self.crn_seed is None:
            k = int(self.rng.binomial(total, p)) if total else 0
            if k == 0:
                return none
            pos = np.sort(self.rng.choice(total, size=k, replace=False))
            owner = np.searchsorted(ends, pos, side="right")
            return starts[owner] + pos - (ends[owner] - lengths[owner]), owner
        if total == 0:
            return none
        owner = np.repeat(np.arange(starts.size, dtype=np.int64), lengths)
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(total, dtype=np.int64)
        drawn = self._keyed(positions, stream, sub) < p
        return positions[drawn], owner[drawn]

    def event_keys(self, actor: np.ndarray, kind: np.ndarray, kind_key: np.ndarray) -> np.ndarray:
        """The `sub` key of each event's later draws: its kind's key (`kind_key[kind]`) and its rank
        among the same actor's events of that kind today. All 0 in sequential mode (read-only)."""
        if self.crn_seed is None:
            return np.broadcast_to(np.int64(0), actor.shape)
        order = np.lexsort((kind, actor))
        rank = np.empty(actor.size, dtype=np.int64)
        same = np.r_[False, (actor[order][1:] == actor[order][:-1]) & (kind[order][1:] == kind[order][:-1])]
        run_start = np.maximum.accumulate(np.where(same, 0, np.arange(actor.size)))
        rank[order] = np.arange(actor.size) - run_start
        return kind_key[kind] * _RANKS + np.minimum(rank, _RANKS - 1)

    def by_mode(self, sequential: Callable[[np.random.Generator], T], keyed: Callable[[], T]) -> T:
        """`sequential(rng)` in sequential mode, `keyed()` under common random numbers: for a
        mechanism whose sequential draw is a population-wide shortcut that keys per citizen cannot
        follow (`keyed` then draws through this object)."""
        if self.crn_seed is None:
            return sequential(self.rng)
        return keyed()
