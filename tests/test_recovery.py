"""Recovery (docs/model.md section 5; docs/model.md, "Recovery in closed form") against exact arithmetic.

Where every debt is charged on day 0, each citizen's score on every later day has a closed
form in whole points; the scheduled run must give it day by day: each citizen's ledgers and
score, the daily quantiles, tier counts, mean, blacklist stock and wrongful count. The wake
pool that schedules recovery keeps each citizen in their wake day only.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from modelkit import build_state, charges, offence, population, scenario, step
from scslab import engine
from scslab.model import scoring
from scslab.model.ledgers import L_ASSOCIATION, L_MISATTRIBUTED, L_OWN, L_SCORE
from scslab.model.metrics import MetricTable
from scslab.model.params import compile_params
from scslab.model.recovery import (
    COUNT,
    HEAD,
    NEXT_BLOCK,
    WAKE,
    WAKE_AT,
    day_wakes,
    schedule_wake,
    start_and_wake,
    wake_checks,
    wake_meta,
    wake_pool,
    wake_pool_blocks,
)
from scslab.scenario import load_scenario

N, DAYS, CLEAN, THRESHOLD, MIN_DAYS = 2_000, 300, 5, 700.0, 30
S0, LOW, HIGH = 800.0, 350.0, 950.0
BOUNDS = np.array([900.0, 800.0, 650.0, 350.0])  # tiers A, B, C, D (lower bounds)


def day0_charges() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Citizen i: i % 37 minor offences (-1), (i // 37) % 12 major ones (-50, misattributed when
    i % 3 == 0) and, when i % 5 == 0, (i % 4) bonuses (+100). Debts reach 586 points (scores
    pinned at the minimum) and merit 300 (pinned at the maximum while in debt)."""
    i = np.arange(N)
    minor, major, bonus = i % 37, (i // 37) % 12, np.where(i % 5 == 0, i % 4, 0)
    target = np.concatenate([np.repeat(i, minor), np.repeat(i, major), np.repeat(i, bonus)])
    event = np.concatenate([np.zeros(minor.sum()), np.ones(major.sum()), np.full(bonus.sum(), 2)]).astype(int)
    mis = np.concatenate([np.zeros(minor.sum()), np.repeat(i % 3 == 0, major), np.zeros(bonus.sum())]).astype(bool)
    return target, event, mis


def exact(day: int, per_day: float) -> dict[str, np.ndarray]:
    """Each citizen's ledgers and score at the end of `day`, in whole points (per_day * k)."""
    i = np.arange(N)
    minor, major, bonus = i % 37, (i // 37) % 12, np.where(i % 5 == 0, i % 4, 0)
    own = -minor - np.where(i % 3 == 0, 0, 50 * major)
    mis = -np.where(i % 3 == 0, 50 * major, 0)
    debt = -(own + mis).astype(float)
    k = max(0, day - CLEAN + 1)  # recovery days so far: from day CLEAN (clean for CLEAN days)
    back = np.minimum(per_day * k, debt)
    left = np.divide(debt - back, debt, out=np.zeros(N), where=debt > 0)
    score = np.clip(S0 + 100 * bonus - debt + back, LOW, HIGH)
    return {"own": own * left, "mis": mis * left, "score": score, "merit": 100.0 * bonus}


def tiers_of(score: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(-BOUNDS, -score, side="left"), 3)


@pytest.mark.parametrize("per_day", [1.0, 2.5])
def test_scheduled_recovery_matches_exact_arithmetic(per_day: float) -> None:
    params = scenario(
        N,
        DAYS,
        events={"minor": offence(points=-1.0), "major": offence(points=-50.0), "bonus": offence(points=100.0)},
        recovery={"clean_days": CLEAN, "per_day": per_day},
        blacklist={"threshold": THRESHOLD, "min_days": MIN_DAYS},
    )
    state = build_state(params, population(N))
    assert state.index.bins_a_day == round(per_day / 0.1)  # the scheduled path is the one checked
    table = MetricTable(state.cp, DAYS)
    target, event, mis = day0_charges()
    first_back: np.ndarray | None = None  # the day each listed citizen's score is back at the threshold
    listed0 = np.zeros(N, dtype=bool)
    for day in range(DAYS):
        step(state, day, charges(target, event, mis) if day == 0 else None, table=table)
        want = exact(day, per_day)
        led = scoring.current_ledgers(state, day)
        assert np.allclose(led[:, L_SCORE], want["score"], rtol=0, atol=1e-9), day
        assert np.allclose(led[:, L_OWN], want["own"], rtol=0, atol=1e-9), day
        assert np.allclose(led[:, L_MISATTRIBUTED], want["mis"], rtol=0, atol=1e-9), day
        score = want["score"]
        # the score index, with the moving scores never touched between wakes
        assert np.array_equal(state.tier, tiers_of(score)), day
        assert np.array_equal(state.index.tier_counts, np.bincount(tiers_of(score), minlength=4)), day
        assert np.isclose(table.columns["score_mean"][day], score.mean(), rtol=0, atol=1e-9), day
        for name, q in (("score_p10", 0.1), ("score_p50", 0.5), ("score_p90", 0.9)):
            # the lowest score with at least a share q at or below it (scores are whole points)
            assert table.columns[name][day] == np.sort(score)[int(np.ceil(q * N)) - 1], (name, day)
        # the blacklist: listed on day 0 below the threshold; out after MIN_DAYS once back at it
        if day == 0:
            listed0 = score < THRESHOLD
            first_back = np.full(N, DAYS)
        assert first_back is not None
        first_back = np.where((score >= THRESHOLD) & (first_back == DAYS), day, first_back)
        on = listed0 & ((day < MIN_DAYS) | (first_back > day))
        assert np.array_equal(state.blacklist.member, on), day
        # wrongful: listed, with S0 + own + merit at or above the threshold
        wrongful = on & (np.clip(S0 + want["own"] + want["merit"], LOW, HIGH) >= THRESHOLD)
        assert table.columns["blacklisted_wrongful"][day] == wrongful.sum(), day
    # the moving histogram holds exactly those still in debt with a raw score in [min, max)
    last = exact(DAYS - 1, per_day)
    in_debt = (last["own"] + last["mis"]) < 0
    raw = S0 + last["merit"] + last["own"] + last["mis"]
    moving = int((in_debt & (raw >= LOW) & (raw < HIGH)).sum())
    assert state.index.n_moving == moving and int(state.index.moving_hist.sum()) == moving
    assert (moving > 0) == (per_day == 1.0)  # 1 a day leaves the largest debts unpaid; 2.5 a day clears all


def test_recovery_exact() -> None:
    """own -30 and association -10 charged on day 0; clean_days 10, per_day 2. Nothing comes back
    through day 9; on the k-th recovery day (day 9 + k) the 40 points of debt are down to 40 - 2k,
    taken in proportion: own = -30 (40 - 2k) / 40, association = -10 (40 - 2k) / 40. Both are exactly
    0 after k = 20 (day 29) and stay there. A new charge on day 35 restarts the clock: day 45 is
    the first day back. Read each day as it stands (`current_ledgers`), without settling the
    scheduled recovery, so the closed form is checked day by day."""
    n = 10
    params = scenario(
        n,
        60,
        events={"fraud": offence(points=-30.0), "criticism": offence(points=-10.0)},
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 1.0}},
        recovery={"clean_days": 10, "per_day": 2.0},
    )
    state = build_state(params, population(n, edges={"friends": (np.array([0]), np.array([1]))}))
    for day in range(60):
        todays = charges([0, 1], [0, 1]) if day == 0 else charges([0], 0) if day == 35 else None
        step(state, day, todays)
        led = scoring.current_ledgers(state, day)
        own, association, score = led[:, L_OWN], led[:, L_ASSOCIATION], led[:, L_SCORE]
        k = 0 if day < 10 else min(day - 9, 20)
        if day < 35:
            assert np.isclose(own[0], -30 * (40 - 2 * k) / 40, rtol=1e-12, atol=0), day
            assert np.isclose(association[0], -10 * (40 - 2 * k) / 40, rtol=1e-12, atol=0), day
            assert np.isclose(score[0], 760 + 2 * k, rtol=1e-12), day
            # citizen 1: own -10 from its criticism, back 2 a day from day 10, clear on day 14
            assert np.isclose(own[1], -10 + 2 * min(max(day - 9, 0), 5)), day
        if 29 <= day < 35:
            assert own[0] == 0.0 and association[0] == 0.0 and score[0] == 800.0
        if day >= 35:
            k = 0 if day < 45 else min(day - 44, 15)
            assert np.isclose(own[0], -30 + 2 * k), day
            assert association[0] == 0.0
    assert own[0] == 0.0 and score[0] == 800.0
    assert own[1] == 0.0 and association[1] == 0.0  # 1's own debt was paid from day 10
    assert own[2:].sum() == 0 and association[2:].sum() == 0
    assert state.index.bins_a_day == 20  # (the scheduled path was the one checked)


