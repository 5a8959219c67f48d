"""The blacklist, appeals, and every sanction and reward, against numbers derived by hand from docs/model.md section 6.

Unit tests build a state by hand and drive single phases with hand-made charges; end-to-end
tests run the engine on hand-made populations and check exact invariants every day (through
`simulate_watching`) or counts within ~5 standard errors of their expectation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

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
from scslab.model import sanctions, scoring
from scslab.model.behaviour import behaviour
from scslab.model.effects import education_restriction, public_job_exclusion, travel_ban
from scslab.model.ledgers import L_SCORE
from scslab.model.listings import APPEAL_WON
from scslab.model.metrics import MetricTable
from scslab.model.params import (
    ASSOCIATION,
    JOINT_PUNISHMENT,
    LISTED_OFFENCE,
    MISATTRIBUTION,
    OWN_CONDUCT,
)
from scslab.model.scoring import refresh_scores
from scslab.model.state import State
from scslab.population.types import AGE_ADULT, AGE_CHILD, BUSINESS_OWNER, CIVIL_SERVANT, EMPLOYEE, Population

FOREVER = 100_000  # min_days / term_days long enough that nobody leaves by serving time


def listed(state: State) -> np.ndarray:
    return np.sort(state.blacklist.ids())


# --- Blacklist entry and its causes --------------------------------------------------------------


def test_score_listing_causes_and_wrongful() -> None:
    """Threshold 700, S0 800. Each listing's cause follows section 6 exactly:
    own_conduct when S0 + own + merit < 700 alone; else misattribution when the misattributed
    ledger is the more negative one, else association. Listings are wrongful when the
    counterfactual (S0 + own + merit) is at or above the threshold.
    """
    n = 12
    params = scenario(
        n,
        5,
        events={
            "fraud": offence(points=-150.0),
            "minor": offence(points=-60.0),
            "criticism": offence(points=-100.0),
        },
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 1.5}},
        blacklist={"threshold": 700, "min_days": FOREVER},
    )
    pop = population(n, edges={"friends": (np.array([2, 5, 7]), np.array([3, 6, 8]))})
    state = build_state(params, pop)
    table = MetricTable(state.cp, 5)
    fraud, minor, criticism = 0, 1, 2
    todays = charges(
        [0, 1, 3, 4, 4, 5, 6, 7, 8],
        [fraud, fraud, criticism, minor, minor, minor, criticism, fraud, criticism],
        [False, True, False, False, True, True, False, False, False],
    )
    step(state, 0, todays, table=table)
    # 0: own -150 -> 650, counterfactual 650 < 700                  -> own_conduct, rightful
    # 1: misattributed -150 -> 650, counterfactual 800               -> misattribution, wrongful
    # 2: association 1.5 * -100 = -150 -> 650, counterfactual 800    -> association, wrongful
    # 3, 6, 8: own -100 -> 700, not below the threshold              -> not listed
    # 4: own -60, misattributed -60 -> 680, counterfactual 740       -> misattribution, wrongful
    # 5: misattributed -60, association -150 -> 590, counterfactual 800 -> association, wrongful
    # 7: own -150, association -150 -> 500, counterfactual 650       -> own_conduct, rightful
    expected = {0: OWN_CONDUCT, 1: MISATTRIBUTION, 2: ASSOCIATION, 4: MISATTRIBUTION, 5: ASSOCIATION, 7: OWN_CONDUCT}
    assert np.array_equal(state.score, [650, 650, 650, 700, 680, 590, 700, 500, 700, 800, 800, 800])
    assert listed(state).tolist() == sorted(expected)
    assert {i: int(state.cause[i]) for i in listed(state)} == expected
    ids = listed(state)
    assert ids[sanctions.wrongful(state, ids)].tolist() == [1, 2, 4, 5]
    col = table.columns
    assert col["blacklisted"][0] == 6 and col["listings_new"][0] == 6
    assert col["blacklisted_own_conduct"][0] == 2
    assert col["blacklisted_misattribution"][0] == 2
    assert col["blacklisted_association"][0] == 2
    assert col["blacklisted_listed_offence"][0] == 0 and col["blacklisted_joint_punishment"][0] == 0
    assert col["blacklisted_wrongful"][0] == 4
    assert state.ever_blacklisted.tolist() == [i in expected for i in range(n)]
    # a quiet day lists nobody new and keeps the stock
    step(state, 1, table=table)
    assert col["listings_new"][1] == 0 and col["blacklisted"][1] == 6 and col["blacklisted_wrongful"][1] == 4


def test_score_listing_end_to_end() -> None:
    """One offence of -50 points, h = 0, coverage 1, threshold 700, nobody leaves.

    A citizen is listed when own <= -150, i.e. after 3 or more events: the stock at the end is
    N * P(Poisson(rate * T) >= 3), and the listed are exactly those with score < 700.
    """
    n, days, rate = 20_000, 100, 0.01
    params = scenario(
        n,
        days,
        events={"jaywalking": offence(rate=rate, points=-50.0)},
        blacklist={"threshold": 700, "min_days": FOREVER},
    )
    r = simulate(params, population(n))
    s = r.state
    stock = column(r, "blacklisted")
    assert np.array_equal(s.blacklist.member, s.score < 700)
    assert np.array_equal(s.ever_blacklisted, s.blacklist.member)
    assert np.array_equal(np.cumsum(column(r, "listings_new")), stock)
    assert np.array_equal(column(r, "blacklisted_own_conduct"), stock)
    assert column(r, "blacklisted_wrongful").sum() == 0
    p = stats.poisson(rate * days).sf(2)  # 1 - e^-1 (1 + 1 + 1/2) = 0.0803
    assert within(stock[-1], n * p, np.sqrt(n * p * (1 - p)))


def test_causes_follow_the_ledgers_every_day() -> None:
    """With misattribution and association, every new listing's cause and the wrongful stock
    match section 6 computed by hand from the ledgers on the day of listing."""
    n, days, threshold = 10_000, 80, 700.0
    rng = np.random.default_rng(3)
    u = rng.integers(0, n, size=2 * n)
    v = rng.integers(0, n, size=2 * n)
    ok = u != v
    params = scenario(
        n,
        days,
        sources={"cameras": {"coverage": 1.0, "misattribution": 0.3}},
        events={"fraud": offence(rate=0.004, points=-60.0), "criticism": offence(rate=0.004, points=-60.0)},
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 0.5}},
        blacklist={"threshold": threshold, "min_days": FOREVER},
    )
    pop = population(n, district=np.arange(n) % 4, edges={"friends": (u[ok], v[ok])})
    seen = np.zeros(3, dtype=np.int64)

    def watch(s: State, day: int) -> None:
        assert np.array_equal(s.blacklist.member, s.score < threshold)
        counterfactual = np.clip(800.0 + s.own + s.merit, 350.0, 950.0)
        new = np.flatnonzero(s.blacklist.member & (s.listed_day == day))
        mis, assoc = np.minimum(s.misattributed[new], 0), np.minimum(s.association[new], 0)
        own_alone = counterfactual[new] < threshold
        expected = np.where(own_alone, OWN_CONDUCT, np.where(mis < assoc, MISATTRIBUTION, ASSOCIATION))
        clear = own_alone | (mis != assoc)  # equal ledgers: section 6 does not say which cause wins
        assert np.array_equal(s.cause[new][clear], expected[clear])
        seen[:] += np.bincount(expected[clear], minlength=3)[:3]
        wrongful = int((s.blacklist.member & (counterfactual >= threshold)).sum())
        assert s.cause[s.blacklist.member].max(initial=0) <= ASSOCIATION
        assert wrongful == int(sanctions.wrongful(s, s.blacklist.ids()).sum())

    r = simulate_watching(params, pop, watch)
    assert np.all(seen > 20), seen  # every cause occurred
    cf = np.clip(800.0 + r.state.own + r.state.merit, 350.0, 950.0)
    assert column(r, "blacklisted_wrongful")[-1] == (r.state.blacklist.member & (cf >= threshold)).sum()
    assert column(r, "blacklisted_wrongful")[-1] > 0


def test_listed_offence_lists_for_term_days_exactly() -> None:
    """A detected blacklist_on_detection event lists the attributed person whatever the score;
    listed on day d, they are on the blacklist on days d .. d + term - 1 and off on day d + term."""
    n, term = 10, 5
    params = scenario(
        n,
        20,
        events={"default": offence(points=-1.0, blacklist_on_detection=True)},
        blacklist={"threshold": 600, "term_days": term, "min_days": 0},
    )
    state = build_state(params, population(n))
    on = np.zeros((20, n), dtype=bool)
    causes = []
    for day in range(20):
        todays = charges([0, 1] if day == 0 else [2] if day == 3 else [1] if day == 4 else [])
        step(state, day, todays)
        on[day] = state.blacklist.member
        causes.append(state.cause[state.blacklist.member].tolist())
    days_on = {i: np.flatnonzero(on[:, i]).tolist() for i in range(n) if on[:, i].any()}
    # person 1 offends again on day 4 while listed: the term restarts from day 4
    assert days_on == {0: [0, 1, 2, 3, 4], 1: list(range(0, 9)), 2: list(range(3, 8))}
    assert all(c == LISTED_OFFENCE for day in causes for c in day)
    assert state.score[0] == 799.0  # listed at a score far above the threshold


def test_listed_offence_term_end_to_end() -> None:
    """Every day: listed offences leave exactly when day - listed_day reaches term_days.
    At the end the stock is N * (1 - exp(-rate * term)): those with a detection in the last term days."""
    n, days, rate, term = 5_000, 80, 0.003, 20
    params = scenario(
        n,
        days,
        events={"default": offence(rate=rate, points=0.0, blacklist_on_detection=True)},
        blacklist={"term_days": term},
    )
    previous = {"member": np.zeros(n, dtype=bool), "day": np.zeros(n, dtype=np.int64)}
    exits = []

    def watch(s: State, day: int) -> None:
        member = s.blacklist.member.copy()
        assert np.all(s.cause[member] == LISTED_OFFENCE)
        assert np.all(day - s.listed_day[member] < term)
        left = previous["member"] & ~member
        assert np.all(day - previous["day"][left] == term)
        exits.append(int(left.sum()))
        previous["member"] = member
        previous["day"] = s.listed_day.astype(np.int64).copy()

    r = simulate_watching(params, population(n), watch)
    assert sum(exits) > 100
    assert np.array_equal(np.cumsum(column(r, "listings_new")) - np.cumsum(exits), column(r, "blacklisted"))
    p = 1 - np.exp(-rate * term)
    assert within(column(r, "blacklisted")[-1], n * p, np.sqrt(n * p * (1 - p)))


def test_score_below_threshold_relists_after_the_term() -> None:
    """Entry is `score < threshold` (section 6): when a listed offence's term ends and the score is
    still 500 < 700, the citizen goes back on the blacklist, now for their own conduct."""
    n, term = 10, 5
    params = scenario(
        n,
        15,
        events={"default": offence(points=-300.0, blacklist_on_detection=True)},
        blacklist={"threshold": 700, "term_days": term, "min_days": 0},
    )
    state = build_state(params, population(n))
    for day in range(15):
        step(state, day, charges([0]) if day == 0 else None)
        assert state.score[0] == 500.0
        if day < term:
            assert state.blacklist.member[0] and state.cause[0] == LISTED_OFFENCE
        if day > term:
            assert state.blacklist.member[0] and state.cause[0] == OWN_CONDUCT


def test_exit_needs_min_days_and_score_back() -> None:
    """Threshold 700, min_days 20, recovery of 10 points a day from day 1 (clean_days 1).
    Citizen 0 (own -150) is back at 700 on day 5 but must serve until day 20; citizen 1
    (own -400) is back at 700 only on day 30; citizen 2 (misattributed -150) leaves like 0."""
    n = 10
    params = scenario(
        n,
        40,
        events={"fraud": offence(points=-150.0), "theft": offence(points=-400.0)},
        blacklist={"threshold": 700, "min_days": 20},
        recovery={"clean_days": 1, "per_day": 10.0},
    )
    state = build_state(params, population(n))
    on = np.zeros((40, 3), dtype=bool)
    for day in range(40):
        step(state, day, charges([0, 1, 2], [0, 1, 0], [False, False, True]) if day == 0 else None)
        on[day] = state.blacklist.member[:3]
        if day == 5:
            score = scoring.current_ledgers(state, day)[:, L_SCORE]
            assert score[0] == 700.0 and score[2] == 700.0
    assert np.flatnonzero(on[:, 0]).tolist() == list(range(20))
    assert np.flatnonzero(on[:, 1]).tolist() == list(range(30))
    assert np.flatnonzero(on[:, 2]).tolist() == list(range(20))
    assert scoring.current_ledgers(state, 39)[1, L_SCORE] == 790.0  # 400 + 10 * 39


# --- Corporate credit and joint punishment ------------------------------------------------------


def firm_population(n_private: int, n_public: int, size: int) -> tuple[Population, np.ndarray]:
    """Firms of `size` members each; member 0 of each is its legal representative (a business owner)."""
    m = n_private + n_public
    n = m * size
    firm = np.repeat(np.arange(m), size)
    rep = np.arange(m) * size
    occupation = np.full(n, EMPLOYEE)
    occupation[rep] = BUSINESS_OWNER
    sector = np.r_[np.zeros(n_private), np.ones(n_public)]
    return population(n, occupation=occupation, firm=firm, firm_rep=rep, firm_sector=sector), rep


@pytest.mark.parametrize("firm_to_person", [True, False])
def test_firm_violations_and_firm_blacklist(firm_to_person: bool) -> None:
    """Violations per private firm are Poisson(violation_rate * coverage * share * T); with -1 point
    each, firm_score = 800 - count. Firms under 797.5 (3 violations or more) are blacklisted,
    and with firm_to_person each lists its legal representative for joint punishment."""
    n_private, n_public, days = 400, 100, 200
    rate, c, share = 0.02, 0.5, 0.6
    pop, rep = firm_population(n_private, n_public, 5)
    params = scenario(
        pop.size,
        days,
        sources={"regulator": {"coverage": c, "share": share}},
        firms={
            "violation_rate": rate,
            "violation_points": -1.0,
            "blacklist_threshold": 797.5,
            "source": "regulator",
            "firm_to_person": firm_to_person,
        },
        blacklist={"min_days": FOREVER},
    )
    r = simulate(params, pop)
    s = r.state
    counts = np.rint(800.0 - s.firm_score).astype(np.int64)
    m = rate * c * share * days  # 1.2
    assert np.all(counts[n_private:] == 0)  # public firms have no violations
    assert within(counts[:n_private].mean(), m, np.sqrt(m / n_private))
    observed = np.bincount(np.minimum(counts[:n_private], 5), minlength=6)
    expected = np.r_[stats.poisson(m).pmf(np.arange(5)), stats.poisson(m).sf(4)] * n_private
    assert stats.chisquare(observed, expected).pvalue > 1e-4
    assert np.array_equal(s.firm_blacklisted, counts >= 3)
    firms = column(r, "firms_blacklisted")
    assert firms[-1] == (counts >= 3).sum() and np.all(np.diff(firms) >= 0)
    p = stats.poisson(m).sf(2)
    assert within(firms[-1], n_private * p, np.sqrt(n_private * p * (1 - p)))
    joint = column(r, "blacklisted_joint_punishment")
    if firm_to_person:
        assert np.array_equal(joint, firms)
        assert np.array_equal(listed(s), np.sort(rep[s.firm_blacklisted]))
        assert np.all(s.cause[rep[s.firm_blacklisted]] == JOINT_PUNISHMENT)
    else:
        assert joint.sum() == 0 and s.blacklist.size == 0


def test_joint_punishment_ends_with_the_firm_listing() -> None:
    """With firm recovery, firms leave the blacklist after min_days with their score back;
    their representatives' joint-punishment listings end the same day."""
    pop, rep = firm_population(300, 0, 3)
    params = scenario(
        pop.size,
        150,
        sources={"regulator": {"coverage": 1.0}},
        firms={"violation_rate": 0.01, "violation_points": -60.0, "blacklist_threshold": 750, "source": "regulator"},
        blacklist={"min_days": 10},
        recovery={"clean_days": 5, "per_day": 2.0},
    )

    def watch(s: State, day: int) -> None:
        assert np.array_equal(np.sort(s.blacklist.ids()), np.sort(rep[s.firm_blacklisted]))
        assert np.all(s.cause[s.blacklist.ids()] == JOINT_PUNISHMENT)

    r = simulate_watching(params, pop, watch)
    firms = column(r, "firms_blacklisted")
    assert np.array_equal(column(r, "blacklisted_joint_punishment"), firms)
    assert firms.max() > 10 and (np.diff(firms) < 0).any()  # firms were listed and some left


