"""The v1 scenario schema: TOML tables turned into frozen, typed, validated parameters.

Every field here is a key of the commented example, `example.toml` beside this module
(`scslab scenarios --example` prints it). Unknown keys are errors (`extra="forbid"`); ranges
are declared on the fields so that the error names the allowed range. Cross-field rules (an
event's source must exist, a trigger must name a tier) are model validators on
`ScenarioParams`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$", max_length=64)]
# Upper bounds the engine can honour (docs/reliability.md, "Bounds"). Scores, points and thresholds
# stay within +-POINTS_LIMIT, so that a score range is at most 2 million histogram bins (16 MB) and
# ledgers summed over a century of charges stay exact in float64; multipliers of points or of
# rates stay below MULTIPLIER_LIMIT, so that exp() and products stay finite. What a value makes the
# run allocate beyond these (a day's events, the charges in flight, the moving histogram) is
# counted by the memory estimate (`scslab.memory`), which refuses runs that would not fit.
POINTS_LIMIT = 100_000.0
MULTIPLIER_LIMIT = 1000.0
RATE_LIMIT = 100.0  # events a person (or a firm) a day
MAX_TIERS = 100  # tiers are an int8 index
Points = Annotated[float, Field(ge=-POINTS_LIMIT, le=POINTS_LIMIT, allow_inf_nan=False)]
Multiplier = Annotated[float, Field(ge=0.0, le=MULTIPLIER_LIMIT, allow_inf_nan=False)]

AGE_BANDS = ("child", "adult", "senior")
OCCUPATIONS = ("civil_servant", "employee", "business_owner", "student", "retired", "unemployed")
ADULT_OCCUPATIONS = ("civil_servant", "employee", "business_owner", "unemployed")
CAUSES = ("own_conduct", "misattribution", "association", "listed_offence", "joint_punishment")
# The effects a rule may name: each is implemented by one file of `model.effects` (whose
# registry the tests hold to these names; the scenario layer cannot import the model).
SanctionEffect = Literal["travel_ban", "speech_block", "public_job_exclusion", "education_restriction", "loan_penalty"]
RewardEffect = Literal["green_channel", "discount_loan", "red_loan"]
SANCTION_EFFECTS: tuple[str, ...] = get_args(SanctionEffect)
REWARD_EFFECTS: tuple[str, ...] = get_args(RewardEffect)
TravelMode = Literal["plane", "train"]
TRAVEL_MODES: tuple[TravelMode, ...] = ("plane", "train")
TRIGGER_PATTERN = re.compile(r"^\s*(blacklist|tier\s*(<=|>=)\s*([A-Za-z_][A-Za-z0-9_\-]*))\s*$")


def _iso_date(value: Any) -> Any:
    """Accept "2020-01-01" as a date, so that files validated in strict mode may quote their dates."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return value  # left for the date validator to reject with its own message
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class Strict(BaseModel):
    """Base for every table: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class AgeShares(Strict):
    child: Probability = 0.15
    adult: Probability = 0.70
    senior: Probability = 0.15

    @model_validator(mode="after")
    def _sum_to_one(self) -> AgeShares:
        total = self.child + self.adult + self.senior
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the shares sum to {total:g} (allowed: shares that sum to 1)")
        return self


class OccupationShares(Strict):
    """Adults' occupations; seniors are retired and children are students."""

    civil_servant: Probability = 0.03
    employee: Probability = 0.60
    business_owner: Probability = 0.07
    unemployed: Probability = 0.30

    @model_validator(mode="after")
    def _sum_to_one(self) -> OccupationShares:
        total = self.civil_servant + self.employee + self.business_owner + self.unemployed
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the shares sum to {total:g} (allowed: shares that sum to 1)")
        return self


class Population(Strict):
    size: int = Field(100_000, ge=10, le=2_000_000_000)
    real_size: int | None = Field(None, ge=1, le=100_000_000_000)
    districts: int = Field(16, ge=1, le=100_000)
    minority_share: Probability = 0.05
    age_shares: AgeShares = AgeShares()
    occupation_shares: OccupationShares = OccupationShares()
    party_member_share: Probability = 0.07
    party_member_share_civil_servants: Probability = 0.60
    household_size_mean: float = Field(2.62, ge=1.0, le=6.0, allow_inf_nan=False)
    income_quintile_by_occupation: bool = True

    @property
    def scale(self) -> float:
        """Real people represented by one simulated citizen."""
        return (self.real_size or self.size) / self.size


class FamilyLayer(Strict):
    alpha: Multiplier = 0.0


class WorkLayer(Strict):
    mean_degree: float = Field(8.0, ge=0.0, le=1000.0, allow_inf_nan=False)
    firm_size_mean: float = Field(17.6, ge=1.0, le=1_000_000.0, allow_inf_nan=False)
    alpha: Multiplier = 0.0


class FriendsLayer(Strict):
    mean_degree: float = Field(12.0, ge=0.0, le=1000.0, allow_inf_nan=False)
    same_district: Probability = 0.8
    alpha: Multiplier = 0.0


