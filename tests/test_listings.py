"""The listing log (listings.parquet) against the daily stocks and against episodes derived by hand
from docs/model.md section 6: entry, cause, wrongfulness and its changes, exit day and reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scslab
from modelkit import build_state, charges, population, scenario, simulate_watching, step
from scslab.model.listings import EXIT_REASONS, ListingLog, frame
from scslab.model.metrics import MetricTable
from scslab.model.params import LISTED_OFFENCE, OWN_CONDUCT
from scslab.model.state import State
from scslab.population.types import BUSINESS_OWNER, EMPLOYEE
from scslab.scenario.schema import CAUSES

# Small runs with listings of every score cause, terms, recovery and appeals.
BUSY = {
    "population.size": 10_000,
    "days": 100,
    "blacklist.threshold": 780,
    "blacklist.term_days": 15,
    "blacklist.min_days": 5,
    "recovery.clean_days": 5,
    "recovery.per_day": 2.0,
    "appeal.rate": 0.05,
}
COLUMNS = [
    "citizen",
    "entry_day",
    "cause",
    "offence_day",
    "wrongful_at_entry",
    "wrongful_changes",
    "exit_day",
    "exit_reason",
    "wrongful_at_exit",
]


class CrashError(Exception):
    """Stands for a crash in the middle of a run."""


def offence(**kw: object) -> dict[str, object]:
    return {"rate": 0.0, "points": -150.0, "source": "cameras"} | kw


def stocks(listings: pd.DataFrame, days: int) -> tuple[np.ndarray, np.ndarray]:
    """The daily stocks rebuilt from the episodes: listed at the end of day d when entered on or
    before d and not left by d; wrongful then when the status at entry changed an odd number of
    times up to d."""
    d = np.arange(days)[:, None]
    entry = listings["entry_day"].to_numpy(dtype=np.int64)[None, :]
    exit_day = listings["exit_day"].fillna(days).to_numpy(dtype=np.int64)[None, :]
    on = (entry <= d) & (d < exit_day)
    flips = np.zeros((days, len(listings)), dtype=np.int64)
    for k, changes in enumerate(listings["wrongful_changes"]):  # a test may loop over a few hundred rows
        for day in changes:
            flips[day:, k] += 1
    now = listings["wrongful_at_entry"].to_numpy(dtype=bool)[None, :] ^ (flips % 2 == 1)
    return on.sum(axis=1), (on & now).sum(axis=1)


@pytest.mark.parametrize("crn", [False, True])
@pytest.mark.parametrize("preset", ["beijing-2020", "judgment-defaulters", "rights-respecting"])
def test_episodes_add_up_to_the_daily_stocks(preset: str, crn: bool, tmp_path: Path) -> None:
    """On every day the episodes open at its end are `blacklisted`, the wrongful ones among them
    `blacklisted_wrongful`; the episodes begun on a day are its `listings_new`."""
    result = scslab.simulate(scslab.load_scenario(preset).with_overrides(BUSY | {"crn": crn}), seed=3)
    ts, listings = result.timeseries, result.listings
    assert len(listings) > 5
    listed, wrongful = stocks(listings, len(ts))
    assert np.array_equal(listed, ts["blacklisted"].to_numpy())
    assert np.array_equal(wrongful, ts["blacklisted_wrongful"].to_numpy())
    # the status at entry, read from the cause, is the day end's (no listing changes on its first day)
    assert not any(int(e) in c for e, c in zip(listings["entry_day"], listings["wrongful_changes"], strict=True))
    new = np.bincount(listings["entry_day"].to_numpy(dtype=np.int64), minlength=len(ts))
    assert np.array_equal(new, ts["listings_new"].to_numpy())
    won = listings["exit_reason"] == "appeal_won"
    assert np.array_equal(np.bincount(listings["exit_day"][won].to_numpy(dtype=np.int64), minlength=len(ts)),
                          ts["appeals_won"].to_numpy())  # fmt: skip
    # still listed at the end: exactly the open episodes, with no exit day or exit status
    still = listings["exit_reason"] == "still_listed"
    assert still.sum() == ts["blacklisted"].iloc[-1]
    assert listings["exit_day"][still].isna().all() and listings["wrongful_at_exit"][still].isna().all()
    assert listings["exit_day"][~still].notna().all() and listings["wrongful_at_exit"][~still].notna().all()
    assert set(listings.loc[still, "citizen"]) == set(np.flatnonzero(result.state.blacklist.member))
    # the file holds the same table with typed columns
    result.save(tmp_path / "run")
    back = pd.read_parquet(tmp_path / "run" / "listings.parquet")
    assert list(back.columns) == COLUMNS
    assert back["citizen"].dtype == np.int64 and back["entry_day"].dtype == np.int32
    assert list(back["cause"].cat.categories) == list(CAUSES)
    assert list(back["exit_reason"].cat.categories) == list(EXIT_REASONS)
    assert back["citizen"].tolist() == listings["citizen"].tolist()
    assert back["exit_day"].isna().tolist() == listings["exit_day"].isna().tolist()


def rows(state: State) -> list[tuple[object, ...]]:
    """The episodes as tuples, one per row in listings.parquet's column order."""
    df = frame(state.listings.table())
    out: list[tuple[object, ...]] = []
    for r in df.itertuples(index=False):
        out.append((
            r.citizen, r.entry_day, r.cause, None if pd.isna(r.offence_day) else r.offence_day, r.wrongful_at_entry,
            list(r.wrongful_changes), None if pd.isna(r.exit_day) else r.exit_day, r.exit_reason,
            None if pd.isna(r.wrongful_at_exit) else r.wrongful_at_exit,
        ))  # fmt: skip
    return out