def test_person_to_firm_lists_the_represented_firm() -> None:
    """With person_to_firm, a listed legal representative lists their firm; listed employees list nothing."""
    pop, rep = firm_population(500, 0, 4)
    params = scenario(
        pop.size,
        100,
        sources={"regulator": {"coverage": 1.0}},
        events={"default": offence(rate=0.004, points=0.0, blacklist_on_detection=True)},
        firms={"violation_rate": 0.0, "source": "regulator", "person_to_firm": True},
        blacklist={"min_days": FOREVER, "term_days": FOREVER},
    )
    r = simulate(params, pop)
    s = r.state
    assert np.array_equal(s.firm_blacklisted, s.blacklist.member[rep])
    assert 50 < s.firm_blacklisted.sum() < 500
    employees = np.setdiff1d(np.arange(pop.size), rep)
    assert s.blacklist.member[employees].sum() > 100
    assert column(r, "firms_blacklisted")[-1] == s.blacklist.member[rep].sum()
    assert column(r, "blacklisted_joint_punishment").sum() == 0  # the representatives were listed already


# --- Appeals -------------------------------------------------------------------------------------


def wrongful_stock(state: State) -> int:
    return int(sanctions.wrongful(state, state.blacklist.ids()).sum())


def test_appeals_decay_the_listed_stock_geometrically() -> None:
    """10,000 wrongful and 10,000 rightful listed offences, nothing else happening. Each day a
    listed person appeals with probability a and wins with s, so after t days each listing
    survives with probability (1 - a s)^t: the stock is Binomial(L, (1 - a s)^t).
    A won appeal clears the misattributed ledger (-50 here) and the score goes back to 800."""
    n, half, days = 20_000, 10_000, 40
    a, s_wrong, s_right = 0.05, 0.6, 0.1
    params = scenario(
        n,
        days,
        events={"default": offence(blacklist_on_detection=True)},
        appeal={"rate": a, "success_wrongful": s_wrong, "success_rightful": s_right},
        blacklist={"term_days": FOREVER},
    )
    state = build_state(params, population(n))
    everyone = np.arange(n)
    sanctions.enlist(state, everyone, np.full(n, LISTED_OFFENCE, dtype=np.int8), everyone < half, day=0)
    state.misattributed[:] = -50.0
    refresh_scores(state, everyone)
    assert wrongful_stock(state) == half
    rng = np.random.default_rng(11)
    won = 0
    for day in range(1, days + 1):
        start_day(state)
        before = state.blacklist.size
        sanctions.exits_and_appeals(state, draws(state, rng, day), day)
        assert before - state.blacklist.size == state.counters["appeals_won"]
        won += state.counters["appeals_won"]
        if day in (10, 20, 40):
            for group, success in ((everyone < half, s_wrong), (everyone >= half, s_right)):
                p = (1 - a * success) ** day
                stock = state.blacklist.member[group].sum()
                assert within(stock, half * p, np.sqrt(half * p * (1 - p))), (day, success)
    assert won == n - state.blacklist.size
    out = ~state.blacklist.member
    assert np.all(state.misattributed[out] == 0) and np.all(state.score[out] == 800.0)
    assert np.all(state.misattributed[~out] == -50.0) and np.all(state.score[~out] == 750.0)


