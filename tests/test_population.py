"""Tests of the synthetic population: shares, households, firms and the three network layers.

Statistical checks use 5 standard errors (of a binomial share or of a mean), so a correct
build fails them about once in a million runs; seeds are fixed, so they are deterministic.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from scslab.population import (
    AGE_ADULT,
    AGE_CHILD,
    AGE_SENIOR,
    BUSINESS_OWNER,
    CIVIL_SERVANT,
    EMPLOYEE,
    LAYERS,
    PARENT_LINK_SHARE,
    RETIRED,
    SECTOR_PRIVATE,
    SECTOR_PUBLIC,
    STUDENT,
    UNEMPLOYED,
    Layer,
    Population,
    build_population,
    estimate_bytes_per_citizen,
)
from scslab.population.csr import CsrBuilder
from scslab.population.networks import decode_pair_index, er_pair_indices
from scslab.scenario import schema

N = 200_000
Z = 5.0  # standard errors allowed


def example_params(size: int = N, **pop: object) -> tuple[schema.Population, schema.Networks]:
    """The [population] and [networks] tables of src/scslab/scenario/example.toml."""
    population = schema.Population(
        size=size,
        real_size=22_000_000,
        districts=16,
        minority_share=0.05,
        age_shares=schema.AgeShares(child=0.15, adult=0.70, senior=0.15),
        occupation_shares=schema.OccupationShares(
            civil_servant=0.03, employee=0.60, business_owner=0.07, unemployed=0.30
        ),
        party_member_share=0.07,
        party_member_share_civil_servants=0.60,
        household_size_mean=2.62,
        income_quintile_by_occupation=True,
    )
    if pop:
        population = population.model_copy(update=pop)
    networks = schema.Networks(
        family=schema.FamilyLayer(alpha=0.5),
        work=schema.WorkLayer(mean_degree=8, firm_size_mean=17.6, alpha=0.1),
        friends=schema.FriendsLayer(mean_degree=12, same_district=0.8, alpha=0.2),
    )
    return population, networks


@pytest.fixture(scope="module")
def params() -> tuple[schema.Population, schema.Networks]:
    return example_params()


@pytest.fixture(scope="module")
def built(params: tuple[schema.Population, schema.Networks]) -> Population:
    return build_population(*params, np.random.default_rng(20240601))


def heads(p: Population) -> np.ndarray:
    """Id of each household's first member (households are contiguous id ranges)."""
    return np.flatnonzero(np.r_[True, p.household[1:] != p.household[:-1]])


def close(observed: float, expected: float, se: float) -> bool:
    return abs(observed - expected) <= Z * se + 1e-12


def share_se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


def edges(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(layer.indptr.size - 1), np.diff(layer.indptr))
    return rows, layer.indices.astype(np.int64)


# --- columns ---------------------------------------------------------------------------------


