"""The social-scoring audit: a scenario's sanctions against EU AI Act Article 5(1)(c).

docs/sources.md summarises the prohibition: an AI system that evaluates or classifies people
over a period of time on their social behaviour, where the score leads to detrimental
treatment (i) in social contexts unrelated to the contexts in which the data was
collected, or (ii) that is unjustified or disproportionate to the behaviour. The audit
reads the scenario's rules, not a run. For each sanction (and for the promotion rule,
which blocks listed officials) it asks:

- (a) **a score over time**: can accumulated points decide it (a tier, a score threshold,
  a firm's score listing its representative), or does each listing follow one recorded
  finding (`blacklist_on_detection`)?
- (i) **context**: the contexts of the data that can trigger it, against the context it
  is applied in. A source's context comes from its name (`SOURCE_CONTEXTS`); an event's
  flags take precedence (political speech, political activity, finance). Data about
  other people (association penalties, a firm's record) is never the sanctioned
  person's context.
- (ii) **proportion**: its severity against each offence's gravity, by `RULE_OF_THUMB`.

A rule meets the prohibited pattern when (a) holds and (i) or (ii) does. Rewards are
listed but not counted: docs/sources.md's summary speaks of detrimental treatment only.
The contexts and severities are data in `scslab.audit.contexts`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from scslab.audit.contexts import (
    event_context,
    related,
    sanction_context,
    severity,
    source_context,
)
from scslab.model.effects import by_key
from scslab.scenario import Scenario
from scslab.scenario.schema import Event, ScenarioParams, parse_trigger

__all__ = ["RULE_OF_THUMB", "AuditReport", "DataUse", "Finding", "audit", "event_context", "source_context"]

ARTICLE = "EU AI Act Article 5(1)(c)"

RULE_OF_THUMB = (
    "Severity against the offence (a rule of thumb): a sanction that restricts a fundamental right "
    "(movement, expression, education, access to public employment) or takes more than 20% of income "
    "is severe; a price or a delayed career step is moderate. An offence is serious when one detected "
    "act reaches the sanction on its own (a listing on detection, or points that cross the trigger "
    "from the starting score) and minor when it takes two or more. A sanction is disproportionate "
    "when it is severe and a minor offence can reach it, when political speech can reach it (the "
    "exercise of a right is never an offence), or when it falls on people who did not commit the "
    "offence (association penalties, a firm's violations charged to its representative, children "
    "losing school places)."
)


@dataclass(frozen=True)
class RuleSpec:
    """A rule to audit: a sanction, or the promotion rule."""

    rule: str  # "sanctions[0]" or "promotion"
    effect: str
    trigger: str
    parts: tuple[tuple[str, str | None], ...]  # (kind, tier) of each trigger, joined by "or"
    size: float


@dataclass(frozen=True)
class DataUse:
    """One kind of record that can trigger a rule, by the path it takes."""

    name: str  # an event, or "firm violations"
    path: str  # "score", "listing", "association" or "firm"
    context: str
    gravity: str  # "serious", "minor", "merit", "political speech", "others' conduct"
    detail: str


@dataclass(frozen=True)
class Finding:
    """The audit of one rule."""

    rule: str  # "sanctions[0]" or "promotion"
    effect: str
    trigger: str
    context: str
    severity: str
    scores_over_time: bool
    scoring: str
    data: tuple[DataUse, ...]
    unrelated: tuple[str, ...]
    disproportionate: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def prohibited(self) -> bool:
        """Whether the rule meets the prohibited pattern: (a) and ((i) or (ii))."""
        return self.scores_over_time and bool(self.unrelated or self.disproportionate)


@dataclass(frozen=True)
class AuditReport:
    """The audit of a scenario, rule by rule."""

    scenario: str
    origin: str
    findings: tuple[Finding, ...]
    not_audited: tuple[str, ...] = ()
    rule_of_thumb: str = RULE_OF_THUMB
    article: str = ARTICLE
    contexts: dict[str, str] = field(default_factory=dict)

    @property
    def prohibited(self) -> tuple[str, ...]:
        """The rules that meet the prohibited pattern."""
        return tuple(f.rule for f in self.findings if f.prohibited)

    @property
    def passes(self) -> bool:
        return not self.prohibited

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for finding, row in zip(self.findings, out["findings"], strict=True):
            row["prohibited"] = finding.prohibited
        out["prohibited"] = list(self.prohibited)
        out["passes"] = self.passes
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def trigger_level(p: ScenarioParams, kind: str, tier: str | None) -> float | None:
    """The score below which a trigger applies; None for a blacklist without a threshold."""
    if kind == "blacklist":
        return p.blacklist.threshold
    names, bounds = p.score.tier_names(), p.score.tier_bounds()
    i = names.index(tier or "")
    if kind == "tier_at_most":  # tier X or a lower one: below the bound of the tier above X
        return math.inf if i == 0 else bounds[i - 1]
    return bounds[i]  # "tier >= X" applies at or above it; "tier_below" (promotions blocked) below it


def gravity(event: Event, distance: float, upward: bool = False) -> tuple[str, str]:
    """An event's gravity against a trigger `distance` points below the starting score (above it if `upward`)."""
    if event.points > 0:
        return "merit", f"+{event.points:g} points"
    if upward:  # "tier >= X": offences move the score away from the trigger
        if distance >= 0:
            return "no offence needed", "the starting score already meets the trigger"
        return "away", "it lowers the score, away from the trigger"
    if event.political:
        return "political speech", f"{event.points:g} points for speech against the authorities"
    if event.blacklist_on_detection:
        return "serious", "one detected act lists the person"
    if distance <= 0:
        return "no offence needed", "the starting score already meets the trigger"
    acts = math.ceil(distance / abs(event.points))
    return ("serious" if acts <= 1 else "minor"), f"{event.points:g} points: {acts} detected act(s) reach the trigger"