@pytest.mark.parametrize("misattribution", [1.0, 0.0])
def test_appeals_end_to_end(misattribution: float) -> None:
    """Listed offences from a source that misattributes every record (all listings wrongful) or none
    (all rightful). Each day every listed person wins with probability a * s, so the day's wins
    sum to a * s * (the stock before appeals) up to a martingale of variance a s (1 - a s) * stock.
    Those who win leave with a clean misattributed ledger."""
    n, days, a, s_wrong, s_right = 10_000, 100, 0.05, 0.8, 0.1
    params = scenario(
        n,
        days,
        sources={"cameras": {"coverage": 1.0, "misattribution": misattribution}},
        events={"default": offence(rate=0.002, points=-10.0, blacklist_on_detection=True)},
        appeal={"rate": a, "success_wrongful": s_wrong, "success_rightful": s_right},
        blacklist={"term_days": FOREVER},
    )
    previous = np.zeros(n, dtype=bool)
    cleared = []

    def watch(s: State, day: int) -> None:
        nonlocal previous
        left = (previous | (s.listed_day == day)) & ~s.blacklist.member  # listed today may win today
        assert np.all(s.misattributed[left] == 0)
        cleared.append(int(left.sum()))
        previous = s.blacklist.member.copy()

    r = simulate_watching(params, population(n), watch)
    stock, won = column(r, "blacklisted"), column(r, "appeals_won")
    assert np.array_equal(cleared, won)
    before = stock + won  # appeals are the day's last change to the blacklist
    p = a * (s_wrong if misattribution == 1.0 else s_right)
    assert within(won.sum(), p * before.sum(), np.sqrt(p * (1 - p) * before.sum()))
    wrongful = column(r, "blacklisted_wrongful")
    assert np.array_equal(wrongful, stock if misattribution == 1.0 else np.zeros(days))
    if misattribution == 1.0:
        assert r.state.misattributed.sum() < 0 and r.state.own.sum() == 0


