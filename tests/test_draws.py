"""The Draws object (docs/model.md section 9): each draw has its documented law in both randomness
modes, keyed draws depend only on (seed, day, who, stream, sub), and sequential draws are the
very generator calls the phases made before there was an object."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from scslab.model.draws import DRAW_CHUNK, Draws, keyed_uniform, poisson_inverse, repeat_ranks

SEED, DAY, STREAM = 11, 4, 3
MODES = {"sequential": None, "crn": SEED}


def draws(mode: str, seed: int = 5, day: int = DAY) -> Draws:
    """A phase's draws in `mode`, from a fresh generator."""
    return Draws(np.random.default_rng(seed), MODES[mode], day)


def poisson_like(counts: np.ndarray, mean: float) -> bool:
    """Sample mean and variance within 5 standard errors of a Poisson(mean)'s."""
    n = counts.size
    return abs(counts.mean() - mean) < 5 * np.sqrt(mean / n) and abs(counts.var() - mean) < 5 * np.sqrt(
        (mean + 2 * mean**2) / n
    )


class WeightedPool:
    """A Pool of members with weights, drawn with replacement by weight (a test's Propensity)."""

    def __init__(self, members: np.ndarray, weights: np.ndarray) -> None:
        self.members, self.weights = members, weights

    @property
    def total(self) -> float:
        return float(self.weights.sum())

    def ids(self) -> np.ndarray:
        return self.members

    def weights_of(self, ids: np.ndarray) -> np.ndarray | None:
        return self.weights

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return np.sort(rng.choice(self.members, size=k, p=self.weights / self.weights.sum()))


# --- Laws, in both modes -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_uniforms_are_uniform_on_the_unit_interval(mode: str) -> None:
    u = draws(mode).uniform(np.arange(100_000), STREAM)
    assert u.shape == (100_000,) and u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-4


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("mean", [0.01, 0.8, 6.0])
def test_counts_are_poisson(mode: str, mean: float) -> None:
    counts = draws(mode).counts(np.arange(200_000), mean, STREAM)
    assert counts.dtype == np.int64 and poisson_like(counts, mean)


@pytest.mark.parametrize("mode", MODES)
def test_gammas_are_gamma(mode: str) -> None:
    """Gamma(4, 1/4) draws (float32): mean 1, variance 1/4, and the Gamma law."""
    g = draws(mode).gamma(np.arange(200_000), 4.0, 0.25, STREAM)
    assert g.dtype == np.float32 and g.min() > 0.0
    assert abs(g.mean() - 1.0) < 5 * np.sqrt(0.25 / g.size)
    assert stats.kstest(g, "gamma", args=(4.0, 0.0, 0.25)).pvalue > 1e-4


@pytest.mark.parametrize("mode", MODES)
def test_gammas_over_a_mask_are_the_draws_of_all_ids_zeroed_off_it(mode: str) -> None:
    """Over a mask: one draw per id, as if all were drawn, 0 where the mask is False."""
    mask = np.arange(30_000) % 3 == 0
    over_mask = draws(mode).gamma(mask, 2.0, 0.5, STREAM, 9)
    over_all = draws(mode).gamma(np.arange(mask.size), 2.0, 0.5, STREAM, 9)
    assert over_mask.shape == mask.shape and np.all(over_mask[~mask] == 0.0)
    assert np.array_equal(over_mask[mask], over_all[mask])


@pytest.mark.parametrize("mode", MODES)
def test_counts_take_a_mean_per_element(mode: str) -> None:
    """Half the elements at mean 0.2, half at 2.0: each half has its own Poisson law."""
    who = np.arange(200_000)
    mean = np.where(who % 2 == 0, 0.2, 2.0)
    counts = draws(mode).counts(who, mean, STREAM)
    assert poisson_like(counts[::2], 0.2) and poisson_like(counts[1::2], 2.0)


@pytest.mark.parametrize("mode", MODES)
def test_occurrences_are_a_poisson_process_over_the_pool(mode: str) -> None:
    """10,000 members at 0.3 a day over 30 days: each member's events are Poisson(9), and the ranks
    number each member's events of the day 0, 1, ... (all 0 in sequential mode, which ignores them)."""
    pool = np.arange(1_000, 11_000)
    per_member = np.zeros(pool.size, dtype=np.int64)
    for day in range(30):
        who, nth = draws(mode, seed=day, day=day).occurrences(pool, 0.3, STREAM)
        assert who.dtype == np.int64 and np.isin(who, pool).all() and nth.shape == who.shape
        if MODES[mode] is not None:
            assert np.array_equal(nth, repeat_ranks(np.bincount(who - 1_000, minlength=pool.size)))
        per_member += np.bincount(who - 1_000, minlength=pool.size)
    assert poisson_like(per_member, 9.0)


