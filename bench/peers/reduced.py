"""The reduced model that scslab, Mesa and Starsim implement side by side, and what they share.

`reduced_model` reads the scenario's parameters into plain numbers (and refuses a scenario
that uses a mechanism the peers do not implement); `shared_population` builds scslab's
synthetic population for a seed, so that the three run on the same citizens and friends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scslab.engine import streams
from scslab.population import Population, build_population
from scslab.scenario.schema import AGE_BANDS, ScenarioParams

SCENARIO = Path(__file__).with_name("scenario.toml")
CHILD, ADULT, SENIOR = range(3)


@dataclass(frozen=True)
class EventType:
    """One event type of the catalogue, with its source's coverage."""

    name: str
    rate: float  # expected events per eligible person per day
    heterogeneity: float  # h: propensity u ~ Gamma(1/h^2, h^2), or 1 when h = 0
    points: float
    coverage: float  # probability that one event is detected
    age_bands: tuple[int, ...]  # eligible age bands (CHILD, ADULT, SENIOR)
    associated: bool  # a detected event also charges alpha * points to each friend


@dataclass(frozen=True)
class ReducedModel:
    """The parameters of the reduced model (bench/peers/README.md)."""

    days: int
    events: tuple[EventType, ...]
    alpha: float  # friends layer
    score_start: float
    score_min: float
    score_max: float
    clean_days: int
    recovery_per_day: float
    threshold: float
    min_days: int
    travel_rate: tuple[float, ...]  # trips wanted per person per day, income quintiles 1..5


@dataclass(frozen=True)
class SharedPopulation:
    """What the peers need of scslab's population: age bands, income quintiles, friends (CSR)."""

    age_band: np.ndarray  # int8, CHILD / ADULT / SENIOR
    income_q: np.ndarray  # int8, 1..5
    friends_indptr: np.ndarray  # int64, size N + 1
    friends_indices: np.ndarray  # int32, both directions of every tie

    @property
    def size(self) -> int:
        return int(self.age_band.size)

    def friend_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every friendship once, as (p1, p2) with p1 < p2."""
        owner = np.repeat(np.arange(self.size, dtype=np.int64), np.diff(self.friends_indptr))
        other = self.friends_indices.astype(np.int64)
        once = owner < other
        return owner[once], other[once]


def _require(ok: bool, key: str, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{SCENARIO.name}: {key}: the peers do not implement this (allowed: {allowed})")


def reduced_model(p: ScenarioParams) -> ReducedModel:
    """The reduced model's parameters; a scenario that uses anything else is refused."""
    fb = p.feedback
    _require(fb.rho0 == 0 and fb.eta == 0, "feedback.rho0, feedback.eta", "0: no deterrence")
    _require(fb.tie_cut_rate == 0, "feedback.tie_cut_rate", "0")
    _require(p.networks.family.alpha == 0 and p.networks.work.alpha == 0, "networks.family/work.alpha", "0")
    _require(p.firms is None and p.appeal.rate == 0, "firms, appeal.rate", "no firms, no appeals")
    _require([s.effect for s in p.sanctions] == ["travel_ban"], "sanctions", "one travel_ban")
    _require(p.sanctions[0].trigger.strip() == "blacklist", "sanctions[0].trigger", '"blacklist"')
    _require(set(p.sanctions[0].modes) == {"plane", "train"}, "sanctions[0].modes", '["plane", "train"]')
    _require(not p.rewards, "rewards", "none")
    _require(p.blacklist.threshold is not None, "blacklist.threshold", "a number")
    events = []
    for name, e in p.events.items():
        src = p.sources[e.source]
        _require(src.misattribution == 0 and src.share == 1 and src.delay == 0, f"sources.{e.source}", "exact")
        _require(src.coverage_end in (None, src.coverage), f"sources.{e.source}.coverage_end", "no ramp")
        _require(src.civil_servant_multiplier == 1, f"sources.{e.source}.civil_servant_multiplier", "1")
        flags = (e.political, e.financial, e.party_promotion, e.blacklist_on_detection)
        _require(not any(flags), f"events.{name}", "no flags")
        rule = e.eligible
        _require(rule.occupations is None and rule.party_member is None, f"events.{name}.eligible", "age bands")
        bands = tuple(AGE_BANDS.index(b) for b in rule.age_bands) if rule.age_bands else (CHILD, ADULT, SENIOR)
        associated = name in p.association.events
        _require(not associated or e.points < 0, f"events.{name}.points", "negative for an associated event")
        events.append(EventType(name, e.rate, e.heterogeneity, e.points, src.coverage, bands, associated))
    return ReducedModel(
        days=p.days,
        events=tuple(events),
        alpha=p.networks.friends.alpha,
        score_start=p.score.start,
        score_min=p.score.min,
        score_max=p.score.max,
        clean_days=p.recovery.clean_days,
        recovery_per_day=p.recovery.per_day,
        threshold=float(p.blacklist.threshold),
        min_days=p.blacklist.min_days,
        travel_rate=tuple(p.travel.rate),
    )


def shared_population(p: ScenarioParams, seed: int) -> tuple[Population, SharedPopulation]:
    """scslab's population for `seed` (the one `scslab.engine.run` would build) and the peers' view of it."""
    pop = build_population(p.population, p.networks, streams(seed)["population"])
    friends = pop.layers["friends"]
    return pop, SharedPopulation(pop.age_band, pop.income_q, friends.indptr, friends.indices)


@dataclass
class Outcome:
    """What one run (scslab or a peer) leaves for the comparison."""

    score: np.ndarray
    blacklisted: np.ndarray
    blacklisted_daily: np.ndarray
    trips_denied: int
    events: dict[str, int]
    setup_seconds: float
    loop_seconds: float
    days: int