def score_inputs(p: ScenarioParams, level: float, upward: bool = False) -> list[DataUse]:
    """Records that move the score against a trigger at `level`: own events and contacts' events."""
    distance = p.score.start - level
    uses = []
    for name, event in p.events.items():
        if event.points != 0:
            grade, detail = gravity(event, distance, upward)
            uses.append(DataUse(name, "score", event_context(event), grade, detail))
    net = p.networks
    alphas = (("family", net.family.alpha), ("work", net.work.alpha), ("friends", net.friends.alpha))
    layers = ", ".join(name for name, alpha in alphas if alpha > 0)
    for name in p.association.events:
        event = p.events[name]
        if layers and event.points < 0 and not upward:  # contacts' charges only lower the score
            detail = f"{event.points:g} points of a contact's {name}, shared through {layers} ties"
            uses.append(DataUse(name, "association", "data about other people", "others' conduct", detail))
    return uses


def listing_inputs(p: ScenarioParams) -> tuple[list[DataUse], list[str]]:
    """Records that list a person whatever the score, and which of them are scores over time."""
    uses = [
        DataUse(name, "listing", event_context(e), "serious", "one detected act lists the person")
        for name, e in p.events.items()
        if e.blacklist_on_detection
    ]
    scoring = []
    f = p.firms
    if f is not None and f.firm_to_person and f.violation_rate > 0 and f.violation_points < 0:
        acts = max(1, math.ceil((f.start - f.blacklist_threshold) / abs(f.violation_points)))
        detail = f"a firm listed after {acts} detected violation(s) lists its representative"
        uses.append(DataUse("firm violations", "firm", "data about a firm", "others' conduct", detail))
        if acts > 1:
            scoring.append(f"a firm's score, {acts} violations deep, lists its representative")
    return uses, scoring


def inputs(p: ScenarioParams, kind: str, tier: str | None) -> tuple[list[DataUse], list[str]]:
    """The records that can trigger a rule, and what makes it a score over time (empty if nothing)."""
    uses: list[DataUse] = []
    scoring: list[str] = []
    if kind == "blacklist":
        uses, scoring = listing_inputs(p)
    level = trigger_level(p, kind, tier)
    if level is not None:
        score = score_inputs(p, level, upward=kind == "tier_at_least")
        uses += score
        if score:
            why = f"a score below {level:g} lists a person" if kind == "blacklist" else f"the score sets tier {tier}"
            scoring.insert(0, why)
    return uses, scoring


def unique(uses: list[DataUse]) -> tuple[DataUse, ...]:
    """One use per record, context and gravity, its paths joined ("listing, score")."""
    seen: dict[tuple[str, str, str], DataUse] = {}
    for use in uses:
        key = (use.name, use.context, use.gravity)
        if key not in seen:
            seen[key] = use
        elif use.path not in seen[key].path.split(", "):
            seen[key] = replace(seen[key], path=f"{seen[key].path}, {use.path}")
    return tuple(seen.values())