# --- Sanction effects ----------------------------------------------------------------------------

TRAVEL = {"rate": [0.01, 0.02, 0.03, 0.04, 0.05], "plane_share": [0.1, 0.3, 0.5, 0.7, 0.9]}


@pytest.mark.parametrize("modes", [["plane", "train"], ["plane"], ["train"]])
def test_travel_ban_denies_trips_of_the_listed(modes: list[str]) -> None:
    """10,000 citizens, quintile 1 + (i mod 5); the 2,000 of quintile 2 and the 2,000 of quintile 4 are
    listed. Over T days, denied trips are Poisson(T * 2000 * (rate[2] + rate[4])) = 12,000, of which
    plane Poisson(T * 2000 * (0.02 * 0.3 + 0.04 * 0.7)) = 6,800 and train 5,200; a ban on some
    modes denies only those."""
    n, days = 10_000, 100
    income = 1 + np.arange(n) % 5
    params = scenario(
        n, days, sanctions=[{"effect": "travel_ban", "trigger": "blacklist", "modes": modes}], travel=TRAVEL
    )
    state = build_state(params, population(n, income_q=income))
    banned = np.flatnonzero((income == 2) | (income == 4))
    sanctions.enlist(state, banned, np.full(banned.size, OWN_CONDUCT, dtype=np.int8), np.zeros(banned.size, bool), 0)
    rng = np.random.default_rng(5)
    plane = train = total = 0
    for day in range(days):
        start_day(state)
        travel_ban.travel(state, draws(state, rng, day), day)
        plane += state.counters["trips_denied_plane"]
        train += state.counters["trips_denied_train"]
        total += state.counters["trips_denied"]
    m_plane = days * 2000 * (0.02 * 0.3 + 0.04 * 0.7)
    m_train = days * 2000 * (0.02 * 0.7 + 0.04 * 0.3)
    m_plane, m_train = (m_plane if "plane" in modes else 0.0), (m_train if "train" in modes else 0.0)
    assert total == plane + train
    assert plane == 0 if m_plane == 0 else within(plane, m_plane, np.sqrt(m_plane))
    assert train == 0 if m_train == 0 else within(train, m_train, np.sqrt(m_train))


