"""Feedback (docs/model.md section 7): perceived risk, deterrence, tie cutting and financial stress,
against numbers derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit import (
    build_state,
    charges,
    column,
    draws,
    offence,
    population,
    scenario,
    simulate,
    simulate_watching,
    step,
    within,
)
from scslab.engine import start_day
from scslab.model import feedback, sanctions, scoring
from scslab.model.behaviour import behaviour, perceived_risk
from scslab.model.contacts import reverse_slots
from scslab.model.metrics import MetricTable
from scslab.model.params import OWN_CONDUCT
from scslab.model.state import State
from scslab.population.types import Population


def exposure(state: State, ids: np.ndarray) -> np.ndarray:
    """`A_i = sum_l alpha_l * deg_l(i)` over the active ties of `ids` (what the deterrence kernel uses)."""
    total = np.zeros(ids.size)
    for name, alpha in state.cp.alpha.items():
        if alpha > 0:
            total += alpha * state.active_degree[name][ids]
    return total


def ring(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A ring lattice: i tied to i+1 .. i+k (mod n), so every degree is 2k."""
    u = np.repeat(np.arange(n), k)
    v = (u + np.tile(np.arange(1, k + 1), n)) % n
    return u, v


def enlist(state: State, ids: np.ndarray) -> None:
    sanctions.enlist(state, ids, np.full(ids.size, OWN_CONDUCT, dtype=np.int8), np.zeros(ids.size, bool), 0)


# --- Perceived risk ------------------------------------------------------------------------------


def test_perceived_risk_decays_when_nothing_happens() -> None:
    """No charges: rho_i <- (1 - eta) rho_i every day, so rho_mean on day t is (1 - eta)^(t + 1) * rho0."""
    n, days, rho0, eta = 2_000, 50, 0.3, 0.1
    params = scenario(n, days, feedback={"rho0": rho0, "eta": eta, "gamma": 0.2})
    r = simulate(params, population(n))
    t = np.arange(days)
    assert np.allclose(column(r, "rho_mean"), rho0 * (1 - eta) ** (t + 1), rtol=1e-12, atol=0)
    assert np.allclose(perceived_risk(r.state, np.arange(n), days), rho0 * (1 - eta) ** days, rtol=1e-12)


def test_perceived_risk_update_exact() -> None:
    """eta 0.2, gamma 0.3, rho0 0.1; nothing on days 0-2, so everyone is at 0.1 * 0.8^3 = 0.0512
    before day 3. On day 3, fraud (not under association) is charged to 0, 3 and 11 and criticism
    (under association, friends alpha 0.5) to 5. At the end of day 3, rho = 0.8 * 0.0512 + 0.2 x with
      x = 1 for the charged 0, 3, 5, 11 (pen = 1; their contacts were not charged),
      x = 1 for 6, charged by association (pen = 1, plus gamma * 1 capped at 1),
      x = 0.3 * 3 = 0.9 for 1 (friends 0 and 3, family 11: contacts in every layer count),
      x = 0.3 for 2 (friend of 0), x = min(1, 0.3 * 4) = 1 for 12 (friend of 0, 3, 5, 11),
      x = 0 for 4, 7, 8, 9, 10 (family 7-8 untouched).
    """
    n = 13
    friends = (np.array([0, 0, 3, 5, 12, 12, 12, 12]), np.array([1, 2, 1, 6, 0, 3, 5, 11]))
    family = (np.array([11, 7]), np.array([1, 8]))
    params = scenario(
        n,
        6,
        events={"fraud": offence(), "criticism": offence()},
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 0.5}},
        feedback={"rho0": 0.1, "eta": 0.2, "gamma": 0.3},
    )
    state = build_state(params, population(n, edges={"friends": friends, "family": family}))
    table = MetricTable(state.cp, 6)
    for day in range(3):
        step(state, day, table=table)
    step(state, 3, charges([0, 3, 11, 5], [0, 0, 0, 1]), table=table)
    x = np.zeros(n)
    x[[0, 3, 5, 11, 6, 12]] = 1.0
    x[1], x[2] = 0.9, 0.3
    expected = 0.8 * 0.1 * 0.8**3 + 0.2 * x
    assert np.allclose(perceived_risk(state, np.arange(n), 4), expected, rtol=1e-12)
    assert np.isclose(table.columns["rho_mean"][3], expected.mean(), rtol=1e-12)
    step(state, 4, table=table)  # a quiet day: everyone decays by 0.8
    assert np.allclose(perceived_risk(state, np.arange(n), 5), 0.8 * expected, rtol=1e-12)
    assert np.isclose(table.columns["rho_mean"][4], 0.8 * expected.mean(), rtol=1e-12)