def test_terms_score_recovery_and_conversions_by_hand() -> None:
    """Threshold 700, S0 800, min_days 3, term_days 4, no recovery. Day 0: citizen 0 commits fraud
    (-150: 650, own conduct), 1 gets a misattributed listed offence (-1: a wrongful term listing),
    2 commits fraud, 3 gets a misattributed fraud (650, misattribution: wrongful). Day 1: a bonus
    (+100) lifts 0 to 750: the counterfactual reaches the threshold, so the listing turns wrongful,
    and it ends on day 3, after min_days. Day 2: a listed offence lands on 2, already listed: the
    listing becomes a term listing from day 2 (same episode), which ends on day 6 with the score
    still at 649, so 2 is listed again at once for own conduct."""
    n, days = 10, 8
    params = scenario(
        n,
        days,
        events={
            "fraud": offence(),
            "bonus": offence(points=100.0),
            "court": offence(points=-1.0, blacklist_on_detection=True),
        },
        blacklist={"threshold": 700, "min_days": 3, "term_days": 4},
        recovery={"per_day": 0.0},
    )
    state = build_state(params, population(n))
    table = MetricTable(state.cp, days)
    fraud, bonus, court = 0, 1, 2
    todays = {
        0: charges([0, 1, 2, 3], [fraud, court, fraud, fraud], [False, True, False, True]),
        1: charges([0], bonus),
        2: charges([2], court),
    }
    for day in range(days):
        step(state, day, todays.get(day), table=table)
    assert rows(state) == [  # (in the order of listing: the day's listed offences come before its score listings)
        (1, 0, "listed_offence", None, True, [], 4, "term_ended", True),
        (0, 0, "own_conduct", None, False, [1], 3, "score_recovered", True),
        (2, 0, "own_conduct", 2, False, [], 6, "term_ended", False),
        (3, 0, "misattribution", None, True, [], None, "still_listed", None),
        (2, 6, "own_conduct", None, False, [], None, "still_listed", None),
    ]
    assert table.columns["blacklisted"].tolist() == [4, 4, 4, 3, 2, 2, 2, 2]
    assert table.columns["blacklisted_wrongful"].tolist() == [2, 3, 3, 2, 1, 1, 1, 1]
    listed, wrongful = stocks(frame(state.listings.table()), days)
    assert listed.tolist() == [4, 4, 4, 3, 2, 2, 2, 2] and wrongful.tolist() == [2, 3, 3, 2, 1, 1, 1, 1]


def test_appeals_by_hand() -> None:
    """Everyone listed appeals every day; wrongful listings always win, rightful ones never. A
    misattributed fraud lists 1 on day 0 (after the day's appeals) and the appeal wins on day 1;
    a misattributed listed offence lists 2 before the appeals of day 0, so it is won the same day
    (an episode that no day-end stock counts). Citizen 0's own fraud stays listed."""
    n, days = 10, 4
    params = scenario(
        n,
        days,
        events={"fraud": offence(), "court": offence(points=-1.0, blacklist_on_detection=True)},
        blacklist={"threshold": 700, "min_days": 100, "term_days": 100},
        appeal={"rate": 1.0, "success_wrongful": 1.0, "success_rightful": 0.0},
    )
    state = build_state(params, population(n))
    table = MetricTable(state.cp, days)
    step(state, 0, charges([0, 1, 2], [0, 0, 1], [False, True, True]), table=table)
    for day in range(1, days):
        step(state, day, table=table)
    assert rows(state) == [
        (2, 0, "listed_offence", None, True, [], 0, "appeal_won", True),
        (0, 0, "own_conduct", None, False, [], None, "still_listed", None),
        (1, 0, "misattribution", None, True, [], 1, "appeal_won", True),
    ]
    assert table.columns["blacklisted"].tolist() == [2, 1, 1, 1]
    assert table.columns["appeals_won"].tolist() == [1, 1, 0, 0]