def test_travel_ban_by_tier_end_to_end() -> None:
    """Everyone starts at 650 (tier C) under a "tier <= C" ban: every wanted trip is denied,
    trips_denied ~ Poisson(T * sum_q n_q rate[q]); starting at 800 (tier B) nobody is denied."""
    n, days = 5_000, 100
    income = 1 + np.arange(n) % 5
    ban = [{"effect": "travel_ban", "trigger": "tier <= C"}]
    r = simulate(scenario(n, days, sanctions=ban, travel=TRAVEL, score={"start": 650}), population(n, income_q=income))
    m = days * 1000 * sum(TRAVEL["rate"])
    denied = column(r, "trips_denied")
    assert within(denied.sum(), m, np.sqrt(m))
    assert np.array_equal(denied, column(r, "trips_denied_plane") + column(r, "trips_denied_train"))
    m_plane = days * 1000 * float(np.dot(TRAVEL["rate"], TRAVEL["plane_share"]))
    assert within(column(r, "trips_denied_plane").sum(), m_plane, np.sqrt(m_plane))
    r = simulate(scenario(n, days, sanctions=ban, travel=TRAVEL), population(n, income_q=income))
    assert column(r, "trips_denied").sum() == 0


def test_speech_block_suppresses_political_events_of_the_listed() -> None:
    """4,000 of 10,000 listed, speech blocked on the blacklist. Over T = 50 days, political events
    of the listed are suppressed: speech_suppressed ~ Poisson(0.01 * 4000 * 50) = 2,000, political
    events ~ Poisson(0.01 * 6000 * 50) = 3,000, all by unlisted citizens; non-political events
    stay Poisson(0.01 * 10000 * 50) = 5,000."""
    n, days, rate, n_listed = 10_000, 50, 0.01, 4_000
    params = scenario(
        n,
        days,
        events={"criticism": offence(rate=rate, political=True), "jaywalking": offence(rate=rate)},
        sanctions=[{"effect": "speech_block", "trigger": "blacklist"}],
    )
    state = build_state(params, population(n))
    ids = np.arange(n_listed)
    sanctions.enlist(state, ids, np.full(n_listed, OWN_CONDUCT, dtype=np.int8), np.zeros(n_listed, bool), 0)
    rng = np.random.default_rng(2)
    suppressed, political, other = 0, 0, 0
    for day in range(1, days + 1):
        start_day(state)
        events = behaviour(state, draws(state, rng, day), day)
        is_political = events.event == 0
        assert not state.blacklist.member[events.actor[is_political]].any()
        assert state.counters.events[0] == is_political.sum()  # suppressed speech is not an event
        suppressed += state.counters["speech_suppressed"]
        political += int(is_political.sum())
        other += int((~is_political).sum())
    for observed, m in (
        (suppressed, rate * n_listed * days),
        (political, rate * (n - n_listed) * days),
        (other, rate * n * days),
    ):
        assert within(observed, m, np.sqrt(m)), (observed, m)


