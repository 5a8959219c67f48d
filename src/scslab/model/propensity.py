"""Fixed propensities `u_ie` (docs/model.md section 3) and the sampler that places the day's candidates
in proportion to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from scslab.model.compiled import AHEAD, CHUNK, prefetch
from scslab.model.draws import PROPENSITY, Draws, name_key
from scslab.model.params import Compiled
from scslab.population.types import Attributes
from scslab.scenario.schema import AGE_BANDS, OCCUPATIONS

# Citizens per block of the propensity sampler: a candidate's block is found by a search over
# block sums, then its entry by a walk of at most this many float32 (one cache line).
PROPENSITY_BLOCK = 16
# Blocks per super-block: the running sums at super-block ends (1/256 of the citizens) stay in
# cache, and a candidate's block is then searched among the super-block's 16 (two cache lines).
PROPENSITY_SUPER = 16


@dataclass
class Propensity:
    """Who may commit one event type, and their propensities `u_ie` with running sums per block.

    `eligible` is shared between event types with the same eligibility rule. When at least half
    the citizens are eligible, `weights` runs over all citizens instead (0 for the others) and
    `eligible` is empty: a drawn position is then the citizen's id, one memory read fewer.
    """

    eligible: np.ndarray  # int32 citizen ids, ascending; empty when `weights` is over everyone
    weights: np.ndarray | None  # u_ie (float32) over `eligible` or everyone; None when h = 0
    block_cum: np.ndarray | None = None  # float64 running sum of `weights` to the end of each block
    super_cum: np.ndarray | None = None  # the same to the end of each run of PROPENSITY_SUPER blocks

    def ids(self) -> np.ndarray:
        """The eligible citizens (int64); over everyone, those of positive propensity (others never act)."""
        if self.weights is not None and self.eligible.size == 0:
            return np.flatnonzero(self.weights > 0)
        return self.eligible.astype(np.int64)

    @property
    def total(self) -> float:
        """Sum of u_ie over the eligible citizens."""
        if self.weights is None:
            return float(self.eligible.size)
        assert self.block_cum is not None
        return float(self.block_cum[-1]) if self.block_cum.size else 0.0

    @classmethod
    def build(cls, eligible: np.ndarray, weights: np.ndarray | None) -> Propensity:
        """The propensities `weights` (float32) over `eligible`, with their block sums."""
        if weights is None:
            return cls(eligible, None)
        block_cum = np.cumsum(block_totals(weights, PROPENSITY_BLOCK))
        ends = np.minimum(
            np.arange(PROPENSITY_SUPER, block_cum.size + PROPENSITY_SUPER, PROPENSITY_SUPER), block_cum.size
        )
        return cls(eligible, weights, block_cum, block_cum[ends - 1])


def _allowed(names: tuple[str, ...], chosen: Sequence[str]) -> np.ndarray:
    """A lookup from code to whether its name is among `chosen`."""
    return np.array([name in chosen for name in names])


def _eligible_mask(cp: Compiled, pop: Attributes, name: str) -> np.ndarray:
    """Whether each citizen may commit event type `name`."""
    rule = cp.p.events[name].eligible
    mask = np.ones(pop.size, dtype=bool)
    if rule.age_bands is not None:
        mask &= _allowed(AGE_BANDS, rule.age_bands)[pop.age_band]
    if rule.occupations is not None:
        mask &= _allowed(OCCUPATIONS, rule.occupations)[pop.occupation]
    if rule.party_member is not None:
        mask &= pop.party_member == rule.party_member
    return mask


def propensities(cp: Compiled, pop: Attributes, rng: np.random.Generator, crn_seed: int | None) -> list[Propensity]:
    """Eligible citizens per event type and their fixed propensities `u_ie ~ Gamma(1/h^2, h^2)`.

    Under common random numbers `u_ie` is drawn from a uniform keyed by (seed, citizen, event
    name), so it does not depend on the other event types.
    """
    draws = Draws(rng, crn_seed, day=-1)
    out = []
    masks: dict[tuple[object, ...], np.ndarray] = {}
    ids: dict[tuple[object, ...], np.ndarray] = {}
    for name, h in zip(cp.events.names, cp.events.heterogeneity, strict=True):
        key = cp.p.events[name].eligible.key()
        if key not in masks:
            masks[key] = _eligible_mask(cp, pop, name)
        mask = masks[key]
        dense = h > 0 and 2 * int(np.count_nonzero(mask)) >= pop.size
        if not dense and key not in ids:
            ids[key] = np.flatnonzero(mask).astype(np.int32)
        eligible = ids[key] if not dense else np.empty(0, dtype=np.int32)
        if h == 0:
            out.append(Propensity.build(eligible, None))
            continue
        weights = draws.gamma(mask if dense else eligible, 1.0 / h**2, h**2, PROPENSITY, name_key(name))
        out.append(Propensity.build(eligible, weights))
    return out


@njit(cache=True, nogil=True, parallel=True)
def block_totals(weights: np.ndarray, block: int) -> np.ndarray:  # pragma: no cover - compiled
    """Sums of `weights` over consecutive blocks of `block` entries, added in order (float64)."""
    n_blocks = (weights.size + block - 1) // block
    out = np.zeros(n_blocks)
    for b in prange(n_blocks):
        acc = 0.0
        for k in range(b * block, min((b + 1) * block, weights.size)):
            acc += weights[k]
        out[b] = acc
    return out


@njit(cache=True, nogil=True, parallel=True)
def place_sorted(  # pragma: no cover - compiled
    positions: np.ndarray,
    block_cum: np.ndarray,
    super_cum: np.ndarray,
    weights: np.ndarray,
    eligible: np.ndarray,
    block: int,
    per_super: int,
) -> np.ndarray:
    """The citizen at each of the ascending `positions` along the running sum of `weights`.

    `block_cum[b]` is the running sum of `weights` to the end of block b, and `super_cum[c]` the
    same to the end of super-block c (`per_super` blocks). In three passes over each chunk of
    positions: the super-block, by a galloping search forward from the previous position's (a
    small array, so it stays in cache); the block, by a walk inside the super-block;
    the entry, by a walk inside the block. The last two request their memory ahead (`prefetch`).
    Round-off at a block's end falls back on the block's last entry of positive weight. Chunks
    run in parallel. An empty `eligible` means that the weights run over all citizens: the
    entry is the citizen.
    """
    n_blocks = block_cum.size
    n_supers = super_cum.size
    lines = max(1, per_super * 8 // 64)  # cache lines of block_cum in one super-block
    out = np.empty(positions.size, dtype=np.int64)
    for c in prange((positions.size + CHUNK - 1) // CHUNK):
        lo_j = c * CHUNK
        hi_j = min(lo_j + CHUNK, positions.size)
        # 1. the first super-block whose running sum exceeds the position
        s = min(np.searchsorted(super_cum, positions[lo_j], side="right"), n_supers - 1)
        for j in range(lo_j, hi_j):
            x = positions[j]
            if super_cum[s] <= x and s < n_supers - 1:
                lo = s
                step = 1
                hi = min(lo + step, n_supers - 1)
                while hi < n_supers - 1 and super_cum[hi] <= x:
                    lo = hi
                    step *= 2
                    hi = min(lo + step, n_supers - 1)
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if super_cum[mid] <= x:
                        lo = mid
                    else:
                        hi = mid
                s = hi
            out[j] = s
        # 2. the first block of that super-block whose running sum exceeds the position (from the
        # previous position's block when they share the super-block)
        b = -1
        for j in range(lo_j, hi_j):
            if j + AHEAD < hi_j and out[j + AHEAD] != out[j + AHEAD - 1]:
                for line in range(lines):
                    prefetch(block_cum, min(out[j + AHEAD] * per_super + line * 8, n_blocks - 1))
            lo = out[j] * per_super
            hi = min(lo + per_super, n_blocks) - 1
            lo = max(lo, b)
            x = positions[j]
            while lo < hi and block_cum[lo] <= x:  # a walk over at most per_super sums (two lines)
                lo += 1
            b = lo
            out[j] = lo
        # 3. the entry inside the block
        for j in range(lo_j, hi_j):
            if j + AHEAD < hi_j:
                prefetch(weights, out[j + AHEAD] * block)
                if eligible.size:
                    prefetch(eligible, out[j + AHEAD] * block)
            b = out[j]
            target = positions[j] - (block_cum[b - 1] if b > 0 else 0.0)
            k = b * block
            last = min(k + block, weights.size)
            chosen = -1
            acc = 0.0
            while k < last:
                w = weights[k]
                if w > 0:
                    chosen = k
                    acc += w
                    if acc > target:
                        break
                k += 1
            out[j] = eligible[chosen] if eligible.size else chosen
    return out