class Networks(Strict):
    family: FamilyLayer = FamilyLayer()
    work: WorkLayer = WorkLayer()
    friends: FriendsLayer = FriendsLayer()


class Score(Strict):
    start: Points = 800.0
    min: Points = 350.0
    max: Points = 950.0
    tiers: dict[Name, Points] = Field(
        default_factory=lambda: {"A": 900.0, "B": 800.0, "C": 650.0, "D": 350.0}, max_length=MAX_TIERS
    )

    @model_validator(mode="after")
    def _bounds(self) -> Score:
        # Messages start with the key inside this table; the loader puts "score." before it.
        if not self.min < self.max:
            raise ValueError(f"min: {self.min:g} is not below max {self.max:g} (allowed: min < max)")
        if not self.min <= self.start <= self.max:
            raise ValueError(
                f"start: {self.start:g} is out of range "
                f"(allowed: a number in [min, max] = [{self.min:g}, {self.max:g}])"
            )
        if not self.tiers:
            raise ValueError("tiers: no tier (allowed: at least one tier, such as { A = 900, B = 800 })")
        if len(set(self.tiers.values())) != len(self.tiers):
            raise ValueError("tiers: two tiers share a lower bound (allowed: distinct lower bounds)")
        return self

    def tier_names(self) -> list[str]:
        """Tier names from the top tier down."""
        return [name for name, _ in sorted(self.tiers.items(), key=lambda kv: -kv[1])]

    def tier_bounds(self) -> list[float]:
        """Lower bounds of the tiers, from the top tier down."""
        return sorted(self.tiers.values(), reverse=True)


class Source(Strict):
    coverage: Probability
    coverage_end: Probability | None = None
    ramp_days: int = Field(0, ge=0, le=1_000_000)
    civil_servant_multiplier: float = Field(1.0, ge=0.0, le=1000.0, allow_inf_nan=False)
    misattribution: Probability = 0.0
    minority_error_ratio: float = Field(1.0, ge=0.0, le=1000.0, allow_inf_nan=False)
    share: Probability = 1.0
    delay: int = Field(0, ge=0, le=3650)

    def coverage_on(self, day: int) -> float:
        """Coverage `c_s(t)`: linear from `coverage` to `coverage_end` over `ramp_days`."""
        end = self.coverage if self.coverage_end is None else self.coverage_end
        if self.ramp_days <= 0:
            return end if day > 0 else self.coverage
        return self.coverage + (end - self.coverage) * min(1.0, day / self.ramp_days)


class Eligible(Strict):
    age_bands: list[Literal["child", "adult", "senior"]] | None = None
    occupations: (
        list[Literal["civil_servant", "employee", "business_owner", "student", "retired", "unemployed"]] | None
    ) = None
    party_member: bool | None = None

    def key(self) -> tuple[object, ...]:
        """The rule as a hashable value: two rules with the same key admit the same citizens."""
        return (
            None if self.age_bands is None else tuple(sorted(self.age_bands)),
            None if self.occupations is None else tuple(sorted(self.occupations)),
            self.party_member,
        )


class Event(Strict):
    rate: float = Field(ge=0.0, le=RATE_LIMIT, allow_inf_nan=False)  # a person a day
    heterogeneity: float = Field(0.0, ge=0.0, le=20.0, allow_inf_nan=False)
    points: Points
    source: Name
    elasticity: Multiplier = 0.0
    eligible: Eligible = Eligible()
    political: bool = False
    financial: bool = False
    party_promotion: bool = False
    blacklist_on_detection: bool = False


class Association(Strict):
    events: list[Name] = Field(default_factory=list)


class Recovery(Strict):
    clean_days: int = Field(180, ge=0, le=100_000)
    per_day: float = Field(0.0, ge=0.0, le=2 * POINTS_LIMIT, allow_inf_nan=False)  # the widest score range


class Blacklist(Strict):
    threshold: Points | None = None
    min_days: int = Field(365, ge=0, le=100_000)
    term_days: int = Field(730, ge=0, le=100_000)


class Appeal(Strict):
    rate: Probability = 0.0
    success_wrongful: Probability = 0.0
    success_rightful: Probability = 0.0


def _check_trigger(value: str) -> str:
    if not TRIGGER_PATTERN.match(value):
        raise ValueError(f'{value!r} is not a trigger (allowed: "blacklist", "tier <= NAME" or "tier >= NAME")')
    return value


class Sanction(Strict):
    effect: SanctionEffect
    trigger: str
    modes: list[TravelMode] = Field(default_factory=lambda: list(TRAVEL_MODES))
    size: Probability = 0.0

    @field_validator("trigger")
    @classmethod
    def _trigger_ok(cls, v: str) -> str:
        return _check_trigger(v)