@pytest.mark.parametrize("blocked", [False, True])
def test_speech_block_end_to_end(blocked: bool) -> None:
    """political_events sums the political event types. Everyone starting at 650 under a "tier <= C"
    block, none is left: speech_suppressed ~ Poisson((0.01 + 0.005) * N * T) and non-political
    events are untouched."""
    n, days = 5_000, 60
    params = scenario(
        n,
        days,
        score={"start": 650 if blocked else 800},
        events={
            "criticism": offence(rate=0.01, points=0.0, political=True),
            "petition": offence(rate=0.005, points=0.0, political=True),
            "jaywalking": offence(rate=0.01, points=0.0),
        },
        sanctions=[{"effect": "speech_block", "trigger": "tier <= C"}],
    )
    r = simulate(params, population(n))
    political = column(r, "political_events")
    assert np.array_equal(political, column(r, "events_criticism") + column(r, "events_petition"))
    m_speech, m_other = 0.015 * n * days, 0.01 * n * days
    assert within(column(r, "events_jaywalking").sum(), m_other, np.sqrt(m_other))
    if blocked:
        assert political.sum() == 0
        assert within(column(r, "speech_suppressed").sum(), m_speech, np.sqrt(m_speech))
    else:
        assert column(r, "speech_suppressed").sum() == 0
        assert within(political.sum(), m_speech, np.sqrt(m_speech))