def test_joint_punishment_ends_when_the_firm_leaves() -> None:
    """Firms of 3 with member 0 their representative, listed with their firm (firm_to_person) and
    recovering: every joint-punishment episode begins the day its firm is listed and ends, with
    reason firm_delisted, the day the firm leaves its blacklist."""
    m, size, days = 300, 3, 150
    firm = np.repeat(np.arange(m), size)
    rep = np.arange(m) * size
    occupation = np.full(m * size, EMPLOYEE)
    occupation[rep] = BUSINESS_OWNER
    pop = population(m * size, occupation=occupation, firm=firm, firm_rep=rep, firm_sector=np.zeros(m))
    params = scenario(
        pop.size,
        days,
        sources={"regulator": {"coverage": 1.0}},
        firms={"violation_rate": 0.01, "violation_points": -60.0, "blacklist_threshold": 750, "source": "regulator"},
        blacklist={"min_days": 10},
        recovery={"clean_days": 5, "per_day": 2.0},
    )
    firm_listed = np.zeros((days, m), dtype=bool)

    def watch(s: State, day: int) -> None:
        firm_listed[day] = s.firm_blacklisted

    r = simulate_watching(params, pop, watch)
    listings = frame(r.state.listings.table())
    assert (listings["cause"] == "joint_punishment").all()
    left = listings[listings["exit_reason"] != "still_listed"]
    assert len(left) > 10 and (left["exit_reason"] == "firm_delisted").all()
    f = listings["citizen"].to_numpy() // size
    entry = listings["entry_day"].to_numpy(dtype=np.int64)
    assert firm_listed[entry, f].all() and not firm_listed[entry[entry > 0] - 1, f[entry > 0]].any()
    exit_day, f_left = left["exit_day"].to_numpy(dtype=np.int64), left["citizen"].to_numpy() // size
    assert firm_listed[exit_day - 1, f_left].all() and not firm_listed[exit_day, f_left].any()


def test_the_log_grows_by_doubling_and_keeps_every_record() -> None:
    """Opening and closing far more episodes than the first capacity keeps each record intact."""
    log = ListingLog(100, capacity=2)
    for day in range(40):
        ids = np.arange(day % 3, 100, 7)
        log.opened(ids, np.full(ids.size, OWN_CONDUCT, dtype=np.int8), ids % 2 == 0, day)
        log.day_end(ids, ids % 3 == 0, day)
        log.closed(ids[::2], 0, np.zeros(ids[::2].size, dtype=bool), day)
        log.closed(ids[1::2], 1, np.ones(ids[1::2].size, dtype=bool), day + 1)
    df = frame(log.table())
    sizes = [np.arange(day % 3, 100, 7).size for day in range(40)]
    assert len(df) == sum(sizes) and log.citizen.size >= len(df)
    assert df["entry_day"].tolist() == [day for day, k in zip(range(40), sizes, strict=True) for _ in range(k)]
    expected = [list(np.arange(day % 3, 100, 7)) for day in range(40)]
    assert df["citizen"].tolist() == [i for ids in expected for i in ids]
    changed = (df["citizen"] % 2 == 0) != (df["citizen"] % 3 == 0)
    assert [list(c) for c in df["wrongful_changes"]] == [
        [d] if x else [] for d, x in zip(df["entry_day"], changed, strict=True)
    ]
    assert (df["exit_day"] - df["entry_day"]).tolist() == [k % 2 for ids in expected for k in range(len(ids))]
    assert (df["cause"] == "own_conduct").all() and df["offence_day"].isna().all()
    assert LISTED_OFFENCE == CAUSES.index("listed_offence")


def test_a_resumed_run_writes_the_same_listings(tmp_path: Path) -> None:
    """A run stopped after a checkpoint and resumed writes listings.parquet byte for byte as the
    uninterrupted run (episodes open at the checkpoint included)."""
    scenario_ = scslab.load_scenario("beijing-2020").with_overrides(BUSY | {"population.size": 5_000, "days": 60})
    whole = scslab.run(scenario_, 3, tmp_path / "whole", report=False)

    def stop_after_35(day: int, days: int) -> None:
        if day == 35:
            raise CrashError

    with pytest.raises(CrashError):
        scslab.run(scenario_, 3, tmp_path / "part", report=False, checkpoint_every=10, progress=stop_after_35)
    scslab.resume(tmp_path / ".part.checkpoint")
    a, b = ((tmp_path / d / "listings.parquet").read_bytes() for d in ("whole", "part"))
    assert a == b
    listings = whole.listings
    assert (listings["entry_day"] < 30).any() and ((listings["exit_day"] > 30) | listings["exit_day"].isna()).any()
