"""Invariants checked after every day under `--check` (debug mode).

Each check names the day and the invariant it found broken; none of them changes the state.
"""

from __future__ import annotations

import numpy as np

from scslab.errors import ScslabError
from scslab.model.ledgers import L_ASSOCIATION, L_MERIT, L_MISATTRIBUTED, L_OWN, L_SCORE, score_tiers
from scslab.model.metrics import MetricTable, catalogue
from scslab.model.recovery import wake_checks
from scslab.model.scoring import current_ledgers
from scslab.model.state import State

# Scores are recomputed from the ledgers in the same order as the model; a difference
# beyond round-off means a ledger moved without its score following.
SCORE_TOLERANCE = 1e-9


class InvariantError(ScslabError):
    """The model broke one of its own invariants (a bug, not a bad input)."""

    exit_code = 3


class Checker:
    """Checks a run day by day; remembers yesterday's blacklist stock."""

    def __init__(self, state: State) -> None:
        self.stock = state.blacklist.size

    def __call__(self, state: State, table: MetricTable, day: int) -> None:
        """Check the state at the end of `day` (0-based); raise InvariantError on the first broken one."""
        for name, ok in checks(state, table, day, self.stock):
            if not ok:
                raise InvariantError(f"--check: day {day}: invariant broken: {name}")
        self.stock = state.blacklist.size


def checks(state: State, table: MetricTable, day: int, stock_before: int) -> list[tuple[str, bool]]:
    """(invariant, holds) pairs; the caller reports the first that does not hold."""
    # scheduled recovery is brought up to date in a copy: checking must not change the run
    ledgers = current_ledgers(state, day)
    return [
        *score_checks(state, ledgers),
        *index_checks(state, ledgers[:, L_SCORE], day),
        *(wake_checks(state.sched, state.wake_meta, state.wake_pool, day) if state.index.bins_a_day else []),
        *blacklist_checks(state, stock_before),
        *count_checks(state, table, day),
    ]


def score_checks(state: State, ledgers: np.ndarray) -> list[tuple[str, bool]]:
    """Scores within bounds and equal to clamp(S0 + ledgers); ledgers with their signs."""
    p = state.cp.p.score
    own, merit, score = ledgers[:, L_OWN], ledgers[:, L_MERIT], ledgers[:, L_SCORE]
    association = ledgers[:, L_ASSOCIATION]
    raw = p.start + own + ledgers[:, L_MISATTRIBUTED] + association + merit
    expected = np.clip(raw, p.min, p.max)
    finite = bool(np.isfinite(score).all())
    return [
        ("scores are finite", finite),
        (f"scores within [{p.min}, {p.max}]", bool(((score >= p.min) & (score <= p.max)).all())),
        ("score == clamp(S0 + own + misattributed + association + merit)",
         finite and bool(np.allclose(score, expected, rtol=0, atol=SCORE_TOLERANCE))),
        ("own ledger <= 0", bool((own <= 0).all())),
        ("merit ledger >= 0", bool((merit >= 0).all())),
        ("association ledger <= 0", bool((association <= 0).all())),
        ("tier matches the score", _tiers_match(state, score)),
        ("perceived risk rho within [0, 1]", bool(((state.rho >= 0) & (state.rho <= 1)).all())),
    ]  # fmt: skip


def _tiers_match(state: State, score: np.ndarray) -> bool:
    return bool((score_tiers(score, state.cp.tier_bounds, len(state.cp.tier_names)) == state.tier).all())


def index_checks(state: State, score: np.ndarray, day: int) -> list[tuple[str, bool]]:
    """The score index (sum, tier counts, histogram) agrees with the scores at the end of `day`."""
    idx = state.index
    n_tiers = len(state.cp.tier_names)
    tiers = np.bincount(state.tier.astype(np.int64), minlength=n_tiers)
    total = float(score.sum())
    scale = max(1.0, float(np.abs(score).max(initial=0.0))) * state.n
    return [
        ("tier counts sum to N", int(idx.tier_counts.sum()) == state.n),
        ("tier counts never negative", bool((idx.tier_counts >= 0).all())),
        ("score index tier counts == tiers of the score array", bool((idx.tier_counts == tiers).all())),
        ("score index histogram == histogram of the score array",
         bool((idx.histogram(day) == np.bincount(idx._bins(score), minlength=idx.n_bins)).all())),
        ("score index total == sum of scores", abs(idx.total - total) <= 1e-9 * scale),
        ("moving scores counted once", int(idx.moving_hist.sum()) == idx.n_moving),
    ]  # fmt: skip


def blacklist_checks(state: State, stock_before: int) -> list[tuple[str, bool]]:
    """The blacklist's list and mask agree; stock == yesterday's + listings_new - exits."""
    bl = state.blacklist
    ids = bl.ids()
    c = state.counters
    listed_cause = state.cause[ids]
    return [
        ("blacklist list and mask hold the same citizens",
         bl.size == int(bl.member.sum()) and bool(bl.member[ids].all()) and np.unique(ids).size == ids.size),
        ("listed citizens have a cause, others none",
         bool((listed_cause >= 0).all()) and int((state.cause >= 0).sum()) == bl.size),
        (f"blacklist stock ({bl.size}) == previous stock ({stock_before}) + listings_new ({c['listings_new']})"
         f" - exits ({c['exits']})", bl.size == stock_before + c["listings_new"] - c["exits"]),
        ("ever_blacklisted covers the blacklisted", bool(state.ever_blacklisted[ids].all())),
    ]  # fmt: skip


def count_checks(state: State, table: MetricTable, day: int) -> list[tuple[str, bool]]:
    """Counts never negative: the day's counters, stocks kept incrementally, and the day's row."""
    c = state.counters
    scalars = c.counts
    metrics = catalogue()
    row_ok = all(table.columns[name][day] >= 0 for name in table.names if metrics[name].scales)
    return [
        ("daily counters never negative",
         all(v >= 0 for v in scalars.values()) and bool((c.events >= 0).all() and (c.detected >= 0).all())),
        ("effects' tallies never negative", all(v >= 0 for v in state.kept.tallies.values())),
        ("household restriction counts never negative", bool((state.kept.arrays["household_restricted"] >= 0).all())),
        ("exposure never negative", bool((state.exposure >= -1e-9).all())),
        ("score histogram never negative",
         bool((state.index.hist >= 0).all()) and bool((state.index.moving_hist >= 0).all())),
        ("effects' id sets: lists and masks agree",
         all(ids.size == int(ids.member.sum()) for ids in state.kept.sets.values())),
        (f"metrics row of day {day} has no negative count", row_ok),
    ]  # fmt: skip