def assess(p: ScenarioParams, spec: RuleSpec) -> Finding:
    """The audit of one rule."""
    uses: list[DataUse] = []
    scoring: list[str] = []
    for kind, tier in spec.parts:
        found, why = inputs(p, kind, tier)
        uses += found
        scoring += why
    data = unique(uses)
    effect = spec.effect
    context = sanction_context(effect)
    grade, why_grade = severity(effect, spec.size)
    unrelated = tuple(
        f"{u.name} ({u.path}): {u.context if u.context.startswith('data') else u.context + ' data'}, "
        f"applied in {context}"
        for u in data
        if u.path in ("association", "firm") or not related(u.context, context)
    )
    unfair = [reason for u in data if (reason := disproportion(u, grade, why_grade))]
    declared = by_key().get(effect)
    if declared is not None and declared.audit_note:
        unfair.append(declared.audit_note)
    if scoring:
        scored = "yes: " + "; ".join(dict.fromkeys(scoring))
    elif data:
        scored = "no: each listing follows one recorded finding, not a score"
    else:
        scored = "no: no record can trigger it"
    return Finding(
        spec.rule,
        effect,
        spec.trigger,
        context,
        f"{grade} ({why_grade})",
        bool(scoring),
        scored,
        data,
        unrelated,
        tuple(unfair),
        misattribution_notes(p, data),
    )


def disproportion(use: DataUse, grade: str, why_grade: str) -> str:
    """Why one record makes a sanction disproportionate, or "" if it does not."""
    if use.gravity == "political speech":
        return f"{use.name}: political speech can reach it ({use.detail})"
    if use.gravity == "others' conduct":
        return f"{use.name}: it falls on someone who did not commit the act ({use.detail})"
    if use.gravity == "no offence needed":
        return f"{use.name}: it applies to people with no offence ({use.detail})"
    if use.gravity == "minor" and grade == "severe":
        return f"{use.name}: a minor offence ({use.detail}) reaches a severe sanction ({why_grade})"
    return ""


def misattribution_notes(p: ScenarioParams, data: tuple[DataUse, ...]) -> tuple[str, ...]:
    """Sources feeding a rule that charge records to the wrong person (accuracy, not counted)."""
    notes = []
    sources = {p.events[u.name].source for u in data if u.name in p.events and u.path != "association"}
    for name in sorted(sources):
        s = p.sources[name]
        if s.misattribution > 0:
            notes.append(
                f"{name} charges {s.misattribution:.1%} of its records to the wrong person "
                f"({s.minority_error_ratio:g}x for the minority): an accuracy problem, not counted here"
            )
    return tuple(notes)


def rules(p: ScenarioParams) -> list[RuleSpec]:
    """Every sanction, and the promotion rule (docs/model.md section 6) if officials are promoted."""
    out = [
        RuleSpec(f"sanctions[{i}]", s.effect, s.trigger.strip(), (parse_trigger(s.trigger),), s.size)
        for i, s in enumerate(p.sanctions)
    ]
    pop = p.population
    if p.promotion.rate_per_year > 0 and pop.occupation_shares.civil_servant > 0 and pop.age_shares.adult > 0:
        parts: list[tuple[str, str | None]] = [("blacklist", None)]  # a listed official is never promoted
        trigger = "blacklist"
        tier = p.promotion.min_tier
        if tier is not None and tier != p.score.tier_names()[-1]:
            parts.append(("tier_below", tier))  # nor one below min_tier
            trigger += f" or a tier below {tier}"
        out.append(RuleSpec("promotion", "promotion", trigger, tuple(parts), 0.0))
    return out


def reward_notes(p: ScenarioParams) -> tuple[str, ...]:
    """Rewards, listed but not counted: docs/sources.md's summary speaks of detrimental treatment."""
    notes = []
    for i, r in enumerate(p.rewards):
        why = "a party-promotion record in the last window" if r.effect == "red_loan" else (r.trigger or "")
        notes.append(
            f"rewards[{i}] {r.effect} ({why}): a reward is not detrimental treatment in docs/sources.md's summary; "
            "withholding it from the others may still be unfavourable treatment under the Act (docs/audit.md)"
        )
    return tuple(notes)


def audit(scenario: Scenario) -> AuditReport:
    """Audit every sanction of `scenario` against Article 5(1)(c), as docs/sources.md summarises it."""
    p = scenario.params
    findings = tuple(assess(p, spec) for spec in rules(p))
    # the promotion rule is built in: show it only where some record can block a promotion
    findings = tuple(f for f in findings if f.rule != "promotion" or f.data)
    contexts = {f"sources.{name}": source_context(name) for name in p.sources}
    contexts |= {f"events.{name}": event_context(e) for name, e in p.events.items()}
    return AuditReport(p.name, scenario.origin, findings, reward_notes(p), contexts=contexts)