@pytest.mark.parametrize("mode", MODES)
def test_events_thin_and_weight_the_rate(mode: str) -> None:
    """Members of weight 1 and 3 at rate 0.1 with a factor 0.25 or 1 (bound 2): each member's count
    is Poisson(0.1 * weight * factor); actors come out in ascending order."""
    members = np.arange(40_000)
    pool = WeightedPool(members, np.where(members < 20_000, 1.0, 3.0))

    def factor(ids: np.ndarray) -> np.ndarray:
        return np.where(ids % 2 == 0, 0.25, 1.0)

    actors = draws(mode).events(pool, 0.1, STREAM, 7, factor, bound=2.0)
    assert np.all(np.diff(actors) >= 0)
    counts = np.bincount(actors, minlength=members.size)
    for weight, half in ((1.0, slice(0, 20_000)), (3.0, slice(20_000, 40_000))):
        part = counts[half]
        assert poisson_like(part[0::2], 0.1 * weight * 0.25) and poisson_like(part[1::2], 0.1 * weight)


@pytest.mark.parametrize("mode", MODES)
def test_chosen_takes_each_position_with_probability_p(mode: str) -> None:
    """Ranges of 0..9 positions: each position is chosen at most once, with probability 0.3."""
    lengths = np.tile(np.arange(10), 2_000)
    starts = np.cumsum(lengths) - lengths + 5 * np.arange(lengths.size)  # gaps between the ranges
    total = int(lengths.sum())
    times = np.zeros(int(starts[-1] + lengths[-1]), dtype=np.int64)
    for day in range(20):
        positions, owner = draws(mode, seed=day, day=day).chosen(starts, lengths, 0.3, STREAM)
        assert np.unique(positions).size == positions.size
        assert np.all((positions >= starts[owner]) & (positions < starts[owner] + lengths[owner]))
        assert np.all(np.diff(owner) >= 0)
        times[positions] += 1
    inside = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])
    assert times.sum() == times[inside].sum()
    m = 20 * total * 0.3
    assert abs(times.sum() - m) < 5 * np.sqrt(m * 0.7)
    # each position's times chosen over the 20 days is Binomial(20, 0.3) (12 or more lumped)
    observed = np.bincount(np.minimum(times[inside], 12), minlength=13)
    law = stats.binom(20, 0.3)
    expected = np.append(law.pmf(np.arange(12)), law.sf(11)) * total
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_event_keys_rank_each_actors_events_of_a_kind() -> None:
    """Actor 5 does kind 0 twice and kind 1 once, actor 3 kind 0 twice: the ranks are 0, 1 per
    (actor, kind) in the order of the events, on top of the kind's key times 1024."""
    actor = np.array([5, 3, 5, 5, 3])
    kind = np.array([0, 0, 0, 1, 0])
    kind_key = np.array([10, 20], dtype=np.int64)
    keys = draws("crn").event_keys(actor, kind, kind_key)
    assert keys.tolist() == [10 * 1024, 10 * 1024, 10 * 1024 + 1, 20 * 1024, 10 * 1024 + 1]
    assert draws("sequential").event_keys(actor, kind, kind_key).tolist() == [0] * 5
    # ranks are capped at 1023
    many = draws("crn").event_keys(np.zeros(1_100, dtype=np.int64), np.zeros(1_100, dtype=np.int64), kind_key)
    assert many[-1] == 10 * 1024 + 1023 and many[1022] == 10 * 1024 + 1022


def test_by_mode_takes_the_recipe_of_the_mode() -> None:
    d = draws("sequential")
    assert d.by_mode(lambda rng: rng is d.rng, lambda: False)
    assert draws("crn").by_mode(lambda rng: "sequential", lambda: "keyed") == "keyed"


# --- Common random numbers: keyed by (seed, day, who, stream, sub) only -----------------------


def test_keyed_draws_do_not_depend_on_who_else_is_drawn() -> None:
    """The same citizens get the same draws whoever is drawn with them, in whatever order, and
    whatever the generator; no draw touches the generator."""
    who = np.arange(50_000)
    some = np.random.default_rng(0).permutation(who)[:5_000]
    a = Draws(np.random.default_rng(1), SEED, DAY)
    b = Draws(np.random.default_rng(2), SEED, DAY)
    before = a.rng.bit_generator.state
    assert np.array_equal(a.uniform(who, STREAM, 9)[some], b.uniform(some, STREAM, 9))
    mean = 0.5 + (who % 7) / 3.0
    assert np.array_equal(a.counts(who, mean, STREAM)[some], b.counts(some, mean[some], STREAM))
    who_a, nth_a = a.occurrences(who, 0.7, STREAM)
    who_b, nth_b = b.occurrences(np.sort(some), 0.7, STREAM)
    inside = np.isin(who_a, some)
    assert np.array_equal(who_a[inside], who_b) and np.array_equal(nth_a[inside], nth_b)
    starts, lengths = 10 * who, who % 10
    pos_a, owner_a = a.chosen(starts, lengths, 0.4, STREAM, 2)
    pos_b, _ = b.chosen(starts[np.sort(some)], lengths[np.sort(some)], 0.4, STREAM, 2)
    assert np.array_equal(pos_a[np.isin(owner_a, np.sort(some))], pos_b)
    assert a.rng.bit_generator.state == before


