"""The three network layers (family, work, friends) as symmetric CSR `Layer`s."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from scslab.hardware import available_cores
from scslab.population.csr import CHUNK, CsrBuilder, empty_csr
from scslab.population.households import MAX_HOUSEHOLD_SIZE
from scslab.population.sampling import range_of, segment_ids, uniform_below
from scslab.population.types import AGE_ADULT, AGE_SENIOR, Layer

# Friends' candidate pairs are drawn in units of this many, one random stream a unit.
FRIEND_UNIT = 1 << 22
# Assumption: the share of adults with a living parent, linked in the family layer to one
# senior of their district in another household (the parent-child link of the model).
PARENT_LINK_SHARE = 0.6


def friends_layer(
    district_start: np.ndarray, mean_degree: float, same_district: float, rng: np.random.Generator
) -> Layer:
    """Friends: `round(N * k / 2)` candidate ties from a uniform citizen to a uniform citizen of
    the same district (probability `same_district`) or of the whole population; self-loops and
    repeated ties are dropped. Citizens of district d are the ids `district_start[d]` onwards."""
    n = int(district_start[-1])
    n_pairs = round(n * mean_degree / 2)
    if n_pairs == 0:
        return Layer("friends", *empty_csr(n))
    # Each candidate is local independently with probability same_district, so the number of
    # local candidates is Binomial(n_pairs, same_district); draw local and far ones apart, in
    # fixed units of pairs, each from its own spawned stream, on parallel threads.
    n_local = int(rng.binomial(n_pairs, same_district))
    first = district_start.astype(np.int32)
    count = np.diff(district_start).astype(np.float64)
    builder = CsrBuilder(n, n_pairs)
    units = [(lo, min(lo + FRIEND_UNIT, n_local), True) for lo in range(0, n_local, FRIEND_UNIT)]
    units += [(lo, min(lo + FRIEND_UNIT, n_pairs), False) for lo in range(n_local, n_pairs, FRIEND_UNIT)]
    slots = [builder.reserve(hi - lo) for lo, hi, _ in units]
    streams = rng.spawn(len(units))

    def draw(u: int) -> None:
        lo, hi, local = units[u]
        g = streams[u]
        for at in range(lo, hi, CHUNK):
            size = min(CHUNK, hi - at)
            a = g.integers(0, n, size=size, dtype=np.int32)
            if local:
                d = range_of(a, district_start)
                b = g.random(size)
                b *= count[d]
                other = first[d] + b.astype(np.int32)
            else:
                other = g.integers(0, n, size=size, dtype=np.int32)
            builder.write_at(slots[u] + at - lo, a, other)

    with ThreadPoolExecutor(max_workers=available_cores()) as pool:
        list(pool.map(draw, range(len(units))))
    return Layer("friends", *builder.finish())


def _parent_links(
    age_band: np.ndarray, district: np.ndarray, household: np.ndarray, n_districts: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Adult-senior pairs: each adult, with probability PARENT_LINK_SHARE, to a uniform senior of
    the same district in another household (one redraw, then dropped; dropped if none)."""
    seniors = np.flatnonzero(age_band == AGE_SENIOR).astype(np.int32)  # sorted by id, so by district
    start = np.zeros(n_districts + 1, dtype=np.int64)
    np.cumsum(np.bincount(district[seniors], minlength=n_districts), out=start[1:])
    count = np.diff(start)
    adults = np.flatnonzero(age_band == AGE_ADULT).astype(np.int32)
    child = adults[rng.random(adults.size) < PARENT_LINK_SHARE]
    del adults
    d = district[child]
    has = count[d] > 0
    child, d = child[has], d[has]
    parent = seniors[start[d] + uniform_below(rng, count[d])]
    same = np.flatnonzero(household[parent] == household[child])
    parent[same] = seniors[start[d[same]] + uniform_below(rng, count[d[same]])]
    ok = household[parent] != household[child]
    return child[ok], parent[ok]


