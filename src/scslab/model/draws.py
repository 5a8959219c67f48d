"""Random draws for common random numbers (MODEL.md section 9).

With `crn = true` every draw is a pure function of (seed, day, who, stream, sub): a
SplitMix64 hash of the key turned into a uniform in [0, 1). Two scenarios run with the
same seed then give the same uniforms to everyone they treat alike, and a Poisson count is
taken by inverse CDF from that one uniform, so a small change of rate changes few counts.
Event types are keyed by a hash of their *name*, so adding an event type to a scenario
leaves the draws of the others unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scslab.model.params import name_key

if TYPE_CHECKING:  # model.state imports this module
    from scslab.model.state import State

__all__ = ["keyed_uniform", "name_key", "occurrences", "poisson_inverse", "uniform"]

# Streams: one code per kind of decision.
BEHAVIOUR, PROPENSITY, DETECT, MISATTRIBUTE, PICK, SHARE = 1, 2, 3, 4, 5, 6
APPEAL, APPEAL_SUCCESS, TRIPS, PLANE, PROMOTION, FIRM_VIOLATION, FIRM_DETECT, TIE = range(7, 15)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TO_UNIT = 2.0**-53


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


def occurrences(counts: np.ndarray) -> np.ndarray:
    """For counts per item, the rank 0..c-1 of each repeated item (as np.repeat lays them out)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def uniform(
    state: State, rng: np.random.Generator, day: int, who: np.ndarray, stream: int, sub: np.ndarray | int = 0
) -> np.ndarray:
    """A uniform per element of `who`: from the phase's stream, or keyed under CRN."""
    if state.crn_seed is None:
        return rng.random(np.asarray(who).size)
    return keyed_uniform(state.crn_seed, day, who, stream, sub)