def test_keyed_draws_are_the_keyed_uniforms() -> None:
    """A keyed draw is `keyed_uniform(seed, day, who, stream, sub)`, and a count or a Gamma draw its
    inverse CDF."""
    who = np.arange(20_000)
    sub = who % 5
    d = draws("crn")
    assert np.array_equal(d.uniform(who, STREAM, sub), keyed_uniform(SEED, DAY, who, STREAM, sub))
    mean = np.linspace(0.0, 3.0, who.size)
    assert np.array_equal(
        d.counts(who, mean, STREAM, 4), poisson_inverse(mean, keyed_uniform(SEED, DAY, who, STREAM, 4))
    )
    gammas = (special.gammaincinv(2.5, keyed_uniform(SEED, DAY, who, STREAM, 4)) * 0.4).astype(np.float32)
    assert np.array_equal(d.gamma(who, 2.5, 0.4, STREAM, 4), gammas)
    # every part of the key matters
    u = d.uniform(who[:100], STREAM, 1)
    for other in (
        Draws(d.rng, SEED + 1, DAY).uniform(who[:100], STREAM, 1),
        Draws(d.rng, SEED, DAY + 1).uniform(who[:100], STREAM, 1),
        d.uniform(who[1:101], STREAM, 1),
        d.uniform(who[:100], STREAM + 1, 1),
        d.uniform(who[:100], STREAM, 2),
    ):
        assert not np.any(other == u)


# --- Sequential mode: the phases' generator calls, in their order -----------------------------


def test_sequential_draws_are_the_direct_generator_calls() -> None:
    """One generator through a run of every kind of draw gives what the direct numpy calls give."""
    pool = np.arange(100, 3_100)
    members = np.arange(5_000)
    weights = 1.0 + (members % 3)
    weighted = WeightedPool(members, weights)

    def factor(ids: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + ids % 4)

    starts = np.arange(0, 40_000, 20)
    lengths = (np.arange(starts.size) % 20).astype(np.int64)

    d = Draws(np.random.default_rng(42), None, DAY)
    got = [
        d.uniform(pool, STREAM, 7),
        d.counts(pool, 1.5, STREAM),
        *d.occurrences(pool, 0.2, STREAM),
        d.events(weighted, 0.3, STREAM, 1, factor, bound=1.0),
        d.events(weighted, 0.3, STREAM, 1),
        *d.chosen(starts, lengths, 0.05, STREAM),
    ]

    rng = np.random.default_rng(42)
    want = [rng.random(pool.size), rng.poisson(np.full(pool.size, 1.5))]
    k = rng.poisson(pool.size * 0.2)
    want += [pool[rng.integers(0, pool.size, size=k)], np.zeros(k, dtype=np.int64)]
    ids = weighted.sample(rng, rng.poisson(0.3 * weighted.total * 1.0))
    want.append(ids[rng.random(ids.size) < factor(ids) / 1.0])
    want.append(weighted.sample(rng, rng.poisson(0.3 * weighted.total * 1.0)))
    ends = np.cumsum(lengths)
    pos = np.sort(rng.choice(int(ends[-1]), size=int(rng.binomial(int(ends[-1]), 0.05)), replace=False))
    owner = np.searchsorted(ends, pos, side="right")
    want += [starts[owner] + pos - (ends[owner] - lengths[owner]), owner]

    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)
    assert d.rng.bit_generator.state == rng.bit_generator.state


def test_sequential_gammas_take_one_spawned_stream_a_chunk() -> None:
    """Sequential Gamma draws: chunk k of DRAW_CHUNK draws from the k-th stream spawned from the
    generator (so the number of threads changes nothing)."""
    size = DRAW_CHUNK + 1_000
    got = Draws(np.random.default_rng(42), None, DAY).gamma(np.arange(size), 3.0, 0.5, STREAM)
    first, second = np.random.default_rng(42).spawn(2)
    want = np.concatenate(
        [
            first.standard_gamma(3.0, size=DRAW_CHUNK, dtype=np.float32) * np.float32(0.5),
            second.standard_gamma(3.0, size=1_000, dtype=np.float32) * np.float32(0.5),
        ]
    )
    assert np.array_equal(got, want)


def test_sequential_draws_of_nothing_take_no_draw() -> None:
    """An empty pool, a zero total or no positions leave the generator untouched."""
    d = draws("sequential")
    before = d.rng.bit_generator.state
    empty = np.empty(0, dtype=np.int64)
    assert d.occurrences(empty, 0.5, STREAM)[0].size == 0
    assert d.events(WeightedPool(empty, np.empty(0)), 0.5, STREAM, 0).size == 0
    assert d.chosen(np.array([3, 9]), np.array([0, 0]), 0.5, STREAM)[0].size == 0
    assert d.rng.bit_generator.state == before