# --- Deterrence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beta", "rho0", "points"),
    [(2.0, 0.5, -20.0), (0.0, 0.5, -20.0), (2.0, 0.5, 20.0), (4.0, 0.8, -50.0)],
)
def test_deterrence(beta: float, rho0: float, points: float) -> None:
    """eta = 0 keeps rho at rho0: the event count is Poisson(rate * exp(-beta rho0 |w| / 100) * N * T).
    (2, 0.5, -20): factor exp(-0.2) = 0.819; elasticity 0: no deterrence; a merit of +20 is deterred
    like an offence of -20 (|w|); (4, 0.8, -50): exp(-1.6) = 0.202."""
    n, days, rate = 20_000, 50, 0.01
    params = scenario(
        n,
        days,
        events={"act": offence(rate=rate, points=points, elasticity=beta)},
        feedback={"rho0": rho0, "eta": 0.0, "gamma": 0.5},
    )
    r = simulate(params, population(n))
    m = rate * np.exp(-beta * rho0 * abs(points) / 100) * n * days
    assert within(column(r, "events_act").sum(), m, np.sqrt(m))
    assert np.allclose(perceived_risk(r.state, np.arange(n), days), rho0)


def test_deterrence_with_association() -> None:
    """Friends form a ring of degree 6 (alpha 0.1), family a ring of degree 2 (alpha 0: not counted).
    A_i = 0.1 * 6 = 0.6 for everyone; psi = 2, beta = 2, rho0 = 0.5, |w| = 20:
    an event under association is deterred by exp(-0.2 * (1 + 2 * 0.6)) = exp(-0.44) = 0.644,
    the same event outside association by exp(-0.2) = 0.819."""
    n, days, rate = 20_000, 40, 0.01
    params = scenario(
        n,
        days,
        events={
            "criticism": offence(rate=rate, points=-20.0, elasticity=2.0),
            "fraud": offence(rate=rate, points=-20.0, elasticity=2.0),
        },
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 0.1}, "family": {"alpha": 0.0}},
        feedback={"rho0": 0.5, "eta": 0.0, "gamma": 0.5, "psi": 2.0},
    )
    r = simulate(params, population(n, edges={"friends": ring(n, 3), "family": ring(n, 1)}))
    assert np.allclose(exposure(r.state, np.arange(n)), 0.6)
    for name, factor in (("criticism", np.exp(-0.44)), ("fraud", np.exp(-0.2))):
        m = rate * factor * n * days
        assert within(column(r, f"events_{name}").sum(), m, np.sqrt(m)), name


# --- Tie cutting ---------------------------------------------------------------------------------


def bipartite_population(n_listed: int = 1_000) -> tuple[Population, int, int]:
    """Listed citizens 0 .. L-1 each tied as friends to three unlisted ones and as family to two;
    unlisted citizens are also paired as friends among themselves."""
    listed = np.arange(n_listed)
    n = 4 * n_listed
    friends_u = np.r_[np.repeat(listed, 3), n_listed + 2 * np.arange(n_listed)]
    friends_v = np.r_[n_listed + np.arange(3 * n_listed), n_listed + 2 * np.arange(n_listed) + 1]
    family_u = np.repeat(listed, 2)
    family_v = n_listed + (np.arange(2 * n_listed) + 1500) % (3 * n_listed)
    pop = population(n, edges={"friends": (friends_u, friends_v), "family": (family_u, family_v)})
    return pop, 3 * n_listed, 2 * n_listed


def active_ties(state: State, name: str) -> int:
    return int(state.pop.layers[name].active.sum()) // 2