def test_dtypes_and_ranges(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    p = built
    assert p.size == N
    expected = {
        "age_band": np.int8,
        "group": np.int8,
        "occupation": np.int8,
        "party_member": np.bool_,
        "income_q": np.int8,
        "district": np.int32,
        "household": np.int32,
        "firm": np.int32,
        "firm_sector": np.int8,
        "firm_size": np.int32,
        "firm_rep": np.int32,
    }
    for name, dtype in expected.items():
        assert getattr(p, name).dtype == dtype, name
    for name in ("age_band", "group", "occupation", "party_member", "income_q", "district", "household", "firm"):
        assert getattr(p, name).shape == (N,), name
    assert set(np.unique(p.age_band)) == {AGE_CHILD, AGE_ADULT, AGE_SENIOR}
    assert set(np.unique(p.group)) == {0, 1}
    assert p.district.min() >= 0 and p.district.max() < params[0].districts
    assert set(np.unique(p.income_q)) == {1, 2, 3, 4, 5}
    assert p.firm.min() >= -1 and p.firm.max() < p.n_firms


def test_age_shares(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    shares = params[0].age_shares
    for band, target in ((AGE_CHILD, shares.child), (AGE_ADULT, shares.adult), (AGE_SENIOR, shares.senior)):
        observed = float(np.mean(built.age_band == band))
        assert close(observed, target, share_se(target, N)), (band, observed, target)


def test_households(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    p = built
    first = heads(p)
    h = first.size
    assert p.n_households == h
    # Household ids are 0..H-1 in order, each a contiguous id range of 1..6 citizens.
    assert np.array_equal(p.household[first], np.arange(h))
    assert np.all(np.diff(p.household) >= 0)
    size = np.bincount(p.household)
    assert size.min() >= 1 and size.max() <= 6
    # Mean size m: size - 1 ~ Binomial(5, (m - 1) / 5), variance 5 q (1 - q).
    m = params[0].household_size_mean
    q = (m - 1) / 5
    assert close(N / h, m, math.sqrt(5 * q * (1 - q) / h))
    # The head is an adult or a senior, so every household with a child has a non-child.
    assert np.all(p.age_band[first] != AGE_CHILD)
    grown = np.bincount(p.household, weights=p.age_band != AGE_CHILD)
    assert np.all(grown >= 1)


def test_household_shares_district_and_group(
    built: Population, params: tuple[schema.Population, schema.Networks]
) -> None:
    p = built
    first = heads(p)
    head_of = first[p.household]
    assert np.array_equal(p.district, p.district[head_of])
    assert np.array_equal(p.group, p.group[head_of])
    target = params[0].minority_share
    assert close(float(np.mean(p.group[first])), target, share_se(target, first.size))
    # Districts uniform over households.
    d = params[0].districts
    per_district = np.bincount(p.district[first], minlength=d) / first.size
    assert np.all(np.abs(per_district - 1 / d) <= Z * share_se(1 / d, first.size))


def test_occupations(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    p = built
    assert np.all(p.occupation[p.age_band == AGE_CHILD] == STUDENT)
    assert np.all(p.occupation[p.age_band == AGE_SENIOR] == RETIRED)
    adult_occupation = p.occupation[p.age_band == AGE_ADULT]
    assert set(np.unique(adult_occupation)) <= {CIVIL_SERVANT, EMPLOYEE, BUSINESS_OWNER, UNEMPLOYED}
    shares = params[0].occupation_shares
    for code, target in (
        (CIVIL_SERVANT, shares.civil_servant),
        (EMPLOYEE, shares.employee),
        (BUSINESS_OWNER, shares.business_owner),
        (UNEMPLOYED, shares.unemployed),
    ):
        observed = float(np.mean(adult_occupation == code))
        assert close(observed, target, share_se(target, adult_occupation.size)), (code, observed, target)


def test_party_membership(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    p = built
    pop = params[0]
    assert not p.party_member[p.age_band == AGE_CHILD].any()
    overall = float(np.mean(p.party_member))
    assert close(overall, pop.party_member_share, share_se(pop.party_member_share, N))
    cs = p.occupation == CIVIL_SERVANT
    target = pop.party_member_share_civil_servants
    assert close(float(np.mean(p.party_member[cs])), target, share_se(target, int(cs.sum())))


def test_income_quintiles(built: Population) -> None:
    p = built
    counts = np.bincount(p.income_q, minlength=6)[1:]
    assert np.all(np.abs(counts - N / 5) <= 0.002 * N)  # 20% each, give or take ties
    first = heads(p)
    children = np.flatnonzero(p.age_band == AGE_CHILD)
    assert np.array_equal(p.income_q[children], p.income_q[first[p.household[children]]])
    mean_q = {code: float(np.mean(p.income_q[p.occupation == code])) for code in (CIVIL_SERVANT, UNEMPLOYED)}
    assert mean_q[CIVIL_SERVANT] > mean_q[UNEMPLOYED] + 1.0


def test_income_without_occupation_offsets() -> None:
    pop, networks = example_params(size=100_000, income_quintile_by_occupation=False)
    p = build_population(pop, networks, np.random.default_rng(5))
    # Without offsets every occupation has mean quintile 3 (SD of a quintile is sqrt(2)).
    for code in (CIVIL_SERVANT, EMPLOYEE, BUSINESS_OWNER, UNEMPLOYED, RETIRED):
        q = p.income_q[p.occupation == code]
        assert close(float(q.mean()), 3.0, math.sqrt(2.0 / q.size)), code


# --- firms -------------------------------------------------------------------------------------


def test_firms(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    p = built
    fsm = params[1].work.firm_size_mean
    worker = np.isin(p.occupation, (CIVIL_SERVANT, EMPLOYEE, BUSINESS_OWNER))
    assert np.all(p.firm[~worker] == -1)
    assert np.all(p.firm[worker] >= 0)
    assert np.array_equal(p.firm_size, np.bincount(p.firm[worker], minlength=p.n_firms))
    n_cs = int(np.count_nonzero(p.occupation == CIVIL_SERVANT))
    n_emp = int(np.count_nonzero(p.occupation == EMPLOYEE))
    owners = np.flatnonzero(p.occupation == BUSINESS_OWNER)
    public = p.firm_sector == SECTOR_PUBLIC
    assert set(np.unique(p.firm_sector)) <= {SECTOR_PRIVATE, SECTOR_PUBLIC}
    assert int(public.sum()) == max(1, round(n_cs / fsm))
    assert int((~public).sum()) == max(owners.size, round((n_emp + owners.size) / fsm))
    # Civil servants work in public units; employees and owners in private firms.
    assert np.all(public[p.firm[p.occupation == CIVIL_SERVANT]])
    assert not public[p.firm[(p.occupation == EMPLOYEE) | (p.occupation == BUSINESS_OWNER)]].any()
    # Every business owner represents exactly one firm, the one they belong to.
    reps = p.firm_rep[p.firm_rep >= 0]
    assert np.array_equal(np.sort(reps[p.occupation[reps] == BUSINESS_OWNER]), owners)
    assert np.array_equal(p.firm_rep[p.firm[owners]], owners)
    # Representatives are members; a firm has none only when empty; public reps are civil servants.
    has_rep = p.firm_rep >= 0
    assert np.array_equal(has_rep, p.firm_size > 0)
    assert np.array_equal(p.firm[p.firm_rep[has_rep]], np.flatnonzero(has_rep))
    assert np.all(p.occupation[p.firm_rep[public & has_rep]] == CIVIL_SERVANT)


# --- networks ------------------------------------------------------------------------------------


def check_csr(layer: Layer, n: int) -> None:
    assert layer.indptr.dtype == np.int32 and layer.indptr.shape == (n + 1,)  # int64 only from 2**30 ties
    assert layer.indices.dtype == np.int32
    assert layer.indptr[0] == 0 and layer.indptr[-1] == layer.indices.size
    assert np.all(np.diff(layer.indptr) >= 0)
    assert layer.active.dtype == np.bool_ and layer.active.shape == layer.indices.shape and layer.active.all()
    if layer.indices.size == 0:
        return
    assert layer.indices.min() >= 0 and layer.indices.max() < n
    rows, cols = edges(layer)
    assert not np.any(rows == cols), "self-loop"
    # Rows strictly ascending: sorted and no duplicate ties.
    same_row = rows[1:] == rows[:-1]
    assert np.all(cols[1:][same_row] > cols[:-1][same_row])
    # Symmetric: i in row k iff k in row i.
    assert np.array_equal(np.sort(rows * n + cols), np.sort(cols * n + rows))


@pytest.mark.parametrize("name", LAYERS)
def test_layer_csr_invariants(built: Population, name: str) -> None:
    assert list(built.layers) == list(LAYERS)
    layer = built.layers[name]
    assert layer.name == name
    check_csr(layer, N)
    assert np.array_equal(layer.degree(), np.diff(layer.indptr))


def test_family_layer(built: Population) -> None:
    p = built
    rows, cols = edges(p.layers["family"])
    inside = p.household[rows] == p.household[cols]
    # Complete inside each household: everyone is tied to all other members.
    size = np.bincount(p.household)
    inside_degree = np.bincount(rows[inside], minlength=N)
    assert np.array_equal(inside_degree, size[p.household] - 1)
    # Other ties are adult-senior parent links within the district; at most one per adult.
    a, b = rows[~inside], cols[~inside]
    assert np.all(p.district[a] == p.district[b])
    pair_bands = {(int(x), int(y)) for x, y in np.unique(np.c_[p.age_band[a], p.age_band[b]], axis=0)}
    assert pair_bands == {(AGE_ADULT, AGE_SENIOR), (AGE_SENIOR, AGE_ADULT)}
    link = np.bincount(a, minlength=N)
    adults = p.age_band == AGE_ADULT
    assert link[adults].max() == 1
    n_adults = int(adults.sum())
    # Districts hold thousands of seniors, so drops are negligible: the share is PARENT_LINK_SHARE.
    assert close(float(link[adults].mean()), PARENT_LINK_SHARE, share_se(PARENT_LINK_SHARE, n_adults))


def test_work_layer(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    p = built
    k = params[1].work.mean_degree
    rows, cols = edges(p.layers["work"])
    assert np.all(p.firm[rows] >= 0)
    assert np.array_equal(p.firm[rows], p.firm[cols])
    # G(s, p) with p = min(1, k / (s - 1)) per firm: a member's expected degree is min(s - 1, k);
    # the number of ties of a firm is Binomial(s(s-1)/2, p), independent across firms.
    s = p.firm_size.astype(np.float64)
    prob = np.minimum(1.0, k / np.maximum(s - 1.0, 1.0))
    expected_degree_sum = float(np.sum(s * np.minimum(np.maximum(s - 1.0, 0.0), k)))
    se = 2.0 * math.sqrt(float(np.sum(s * (s - 1) / 2 * prob * (1 - prob))))
    assert close(float(rows.size), expected_degree_sum, se)
    workers = int(np.count_nonzero(p.firm >= 0))
    assert abs(rows.size / workers - k) < 1.5  # small firms cap the degree at s - 1
    # Firms of at most k + 1 members are complete graphs.
    degree = p.layers["work"].degree()
    member = p.firm >= 0
    small = member & (p.firm_size[np.maximum(p.firm, 0)] <= k + 1)
    assert np.array_equal(degree[small], p.firm_size[p.firm[small]] - 1)


def test_friends_layer(built: Population, params: tuple[schema.Population, schema.Networks]) -> None:
    p = built
    friends = params[1].friends
    rows, cols = edges(p.layers["friends"])
    # Only self-loops and repeats are lost: well under 1% at this size.
    mean_degree = rows.size / N
    assert friends.mean_degree * 0.99 <= mean_degree <= friends.mean_degree
    # A far endpoint is uniform over citizens, so it shares the district with prob. sum_d (n_d / N)^2.
    district_share = np.bincount(p.district) / N
    expected = friends.same_district + (1 - friends.same_district) * float(np.sum(district_share**2))
    observed = float(np.mean(p.district[rows] == p.district[cols]))
    assert close(observed, expected, share_se(expected, rows.size // 2))
    assert abs(expected - (friends.same_district + (1 - friends.same_district) / params[0].districts)) < 0.002


def test_friends_are_uniform_within_districts(built: Population) -> None:
    p = built
    degree = p.layers["friends"].degree().astype(np.float64)
    # Position of each citizen within its district (any fixed order will do), in tenths.
    order = np.argsort(p.district, kind="stable")
    rank = np.empty(N, dtype=np.int64)
    rank[order] = np.arange(N) - np.searchsorted(p.district[order], p.district[order])
    tenth = rank * 10 // np.bincount(p.district)[p.district]
    se = math.sqrt(degree.var() / (N / 10))
    for t in range(10):
        assert close(float(degree[tenth == t].mean()), float(degree.mean()), se), t


def test_work_layer_empty_when_mean_degree_zero() -> None:
    pop, networks = example_params(size=20_000)
    networks = networks.model_copy(update={"work": schema.WorkLayer(mean_degree=0.0, firm_size_mean=17.6)})
    p = build_population(pop, networks, np.random.default_rng(1))
    assert p.layers["work"].indices.size == 0
    assert np.array_equal(p.layers["work"].indptr, np.zeros(20_001, dtype=np.int32))
    assert p.layers["friends"].indices.size > 0


# --- determinism ---------------------------------------------------------------------------------


def population_arrays(p: Population) -> dict[str, np.ndarray]:
    out = {name: getattr(p, name) for name in ("age_band", "group", "occupation", "party_member", "income_q")}
    out |= {
        name: getattr(p, name) for name in ("district", "household", "firm", "firm_sector", "firm_size", "firm_rep")
    }
    for name, layer in p.layers.items():
        out[f"{name}.indptr"] = layer.indptr
        out[f"{name}.indices"] = layer.indices
    return out


def test_deterministic() -> None:
    pop, networks = example_params(size=30_000)
    a = population_arrays(build_population(pop, networks, np.random.default_rng(7)))
    b = population_arrays(build_population(pop, networks, np.random.default_rng(7)))
    c = population_arrays(build_population(pop, networks, np.random.default_rng(8)))
    for name in a:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name
    for name in ("age_band", "occupation", "income_q", "firm", "family.indices", "work.indices", "friends.indices"):
        assert not np.array_equal(a[name], c[name]), name


# --- edge cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "update",
    [
        {"size": 10},
        {"size": 57, "districts": 100},
        {"size": 1_000, "household_size_mean": 1.0},
        {"size": 1_000, "household_size_mean": 6.0},
        {"size": 1_000, "age_shares": schema.AgeShares(child=0.0, adult=1.0, senior=0.0)},
        {"size": 1_000, "age_shares": schema.AgeShares(child=0.3, adult=0.0, senior=0.7)},
        {
            "size": 1_000,
            "occupation_shares": schema.OccupationShares(
                civil_servant=0.0, employee=0.0, business_owner=0.0, unemployed=1.0
            ),
        },
        {
            "size": 1_000,
            "occupation_shares": schema.OccupationShares(
                civil_servant=1.0, employee=0.0, business_owner=0.0, unemployed=0.0
            ),
            "party_member_share": 1.0,
        },
    ],
)
def test_small_and_degenerate_populations(update: dict[str, object]) -> None:
    pop, networks = example_params(**update)  # type: ignore[arg-type]
    p = build_population(pop, networks, np.random.default_rng(3))
    assert p.size == pop.size
    for layer in p.layers.values():
        check_csr(layer, pop.size)
    assert np.all(p.age_band[heads(p)] != AGE_CHILD)
    assert np.array_equal(p.firm_size, np.bincount(p.firm[p.firm >= 0], minlength=p.n_firms))
    assert np.all((p.firm_rep >= 0) == (p.firm_size > 0))


def test_huge_firms_use_sparse_er() -> None:
    pop, networks = example_params(size=50_000)
    networks = networks.model_copy(update={"work": schema.WorkLayer(mean_degree=6.0, firm_size_mean=1e6)})
    p = build_population(pop, networks, np.random.default_rng(11))
    assert p.n_firms >= 1
    check_csr(p.layers["work"], pop.size)
    public = np.flatnonzero(p.firm_sector == SECTOR_PUBLIC)
    assert public.size == 1
    members = p.firm == public[0]
    s = int(p.firm_size[public[0]])
    degree = p.layers["work"].degree()[members]
    # One public unit of all civil servants: mean degree 6 over s members, ties ~ Binomial.
    prob = 6.0 / (s - 1)
    ties = s * (s - 1) / 2
    assert close(float(degree.sum()) / 2, ties * prob, math.sqrt(ties * prob * (1 - prob)))


# --- building blocks -----------------------------------------------------------------------------


def test_csr_builder_matches_reference() -> None:
    rng = np.random.default_rng(0)
    n = 40
    a = rng.integers(0, n, size=500).astype(np.int32)
    b = rng.integers(0, n, size=500).astype(np.int32)
    builder = CsrBuilder(n, 100)  # too small: it must grow
    builder.add(a[:300], b[:300])
    builder.add(a[300:], b[300:])
    indptr, indices = builder.finish()
    reference = {(int(x), int(y)) for x, y in zip(a, b, strict=True) if x != y}
    reference |= {(y, x) for x, y in reference}
    rows = np.repeat(np.arange(n), np.diff(indptr))
    got = list(zip(rows.tolist(), indices.tolist(), strict=True))
    assert got == sorted(reference)


def test_csr_builder_dedupes_across_chunks() -> None:
    from scslab.population.csr import CHUNK

    n = 5
    a = np.zeros(2 * CHUNK + 3, dtype=np.int32)
    b = np.ones_like(a)
    b[-1] = 4
    builder = CsrBuilder(n, a.size)
    builder.add(a, b)
    indptr, indices = builder.finish()
    assert indptr.tolist() == [0, 2, 3, 3, 3, 4]
    assert indices.tolist() == [1, 4, 0, 0]


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_sort_keys_on_threads_matches_one_sort(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """The keys split at the middle row and sorted on several threads come out as one sort
    orders them: rows spread unevenly, repeats, empty keys (-1), rows with no keys."""
    import scslab.population.csr as csr

    monkeypatch.setattr(csr, "SPLIT_KEYS", 64)
    rng = np.random.default_rng(3)
    n = 1000
    rows = np.concatenate([rng.integers(0, n // 3, 4000), rng.integers(0, n, 1000)])
    keys = (rows.astype(np.int64) << 32) + rng.integers(0, n, rows.size)
    keys[::17] = -1
    expected = np.sort(keys)
    csr.sort_keys(keys, 0, n, threads)
    assert np.array_equal(keys, expected)


def test_decode_pair_index() -> None:
    i, j = decode_pair_index(np.arange(45, dtype=np.int64))
    ti, tj = np.triu_indices(10, k=1)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(zip(ti.tolist(), tj.tolist(), strict=True))
    big = np.array([0, 1, 2, 10**12, 10**15 + 7, 2**61 - 1, 2**61 + 12345], dtype=np.int64)
    i, j = decode_pair_index(big)
    assert np.all((i >= 0) & (i < j))
    assert np.array_equal(j * (j - 1) // 2 + i, big)


def test_er_pair_indices_is_gnp() -> None:
    rng = np.random.default_rng(4)
    size = np.array([0, 1, 2, 5, 9] + [40] * 3000, dtype=np.int32)
    group, t = er_pair_indices(size, 8.0, rng)
    pairs = size.astype(np.int64) * (size - 1) // 2
    assert np.all(t < pairs[group]) and np.all(t >= 0)
    key = group.astype(np.int64) * 10**6 + t
    assert np.unique(key).size == key.size  # distinct ties
    # Groups of 2, 5 and 9 (p = 1) are complete; groups of 40 have Binomial(780, 8/39) ties.
    for g in (2, 3, 4):
        assert np.array_equal(np.sort(t[group == g]), np.arange(pairs[g]))
    big = group >= 5
    prob, m = 8.0 / 39.0, 780 * 3000
    assert close(float(big.sum()), m * prob, math.sqrt(m * prob * (1 - prob)))
    # Uniform over the pairs: mean pair index (M - 1) / 2, variance (M^2 - 1) / 12.
    mean_t = float(t[big].mean())
    assert close(mean_t, 779 / 2, math.sqrt((780**2 - 1) / 12 / big.sum()))


def test_estimate_bytes_per_citizen_bounds_the_peak() -> None:
    pop, networks = example_params(size=300_000)
    estimate = estimate_bytes_per_citizen(pop, networks)
    tracemalloc.start()
    try:
        build_population(pop, networks, np.random.default_rng(2))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    measured = peak / pop.size
    assert measured <= estimate <= 1.35 * measured, (measured, estimate)
    # Twelve more friends per citizen cost between 5 (held) and 8 (key) bytes a directed tie each.
    denser = networks.model_copy(update={"friends": schema.FriendsLayer(mean_degree=24, same_district=0.8)})
    extra = estimate_bytes_per_citizen(pop, denser) - estimate
    assert 5 * 12 <= extra <= 8 * 12 * 1.05 + 1


def test_csr_offsets_widen_to_int64_for_many_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offsets are int32 below INT32_TIES directed ties and int64 from there on, with equal values."""
    import scslab.population.csr as csr

    def build() -> tuple[np.ndarray, np.ndarray]:
        b = csr.CsrBuilder(10, 4)
        b.add(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 9]))
        return b.finish()

    small, _ = build()
    monkeypatch.setattr(csr, "INT32_TIES", 8)
    wide, _ = build()
    assert small.dtype == np.int32 and wide.dtype == np.int64
    assert np.array_equal(small, wide) and wide[-1] == 8