def test_recovery_needs_a_clean_record() -> None:
    """A negative charge every 5 days with clean_days 10: the clock never runs out, nothing is regained."""
    n = 10
    params = scenario(n, 40, events={"fraud": offence(points=-5.0)}, recovery={"clean_days": 10, "per_day": 2.0})
    state = build_state(params, population(n))
    for day in range(40):
        step(state, day, charges([0]) if day % 5 == 0 else None)
    assert state.own[0] == -5.0 * 8


def test_scheduled_and_eager_recovery_agree_on_a_preset_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same run (same draws) with recovery scheduled and eager: scores are snapped to a grid
    far finer than any points (`ledgers.snap`), so the two give the same table and scores, though
    the one settles k days at once and the other adds them day by day."""
    params = load_scenario("beijing-2020").params
    size = params.population.model_copy(update={"size": 20_000})
    params = params.model_copy(update={"days": 200, "population": size})
    outs = []
    for scheduled in (True, False):
        monkeypatch.setattr(engine, "compile_params", partial(compile_params, scheduled_recovery=scheduled))
        outs.append(engine.run(params, 3))
    a, b = outs
    assert a.state.index.bins_a_day > 0 and b.state.index.bins_a_day == 0
    assert a.state.recovering.size > 100  # recovery was under way
    assert np.allclose(a.state.score, b.state.score, rtol=0, atol=1e-9)
    assert np.array_equal(a.state.blacklist.member, b.state.blacklist.member)
    for name in a.table.names:
        x, y = a.table.columns[name], b.table.columns[name]
        assert np.allclose(x, y, rtol=1e-12, atol=1e-9), name


def test_checking_does_not_change_a_scheduled_run() -> None:
    """`current_ledgers` reads the scheduled recovery without settling it: the stored state is untouched."""
    params = scenario(
        50,
        40,
        events={"minor": offence(points=-7.0)},
        recovery={"clean_days": 2, "per_day": 1.0},
    )
    state = build_state(params, population(50))
    step(state, 0, charges(np.arange(50), 0))
    for day in range(1, 6):
        step(state, day)
    before = state.ledgers.copy(), state.sched.copy()
    led = scoring.current_ledgers(state, 5)
    assert np.allclose(led[:, L_SCORE], 800 - 7 + 4)  # days 2..5 of recovery
    assert np.array_equal(state.ledgers, before[0]) and np.array_equal(state.sched, before[1])


def test_wake_pool_keeps_each_citizen_in_its_wake_day_only() -> None:
    """Random moves between days (and out) against a plain dict, then every day taken in turn: each
    day's wakes are exactly the citizens whose wake day it is, the pool never runs out, and every
    block is free at the end."""
    n, days = 500, 30
    blocks = wake_pool_blocks(n, days)
    recs = np.full((n, 4), -1, dtype=np.int32)
    meta, pool = wake_meta(days, blocks), wake_pool(blocks)
    rng = np.random.default_rng(7)
    want: dict[int, int] = {}
    for _ in range(20_000):
        i, day = int(rng.integers(n)), int(rng.integers(-1, days + 3))
        schedule_wake(recs, meta, pool, i, day)
        if 0 <= day < days:
            want[i] = day
        else:
            want.pop(i, None)
    for day in range(days):
        expected = sorted(i for i, d in want.items() if d == day)
        assert sorted(day_wakes(meta, pool, day).tolist()) == expected and meta[COUNT, day] == len(expected)
    assert all(ok for _, ok in wake_checks(recs, meta, pool, -1))
    moved = recs.copy()
    moved[next(iter(want)), WAKE_AT] ^= 1  # a record that points at its neighbour's place
    assert dict(wake_checks(moved, meta, pool, -1)) == {
        "each day's wakes are the citizens whose wake day it is": True,
        "each wake is where its record says": False,
        "every wake block is free or in one day's chain": True,
    }
    recovering = np.ones(n, dtype=bool)  # (nobody starts: only the wakes are taken)
    for day in range(days):
        ids, started = start_and_wake(
            np.zeros(0, dtype=np.int64),
            np.zeros(n, dtype=np.int32),
            np.zeros((n, 5)),
            recovering,
            recs,
            meta,
            pool,
            day,
            1,
        )
        assert started == 0 and sorted(ids.tolist()) == sorted(i for i, d in want.items() if d == day)
    assert (recs[:, WAKE] == -1).all()
    free, block = 0, int(meta[HEAD, -1])
    while block >= 0:
        free, block = free + 1, int(pool[block, NEXT_BLOCK])
    assert free == blocks and all(ok for _, ok in wake_checks(recs, meta, pool, days - 1))