def check_mask(state: State) -> None:
    """Cut ties are cut both ways, and the active degrees count the active ties."""
    for name, layer in state.pop.layers.items():
        slots = np.arange(layer.indices.size)
        rows = np.repeat(np.arange(state.n), np.diff(layer.indptr))
        assert np.array_equal(layer.active, layer.active[reverse_slots(layer, slots, rows)]), name
        assert np.array_equal(state.active_degree[name], np.bincount(rows[layer.active], minlength=state.n)), name


def cut_ties_for(state: State, days: int, rng: np.random.Generator) -> int:
    """Run tie cutting alone on days 0 .. days - 1: the ties cut in all."""
    cut = 0
    for day in range(days):
        start_day(state)
        feedback.cut_ties(state, draws(state, rng, day))
        cut += state.counters["ties_cut"]
    return cut


def test_tie_cutting_rate() -> None:
    """1,000 listed citizens with 3,000 friend ties (alpha 0.2) and 2,000 family ties (alpha 0) to
    unlisted ones, r = 0.05 a day. Over T = 20 days each friend tie survives with probability
    (1 - r)^T: cuts ~ Binomial(3000, 1 - 0.95^20 = 0.642); family ties and ties between two unlisted
    citizens are never cut. Cut ties carry no association charge and drop out of exposure."""
    r, days = 0.05, 20
    pop, n_friend_ties, n_family_ties = bipartite_population()
    params = scenario(
        pop.size,
        days,
        events={"criticism": offence(points=-10.0)},
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 0.2}},
        feedback={"tie_cut_rate": r},
    )
    state = build_state(params, pop)
    listed = np.arange(1_000)
    enlist(state, listed)
    cut = cut_ties_for(state, days, np.random.default_rng(9))
    p = 1 - (1 - r) ** days
    assert within(cut, n_friend_ties * p, np.sqrt(n_friend_ties * p * (1 - p)))
    assert active_ties(state, "friends") == n_friend_ties + 1_000 - cut
    assert active_ties(state, "family") == n_family_ties
    check_mask(state)
    # the pairs of unlisted friends are intact
    others = 1_000 + 2 * np.arange(1_000)
    pair_slot = pop.layers["friends"].indptr[others + 1] - 1  # their pair is their last (largest) friend
    assert pop.layers["friends"].active[pair_slot].all()
    # association charges follow the active ties only: -10 * 0.2 per active tie to a listed citizen
    start_day(state)
    scoring.apply_charges(state, charges(listed, 0), 50)
    live = np.zeros(state.n)
    layer = pop.layers["friends"]
    for i in listed:
        row = slice(layer.indptr[i], layer.indptr[i + 1])
        np.add.at(live, layer.indices[row][layer.active[row]], 1)
    assert np.allclose(state.association, -2.0 * live)
    assert np.isclose(-state.association.sum() / 2.0, n_friend_ties - cut)
    assert np.allclose(exposure(state, listed), 0.2 * state.active_degree["friends"][listed])
    assert state.active_degree["friends"][listed].sum() == n_friend_ties - cut


def test_tie_between_two_listed_citizens_is_cut_at_rate_r() -> None:
    """2,000 friend ties, each between two listed citizens; r = 0.05 for T = 10 days:
    cuts ~ Binomial(2000, 1 - 0.95^10 = 0.401), i.e. 802 +- 22 (twice-drawn ties give 1,282)."""
    n, r, days = 4_000, 0.05, 10
    params = scenario(n, days, networks={"friends": {"alpha": 0.2}}, feedback={"tie_cut_rate": r})
    pop = population(n, edges={"friends": (np.arange(0, n, 2), np.arange(1, n, 2))})
    state = build_state(params, pop)
    enlist(state, np.arange(n))
    cut = cut_ties_for(state, days, np.random.default_rng(10))
    p = 1 - (1 - r) ** days
    assert within(cut, 2_000 * p, np.sqrt(2_000 * p * (1 - p)))