@pytest.mark.parametrize(
    ("start", "min_tier", "exclusion", "granted_share"),
    [
        (800, None, None, 1.0),  # no bar: every chance is granted
        (800, "B", None, 1.0),  # at the minimum tier
        (800, "A", None, 0.0),  # below the minimum tier
        (800, None, "tier <= B", 0.0),  # public job exclusion
        (650, "B", None, 0.0),  # tier C is below B
    ],
)
def test_promotions(start: float, min_tier: str | None, exclusion: str | None, granted_share: float) -> None:
    """6,000 civil servants among 10,000: promotion chances ~ Poisson(6000 * rate / 365 * T), granted
    at min_tier or above without public job exclusion, else blocked; employees never count."""
    n, n_cs, days, rate = 10_000, 6_000, 100, 0.5
    occupation = np.where(np.arange(n) < n_cs, CIVIL_SERVANT, EMPLOYEE)
    sanctions_ = [] if exclusion is None else [{"effect": "public_job_exclusion", "trigger": exclusion}]
    promotion = {"rate_per_year": rate} | ({} if min_tier is None else {"min_tier": min_tier})
    params = scenario(n, days, score={"start": start}, promotion=promotion, sanctions=sanctions_)
    r = simulate(params, population(n, occupation=occupation))
    granted, blocked = column(r, "promotions_granted").sum(), column(r, "promotions_blocked").sum()
    m = n_cs * rate / 365 * days  # 821.9
    assert within(granted + blocked, m, np.sqrt(m))
    assert granted == (granted + blocked) * granted_share


def test_promotions_blocked_on_the_blacklist() -> None:
    """Half of the civil servants listed: each chance is granted with probability 1/2."""
    n, days = 8_000, 200
    params = scenario(n, days, promotion={"rate_per_year": 1.0})
    state = build_state(params, population(n, occupation=CIVIL_SERVANT))
    ids = np.arange(0, n, 2)
    sanctions.enlist(state, ids, np.full(ids.size, OWN_CONDUCT, dtype=np.int8), np.zeros(ids.size, bool), 0)
    rng = np.random.default_rng(4)
    granted = blocked = 0
    for day in range(days):
        start_day(state)
        public_job_exclusion.promotions(state, draws(state, rng, day), day)
        granted += state.counters["promotions_granted"]
        blocked += state.counters["promotions_blocked"]
    k = granted + blocked
    assert within(k, n * days / 365, np.sqrt(n * days / 365))
    assert within(granted, k / 2, np.sqrt(k / 4))


