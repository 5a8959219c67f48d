"""Scenario parameters compiled into arrays the daily phases index directly."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from scslab.scenario.schema import CAUSES, Reward, Sanction, ScenarioParams, Source, parse_trigger

# Width of the score histogram's bins (`ledgers.ScoreIndex`): quantiles are exact on this grid.
SCORE_BIN = 0.1
OWN_CONDUCT, MISATTRIBUTION, ASSOCIATION, LISTED_OFFENCE, JOINT_PUNISHMENT = range(len(CAUSES))


@dataclass(frozen=True)
class Rule:
    """When a sanction or reward applies: on the blacklist, or at a tier at most/at least."""

    kind: str  # "blacklist", "tier_at_most", "tier_at_least", "none"
    tier: int  # tier index (0 = top tier); -1 when the rule names no tier

    def hits(self, ids: np.ndarray, blacklisted: np.ndarray, tier: np.ndarray) -> np.ndarray:
        """Whether the rule applies to each of `ids`."""
        if self.kind == "blacklist":
            return blacklisted[ids]
        if self.kind == "tier_at_most":  # "tier <= C": tier C or a lower one
            return tier[ids] >= self.tier
        if self.kind == "tier_at_least":  # "tier >= A": tier A or a higher one
            return tier[ids] <= self.tier
        return np.zeros(ids.size, dtype=bool)


@dataclass(frozen=True)
class EventTable:
    """The event catalogue as arrays over event types."""

    names: tuple[str, ...]
    rate: np.ndarray
    heterogeneity: np.ndarray
    points: np.ndarray
    source: np.ndarray
    elasticity: np.ndarray
    political: np.ndarray
    financial: np.ndarray
    party_promotion: np.ndarray
    listed: np.ndarray  # blacklist_on_detection
    associated: np.ndarray  # listed in association.events
    key: np.ndarray  # a stable hash of each name, keying common random numbers


def name_key(name: str) -> int:
    """A stable 32-bit key for a name (event types under common random numbers)."""
    return zlib.crc32(name.encode("utf-8"))


@dataclass(frozen=True)
class SourceTable:
    """The data sources as arrays over sources."""

    names: tuple[str, ...]
    specs: tuple[Source, ...]
    civil_servant_multiplier: np.ndarray
    misattribution: np.ndarray
    minority_error_ratio: np.ndarray
    share: np.ndarray
    delay: np.ndarray
    delays: np.ndarray  # the distinct delays, ascending
    coverage: np.ndarray  # (days, sources): `c_s(t)` of every source on every day of the run

    def coverage_on(self, day: int) -> np.ndarray:
        """Coverage `c_s(t)` of every source on `day`."""
        if day < self.coverage.shape[0]:
            return self.coverage[day]
        return np.array([spec.coverage_on(day) for spec in self.specs])


@dataclass(frozen=True)
class Compiled:
    """Everything the phases need from the scenario, in array form."""

    p: ScenarioParams
    events: EventTable
    sources: SourceTable
    tier_names: tuple[str, ...]
    tier_bounds: np.ndarray  # lower bounds, top tier first
    alpha: dict[str, float]
    sanctions: dict[str, tuple[Rule, ...]]  # by effect (`model.effects`), in the scenario's order
    rewards: dict[str, tuple[Rule, ...]]
    sanction_entries: dict[str, tuple[tuple[Rule, Sanction], ...]]  # each rule with its scenario entry
    reward_entries: dict[str, tuple[tuple[Rule, Reward], ...]]
    promotion_min_tier: int  # tier index; promotions need tier index <= this
    threshold: float  # blacklist threshold (-inf when there is none)
    risk_decay: np.ndarray  # (1 - eta) ** age for ages 0..days + 1: how much perceived risk is left
    trip_rates: np.ndarray  # (5, 2): trips wanted a day by plane and by train, per income quintile
    score_bounds: np.ndarray  # (start, min, max, histogram bin width, threshold): what `posting.refresh` reads
    scheduled_recovery: bool = True  # recovery in closed form where exact (state.scheduled_bins_a_day)


def _rule(trigger: str | None, tier_index: dict[str, int]) -> Rule:
    kind, tier = parse_trigger(trigger)
    return Rule(kind, tier_index[tier] if tier is not None else -1)


def compile_params(p: ScenarioParams, scheduled_recovery: bool = True) -> Compiled:
    """Turn validated scenario parameters into the arrays the model uses (`scheduled_recovery`:
    recovery in closed form where exact; off, every recovering citizen is touched daily)."""
    source_names = tuple(p.sources)
    source_index = {name: i for i, name in enumerate(source_names)}
    ev = list(p.events.items())
    associated = set(p.association.events)
    events = EventTable(
        names=tuple(name for name, _ in ev),
        rate=np.array([e.rate for _, e in ev], dtype=float),
        heterogeneity=np.array([e.heterogeneity for _, e in ev], dtype=float),
        points=np.array([e.points for _, e in ev], dtype=float),
        source=np.array([source_index[e.source] for _, e in ev], dtype=np.int64),
        elasticity=np.array([e.elasticity for _, e in ev], dtype=float),
        political=np.array([e.political for _, e in ev], dtype=bool),
        financial=np.array([e.financial for _, e in ev], dtype=bool),
        party_promotion=np.array([e.party_promotion for _, e in ev], dtype=bool),
        listed=np.array([e.blacklist_on_detection for _, e in ev], dtype=bool),
        associated=np.array([name in associated for name, _ in ev], dtype=bool),
        key=np.array([name_key(name) for name, _ in ev], dtype=np.int64),
    )
    specs = tuple(p.sources.values())
    sources = SourceTable(
        names=source_names,
        specs=specs,
        civil_servant_multiplier=np.array([s.civil_servant_multiplier for s in specs], dtype=float),
        misattribution=np.array([s.misattribution for s in specs], dtype=float),
        minority_error_ratio=np.array([s.minority_error_ratio for s in specs], dtype=float),
        share=np.array([s.share for s in specs], dtype=float),
        delay=np.array([s.delay for s in specs], dtype=np.int64),
        delays=np.unique([s.delay for s in specs]).astype(np.int64),
        coverage=np.array([[s.coverage_on(day) for s in specs] for day in range(p.days)], dtype=float).reshape(
            p.days, len(specs)
        ),
    )
    tier_names = tuple(p.score.tier_names())
    tier_index = {name: i for i, name in enumerate(tier_names)}
    sanctions: dict[str, list[tuple[Rule, Sanction]]] = {}
    for s in p.sanctions:
        sanctions.setdefault(s.effect, []).append((_rule(s.trigger, tier_index), s))
    rewards: dict[str, list[tuple[Rule, Reward]]] = {}
    for r in p.rewards:
        rewards.setdefault(r.effect, []).append((_rule(r.trigger, tier_index), r))
    min_tier = p.promotion.min_tier
    threshold = p.blacklist.threshold
    threshold_value = -np.inf if threshold is None else float(threshold)
    return Compiled(
        p=p,
        events=events,
        sources=sources,
        tier_names=tier_names,
        tier_bounds=np.array(p.score.tier_bounds(), dtype=float),
        alpha={
            "family": p.networks.family.alpha,
            "work": p.networks.work.alpha,
            "friends": p.networks.friends.alpha,
        },
        sanctions={k: tuple(rule for rule, _ in v) for k, v in sanctions.items()},
        rewards={k: tuple(rule for rule, _ in v) for k, v in rewards.items()},
        sanction_entries={k: tuple(v) for k, v in sanctions.items()},
        reward_entries={k: tuple(v) for k, v in rewards.items()},
        promotion_min_tier=len(tier_names) - 1 if min_tier is None else tier_index[min_tier],
        threshold=threshold_value,
        risk_decay=(1.0 - p.feedback.eta) ** np.arange(p.days + 2, dtype=float),
        trip_rates=np.asarray(p.travel.rate)[:, None]
        * np.column_stack([p.travel.plane_share, 1.0 - np.asarray(p.travel.plane_share)]),
        score_bounds=np.array([p.score.start, p.score.min, p.score.max, SCORE_BIN, threshold_value], dtype=float),
        scheduled_recovery=scheduled_recovery,
    )


def applies(rules: tuple[Rule, ...], ids: np.ndarray, blacklisted: np.ndarray, tier: np.ndarray) -> np.ndarray:
    """Whether any of `rules` applies to each of `ids`."""
    hit = np.zeros(ids.size, dtype=bool)
    for rule in rules:
        hit |= rule.hits(ids, blacklisted, tier)
    return hit