def test_tie_cutting_end_to_end() -> None:
    """In a full run with listings over time: the mask stays symmetric, the active degrees match it,
    ties_cut adds up to the cut ties, only ties of layers with alpha > 0 touching someone ever
    listed are cut."""
    n, days = 5_000, 60
    rng = np.random.default_rng(12)
    edges = {name: (rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)) for name in ("friends", "family")}
    edges = {name: (u[u != v], v[u != v]) for name, (u, v) in edges.items()}
    params = scenario(
        n,
        days,
        events={"default": offence(rate=0.002, points=0.0, blacklist_on_detection=True)},
        blacklist={"term_days": 20},
        networks={"friends": {"alpha": 0.3}},
        feedback={"tie_cut_rate": 0.05},
    )
    pop = population(n, edges=edges)
    total = {name: active_ties(build_state(params, pop), name) for name in ("friends", "family")}
    cuts = []

    def watch(s: State, day: int) -> None:
        check_mask(s)
        cuts.append(s.counters["ties_cut"])
        assert total["friends"] - active_ties(s, "friends") == sum(cuts)
        assert active_ties(s, "family") == total["family"]
        layer = s.pop.layers["friends"]
        rows = np.repeat(np.arange(n), np.diff(layer.indptr))
        gone = ~layer.active
        assert (s.ever_blacklisted[rows[gone]] | s.ever_blacklisted[layer.indices[gone]]).all()

    r = simulate_watching(params, pop, watch)
    assert np.array_equal(column(r, "ties_cut"), cuts)
    assert sum(cuts) > 500


# --- Financial stress ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "effect", "stress"),
    [
        (650, "loan_penalty", 1 + 2.0 * 0.3),  # tier C under "tier <= C": income 0.7, stress 1.6
        (800, "loan_penalty", 1.0),  # tier B: no penalty
        (900, "discount_loan", 1 - 2.0 * 0.3),  # tier A under "tier >= A": income 1.3, stress 0.4
        (800, "discount_loan", 1.0),  # tier B: no discount
    ],
)
def test_financial_stress(start: float, effect: str, stress: float) -> None:
    """A financial event's rate is multiplied by stress = 1 + sigma * (1 - income multiplier),
    sigma = 2, size 0.3; a non-financial event is untouched."""
    n, days, rate = 20_000, 50, 0.01
    section = (
        {"sanctions": [{"effect": "loan_penalty", "trigger": "tier <= C", "size": 0.3}]}
        if effect == "loan_penalty"
        else {"rewards": [{"effect": "discount_loan", "trigger": "tier >= A", "size": 0.3}]}
    )
    params = scenario(
        n,
        days,
        score={"start": start},
        stress={"sigma": 2.0},
        events={
            "default": offence(rate=rate, points=0.0, financial=True),
            "jaywalking": offence(rate=rate, points=0.0),
        },
        **section,
    )
    r = simulate(params, population(n))
    m = rate * n * days
    assert within(column(r, "events_default").sum(), m * stress, np.sqrt(m * stress))
    assert within(column(r, "events_jaywalking").sum(), m, np.sqrt(m))


def test_loan_penalty_on_the_blacklist() -> None:
    """Half the population listed under a blacklist loan penalty (size 0.5, sigma 1): the listed
    commit financial events at 1.5 times the rate of the others."""
    n, days, rate = 10_000, 40, 0.01
    params = scenario(
        n,
        days,
        stress={"sigma": 1.0},
        events={"default": offence(rate=rate, points=0.0, financial=True)},
        sanctions=[{"effect": "loan_penalty", "trigger": "blacklist", "size": 0.5}],
    )
    state = build_state(params, population(n))
    enlist(state, np.arange(0, n, 2))
    rng = np.random.default_rng(13)
    by_listed = np.zeros(2)
    for day in range(days):
        start_day(state)
        events = behaviour(state, draws(state, rng, day), day)
        by_listed += np.bincount(state.blacklist.member[events.actor].astype(int), minlength=2)
    m = rate * n / 2 * days
    assert within(by_listed[0], m, np.sqrt(m))
    assert within(by_listed[1], 1.5 * m, np.sqrt(1.5 * m))


# --- Recovery and score bounds (section 5) -------------------------------------------------------