def family_layer(
    age_band: np.ndarray,
    district: np.ndarray,
    household: np.ndarray,
    household_start: np.ndarray,
    household_size: np.ndarray,
    n_districts: int,
    rng: np.random.Generator,
) -> Layer:
    """Family: the complete graph inside each household plus the parent links."""
    n = age_band.size
    child, parent = _parent_links(age_band, district, household, n_districts, rng)
    heads_by_size = [np.flatnonzero(household_size == s) for s in range(MAX_HOUSEHOLD_SIZE + 1)]
    capacity = child.size + sum(h.size * s * (s - 1) // 2 for s, h in enumerate(heads_by_size))
    builder = CsrBuilder(n, capacity)
    builder.add(child, parent)
    del child, parent
    for s in range(2, MAX_HOUSEHOLD_SIZE + 1):
        heads = household_start[heads_by_size[s]].astype(np.int32)
        i, j = np.triu_indices(s, k=1)
        builder.add((heads[:, None] + i[None, :]).ravel(), (heads[:, None] + j[None, :]).ravel())
    return Layer("family", *builder.finish())


def _edge_probability(size: np.ndarray, mean_degree: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs s(s-1)/2 (int64) and tie probability min(1, k / (s - 1)) of groups of size s."""
    s = size.astype(np.int64)
    return s * (s - 1) // 2, np.minimum(1.0, mean_degree / np.maximum(s - 1, 1))


def er_pair_indices(size: np.ndarray, mean_degree: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An Erdős–Rényi graph G(s, p), p = min(1, k / (s - 1)), inside each group of `size` s.

    Returns `(group int32, t int64)`: the chosen pairs as indices `t` into the group's
    s(s-1)/2 pairs, ascending within a group. Each pair is kept independently with
    probability p, by geometric skips from one kept pair to the next: so a group has
    Binomial(s(s-1)/2, p) ties, all distinct, uniformly placed. Groups whose skips have not
    passed their last pair are continued in further rounds.
    """
    n_pairs, p = _edge_probability(size, mean_degree)
    # The skip after a kept pair is 1 + floor(E / -log(1 - p)), E ~ Exponential(1); 0 scale when p = 1.
    with np.errstate(divide="ignore"):
        scale = np.where(p < 1.0, -1.0 / np.log1p(-np.minimum(p, 1.0 - 1e-16)), 0.0)
    last = np.full(size.size, -1, dtype=np.int64)  # the last pair index reached so far
    todo = np.flatnonzero((n_pairs > 0) & (p > 0)).astype(np.int32)
    groups: list[np.ndarray] = []
    pairs: list[np.ndarray] = []
    while todo.size:
        remaining = n_pairs[todo] - 1 - last[todo]
        mean = remaining * p[todo]
        n_draws = np.minimum(remaining, np.ceil(mean + 2.0 * np.sqrt(mean) + 1.0).astype(np.int64))
        seg = segment_ids(n_draws)
        skip = rng.standard_exponential(seg.size)
        skip *= np.repeat(scale[todo], n_draws)
        t = skip.astype(np.int64)
        del skip
        t += 1
        np.cumsum(t, out=t)
        ends = np.cumsum(n_draws)
        # Restart the running sum at each group, from the group's last reached pair.
        t -= np.repeat(np.concatenate(([0], t[ends[:-1] - 1])) - last[todo], n_draws)
        keep = t < np.repeat(n_pairs[todo], n_draws)
        groups.append(todo[seg[keep]])
        pairs.append(t[keep])
        end = t[ends - 1]
        del seg, t, keep
        more = end < n_pairs[todo] - 1
        last[todo[more]] = end[more]
        todo = todo[more]
    if not groups:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    return np.concatenate(groups), np.concatenate(pairs)


def decode_pair_index(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair index t -> (i, j), 0 <= i < j, for pairs enumerated as t = j(j-1)/2 + i."""
    j = np.floor((1.0 + np.sqrt(1.0 + 8.0 * t)) / 2.0).astype(np.int64)
    j -= j * (j - 1) // 2 > t  # guards against float rounding for very large t
    j += (j + 1) * j // 2 <= t
    i = t - j * (j - 1) // 2
    return i, j


def work_layer(n: int, members: np.ndarray, start: np.ndarray, mean_degree: float, rng: np.random.Generator) -> Layer:
    """Work: an Erdős–Rényi graph with mean degree `mean_degree` inside each firm (empty if 0).

    `members` are the worker ids sorted by firm and `start` the firms' offsets into it.
    Firms are wired in blocks of about CHUNK expected ties, to keep the temporaries small.
    """
    size = np.diff(start)
    if mean_degree <= 0 or members.size == 0:
        return Layer("work", *empty_csr(n))
    n_pairs, p = _edge_probability(size, mean_degree)
    expected = np.cumsum(n_pairs * p)
    total = float(expected[-1])
    builder = CsrBuilder(n, int(total + 8.0 * np.sqrt(total) + 64))
    cuts = np.searchsorted(expected, np.arange(CHUNK, total, CHUNK), side="right")
    bounds = np.unique(np.concatenate(([0], cuts, [size.size])))
    for lo, hi in itertools.pairwise(bounds):
        firm, t = er_pair_indices(size[lo:hi], mean_degree, rng)
        i, j = decode_pair_index(t)
        del t
        base = start[lo:hi][firm]
        del firm
        i += base
        j += base
        del base
        builder.add(members[i], members[j])
        del i, j
    return Layer("work", *builder.finish())