class Reward(Strict):
    effect: RewardEffect
    trigger: str | None = None
    size: Multiplier = 0.0
    window_days: int = Field(365, ge=1, le=100_000)

    @field_validator("trigger")
    @classmethod
    def _trigger_ok(cls, v: str | None) -> str | None:
        return None if v is None else _check_trigger(v)

    @model_validator(mode="after")
    def _needs_trigger(self) -> Reward:
        if self.effect != "red_loan" and self.trigger is None:
            raise ValueError(
                f'trigger: missing for {self.effect} (allowed: "blacklist", "tier <= NAME" or "tier >= NAME")'
            )
        return self


class Travel(Strict):
    rate: list[Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)]] = Field(
        default_factory=lambda: [0.002, 0.004, 0.006, 0.010, 0.020], min_length=5, max_length=5
    )
    plane_share: list[Probability] = Field(
        default_factory=lambda: [0.05, 0.10, 0.20, 0.35, 0.60], min_length=5, max_length=5
    )


class Promotion(Strict):
    rate_per_year: Probability = 0.10
    min_tier: Name | None = None


class Firms(Strict):
    start: Points = 800.0
    blacklist_threshold: Points = 600.0
    violation_rate: float = Field(0.0, ge=0.0, le=RATE_LIMIT, allow_inf_nan=False)  # a firm a day
    violation_points: Points = -50.0
    source: Name
    firm_to_person: bool = True
    person_to_firm: bool = False


class Feedback(Strict):
    rho0: Probability = 0.1
    eta: Probability = 0.05
    gamma: Multiplier = 0.2
    psi: Multiplier = 1.0
    tie_cut_rate: Probability = 0.0


class Stress(Strict):
    sigma: Multiplier = 0.0


class ScenarioParams(Strict):
    """A whole scenario, validated; `extends` is resolved before this model is built."""

    name: Name = "scenario"
    description: str = Field("", max_length=10_000)
    start_date: IsoDate = dt.date(2018, 1, 1)
    days: int = Field(365, ge=1, le=36_500)
    crn: bool = False
    population: Population = Population()
    networks: Networks = Networks()
    score: Score = Score()
    sources: dict[Name, Source] = Field(default_factory=dict)
    events: dict[Name, Event] = Field(default_factory=dict)
    association: Association = Association()
    recovery: Recovery = Recovery()
    blacklist: Blacklist = Blacklist()
    appeal: Appeal = Appeal()
    sanctions: list[Sanction] = Field(default_factory=list)
    rewards: list[Reward] = Field(default_factory=list)
    travel: Travel = Travel()
    promotion: Promotion = Promotion()
    firms: Firms | None = None
    feedback: Feedback = Feedback()
    stress: Stress = Stress()

    @model_validator(mode="after")
    def _cross_references(self) -> ScenarioParams:
        for name, event in self.events.items():
            if event.source not in self.sources:
                raise ValueError(
                    f"events.{name}.source: no source named {event.source!r} "
                    f"(sources are: {', '.join(sorted(self.sources)) or 'none'})"
                )
        for name in self.association.events:
            if name not in self.events:
                raise ValueError(
                    f"association.events: no event named {name!r} "
                    f"(events are: {', '.join(sorted(self.events)) or 'none'})"
                )
        tiers = set(self.score.tiers)
        triggers: list[tuple[str, str | None]] = [(f"sanctions[{i}]", r.trigger) for i, r in enumerate(self.sanctions)]
        triggers += [(f"rewards[{i}]", rule.trigger) for i, rule in enumerate(self.rewards)]
        for where, trigger in triggers:
            tier = trigger_tier(trigger)
            if tier is not None and tier not in tiers:
                raise ValueError(
                    f"{where}.trigger: no tier named {tier!r} (tiers are: {', '.join(self.score.tier_names())})"
                )
        if self.promotion.min_tier is not None and self.promotion.min_tier not in tiers:
            raise ValueError(
                f"promotion.min_tier: no tier named {self.promotion.min_tier!r} "
                f"(tiers are: {', '.join(self.score.tier_names())})"
            )
        if self.firms is not None and self.firms.source not in self.sources:
            raise ValueError(
                f"firms.source: no source named {self.firms.source!r} "
                f"(sources are: {', '.join(sorted(self.sources)) or 'none'})"
            )
        return self


def trigger_tier(trigger: str | None) -> str | None:
    """The tier a trigger names, or None for "blacklist" and no trigger."""
    if trigger is None:
        return None
    match = TRIGGER_PATTERN.match(trigger)
    return match.group(3) if match else None


def parse_trigger(trigger: str | None) -> tuple[str, str | None]:
    """Split a trigger into its kind ("blacklist", "tier_at_most", "tier_at_least", "none") and tier."""
    if trigger is None:
        return "none", None
    match = TRIGGER_PATTERN.match(trigger)
    if match is None:
        raise ValueError(f"bad trigger {trigger!r}")
    if match.group(1) == "blacklist":
        return "blacklist", None
    return ("tier_at_most" if match.group(2) == "<=" else "tier_at_least"), match.group(3)