def households(n_children: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Two adults then `n_children[h]` children per household h: (household, age_band) columns."""
    house = np.concatenate([np.full(2 + c, h) for h, c in enumerate(n_children)])
    age = np.concatenate([np.r_[AGE_ADULT, AGE_ADULT, np.full(c, AGE_CHILD)] for c in n_children])
    return house, age


def test_education_restriction_counts_children_of_sanctioned_adults() -> None:
    """Households of two adults and 0, 1, 2, 3, 1, 2 children. children_restricted is the number of
    children in households with at least one listed adult, and drops when the last one leaves."""
    kids = [0, 1, 2, 3, 1, 2]
    house, age = households(kids)
    n = house.size
    params = scenario(n, 5, sanctions=[{"effect": "education_restriction", "trigger": "blacklist"}])
    state = build_state(params, population(n, household=house, age_band=age))
    head = np.array([np.flatnonzero(house == h)[0] for h in range(len(kids))])

    def change(add: list[int] | None = None, remove: list[int] | None = None) -> int:
        start_day(state)
        ids = np.asarray(add or [], dtype=np.int64)
        sanctions.enlist(state, ids, np.full(ids.size, OWN_CONDUCT, dtype=np.int8), np.zeros(ids.size, bool), 0)
        sanctions.delist(state, np.asarray(remove or [], dtype=np.int64), APPEAL_WON, 0)
        education_restriction.education(state)
        return state.kept.tallies["children_restricted"]

    child_of_3 = head[3] + 2
    assert change(add=[head[1]]) == 1
    assert change(add=[head[2], head[2] + 1]) == 1 + 2
    assert change(add=[child_of_3]) == 3  # a listed child restricts no one
    assert change(add=[head[0]]) == 3  # a household without children
    assert change(remove=[head[2]]) == 3  # one adult of household 2 is still listed
    assert change(remove=[head[1]]) == 2
    assert change(remove=[head[2] + 1]) == 0
    assert change(add=[head[5] + 1, head[4]]) == 1 + 2


def test_education_restriction_end_to_end() -> None:
    """Every day, children_restricted equals the children of households with a listed adult
    (listed offences of term 15 for everyone, children included)."""
    rng = np.random.default_rng(8)
    kids = rng.integers(0, 4, size=1_500).tolist()
    house, age = households(kids)
    n = house.size
    params = scenario(
        n,
        60,
        events={"default": offence(rate=0.005, points=0.0, blacklist_on_detection=True)},
        blacklist={"term_days": 15},
        sanctions=[{"effect": "education_restriction", "trigger": "blacklist"}],
    )
    per_house = np.bincount(house[age == AGE_CHILD], minlength=len(kids))
    values = []

    def watch(s: State, day: int) -> None:
        hit = np.zeros(len(kids), dtype=bool)
        hit[house[s.blacklist.member & (age == AGE_ADULT)]] = True
        assert s.kept.tallies["children_restricted"] == per_house[hit].sum()
        values.append(s.kept.tallies["children_restricted"])

    r = simulate_watching(params, population(n, household=house, age_band=age), watch)
    assert np.array_equal(column(r, "children_restricted"), values)
    assert max(values) > 100 and (np.diff(values) < 0).any()


def test_education_restriction_by_tier_from_day_zero() -> None:
    """Under a "tier <= B" rule, everyone starts in tier B (800): every child is restricted on day 0."""
    kids = [1, 2, 0, 3]
    house, age = households(kids)
    params = scenario(house.size, 3, sanctions=[{"effect": "education_restriction", "trigger": "tier <= B"}])
    r = simulate(params, population(house.size, household=house, age_band=age))
    assert np.all(column(r, "children_restricted") == sum(kids))


# --- Rewards -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("trigger", "tiers"), [("tier >= B", ["A", "B"]), ("tier >= A", ["A"])])
def test_green_channel_counts_citizens_at_or_above_the_tier(trigger: str, tiers: list[str]) -> None:
    """green_channel_benefits is, each day, the number of citizens at or above the trigger tier."""
    n, days = 5_000, 60
    params = scenario(
        n,
        days,
        events={"fraud": offence(rate=0.01, points=-100.0), "volunteering": offence(rate=0.01, points=60.0)},
        rewards=[{"effect": "green_channel", "trigger": trigger}],
    )
    r = simulate(params, population(n))
    benefits = column(r, "green_channel_benefits")
    assert np.array_equal(benefits, sum(column(r, f"tier_{t}") for t in tiers))
    tier_counts = np.bincount(r.state.tier, minlength=4)
    assert benefits[-1] == tier_counts[: len(tiers)].sum()
    assert column(r, "tier_A").max() > 50 and benefits[-1] < n  # scores moved both ways


def test_red_loans_go_to_business_owners_with_a_recent_party_promotion() -> None:
    """Window 10. Owners 0-4 detected on day 0, owner 5 on days 0 and 6, employee 15 on day 0.
    Non-owners never hold a red loan; a new detection extends the loan; loans end after the window."""
    n, window = 20, 10
    occupation = np.where(np.arange(n) < 10, BUSINESS_OWNER, EMPLOYEE)
    params = scenario(
        n,
        30,
        events={"rally": offence(points=0.0, party_promotion=True)},
        rewards=[{"effect": "red_loan", "window_days": window}],
    )
    state = build_state(params, population(n, occupation=occupation))
    table = MetricTable(state.cp, 30)
    for day in range(30):
        step(
            state, day, charges([0, 1, 2, 3, 4, 5, 15]) if day == 0 else charges([5]) if day == 6 else None, table=table
        )
        assert not state.kept.sets["red_loan"].member[10:].any()
    held = table.columns["red_loans"]
    assert np.all(held[:window] == 6)  # days 0 .. 9: within the window of day 0
    assert np.all(held[window + 1 : window + 6] == 1)  # only owner 5, detected again on day 6
    assert np.all(held[window + 7 :] == 0)


def test_red_loan_lasts_window_days() -> None:
    """A detection on day 0 with window_days 10 counts on days 0 .. 9 (the last 10 days) and not on day 10."""
    n, window = 10, 10
    params = scenario(
        n,
        15,
        events={"rally": offence(points=0.0, party_promotion=True)},
        rewards=[{"effect": "red_loan", "window_days": window}],
    )
    state = build_state(params, population(n, occupation=BUSINESS_OWNER))
    held = []
    for day in range(15):
        step(state, day, charges([0]) if day == 0 else None)
        held.append(bool(state.kept.sets["red_loan"].member[0]))
    assert np.flatnonzero(held).tolist() == list(range(window))


def test_red_loans_end_to_end() -> None:
    """Half the population are business owners; a party-promotion event of rate 0.01 (coverage 1).
    Only owners ever hold red loans, and the stock on the last day is close to
    n_owners * (1 - exp(-rate * window))."""
    n, days, rate, window = 10_000, 100, 0.01, 30
    occupation = np.where(np.arange(n) % 2 == 0, BUSINESS_OWNER, EMPLOYEE)
    params = scenario(
        n,
        days,
        events={"rally": offence(rate=rate, points=0.0, party_promotion=True)},
        rewards=[{"effect": "red_loan", "window_days": window}],
    )

    def watch(s: State, day: int) -> None:
        assert np.all(s.pop.occupation[s.kept.sets["red_loan"].ids()] == BUSINESS_OWNER)

    r = simulate_watching(params, population(n, occupation=occupation), watch)
    p = 1 - np.exp(-rate * window)
    stock = column(r, "red_loans")
    assert within(stock[-1], n / 2 * p, np.sqrt(n / 2 * p * (1 - p)))
    assert stock[-1] == r.state.kept.sets["red_loan"].size
