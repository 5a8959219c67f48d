"""A design in the lab: a base scenario (preset or uploaded file) and the values the person changed.

Every value goes through the scenario loader (`Scenario.with_overrides`, as `--set` does), so a
value the schema refuses gets the schema's one-line message, shown beside its control. The
controls are grouped as docs/model.md groups the mechanisms, and every key a scenario file can
set is one of them or is in `NOT_CONTROLS`, with the reason; their descriptions are the comments
of the scenario format (src/scslab/scenario/example.toml) in plain words.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from scslab.errors import ScenarioError, ScslabError
from scslab.scenario import Scenario, load_scenario, parse_set_option
from scslab.scenario.keys import format_key, parse_key
from scslab.scenario.loader import MAX_FILE_BYTES

RULE_KINDS = ("sanctions", "rewards")
RULES_GROUP = "Sanctions and rewards"


@dataclass(frozen=True)
class Control:
    """One value a person can change: its scenario key, label and plain-language description."""

    key: str
    label: str
    help: str


@dataclass(frozen=True)
class Group:
    """Controls that belong to one mechanism of docs/model.md (`rules`: the group also holds the rules' on/off
    boxes and triggers, `Design.rules`)."""

    title: str
    about: str
    controls: tuple[Control, ...]
    rules: bool = False


# Keys of the scenario format that are not controls of the Design page ("[]": any entry of the array).
NOT_CONTROLS: tuple[tuple[str, str], ...] = (
    ("name", "the scenario's name, not a mechanism: it names the run's folder, kept from the preset or file"),
    ("description", "free text about the scenario, shown above the controls"),
    ("population.size", "on the Run page, with days and the seed"),
    ("days", "on the Run page, with the size and the seed"),
    ("sanctions[].effect", "what the rule is: the rule's on/off box (Sanctions and rewards) names it"),
    ("rewards[].effect", "what the rule is: the rule's on/off box (Sanctions and rewards) names it"),
    ("sanctions[].trigger", "the rule's own trigger field beside its on/off box (Design.rules)"),
    ("rewards[].trigger", "the rule's own trigger field beside its on/off box (Design.rules)"),
    ("sanctions[].modes", "read by travel_ban only: a control on each travel_ban rule, none on the others"),
    ("sanctions[].size", "read by loan_penalty only: a control on each loan_penalty rule, none on the others"),
    ("rewards[].size", "read by discount_loan only: a control on each discount_loan rule, none on the others"),
    ("rewards[].window_days", "read by red_loan only: a control on each red_loan rule, none on the others"),
)
# Controls that take names separated by commas; those under `eligible` left empty mean everyone.
NAME_LISTS = re.compile(r"^association\.events$|^sanctions\[\d+\]\.modes$|\.eligible\.(age_bands|occupations)$")
EVERYONE = re.compile(r"\.eligible\.")

POPULATION = (
    ("real_size", "real population", "Counts are also reported scaled to this population (empty: the simulated "
     "size)."),
    ("districts", "districts", "Spatial units: friends mostly, and misattributions always, within one."),
    ("minority_share", "minority share", "Share of citizens in group 1, the group face recognition serves worse "
     "(the sources' minority error ratio)."),
    ("age_shares.child", "children", "Share of citizens under 18. The three age shares sum to 1: change two."),
    ("age_shares.adult", "adults", "Share of citizens from 18 to 64. The three age shares sum to 1."),
    ("age_shares.senior", "seniors", "Share of citizens 65 and over. The three age shares sum to 1."),
    ("occupation_shares.civil_servant", "civil servants", "Share of adults in the civil service (seniors are "
     "retired, children students). The four occupation shares sum to 1: change two."),
    ("occupation_shares.employee", "employees", "Share of adults employed by a firm. The four shares sum to 1."),
    ("occupation_shares.business_owner", "business owners", "Share of adults who own a firm (its legal "
     "representative). The four shares sum to 1."),
    ("occupation_shares.unemployed", "unemployed", "Share of adults without work. The four shares sum to 1."),
    ("party_member_share", "party members", "Share of all citizens in the party (children never are)."),
    ("party_member_share_civil_servants", "party members among civil servants", "The share among civil servants."),
    ("household_size_mean", "household size", "Mean members a household (1 to 6)."),
    ("income_quintile_by_occupation", "income by occupation", "true: civil servants and owners skew to higher "
     "income quintiles; false: income does not depend on occupation."),
)  # fmt: skip
NETWORKS = (
    ("work.mean_degree", "colleagues", "Mean ties a worker has to colleagues of the same firm."),
    ("work.firm_size_mean", "firm size", "Mean members a firm or public unit."),
    ("friends.mean_degree", "friends", "Mean friends a citizen has."),
    ("friends.same_district", "friends in the district", "Share of friendships inside one's own district."),
)
SOURCE_KEYS = (
    ("coverage", "coverage", "Share of the offences of this kind that the source sees at the start."),
    ("coverage_end", "coverage at the end of the ramp", "Coverage reached after the ramp (empty: no ramp)."),
    ("ramp_days", "ramp (days)", "Days over which coverage moves from its start to its end value."),
    ("misattribution", "misattribution", "Share of detections charged to the wrong person (a look-alike)."),
    ("minority_error_ratio", "minority error ratio", "How many times more often a minority citizen is the "
     "wrong person charged (face recognition errs more on minorities)."),
    ("share", "share with the scorer", "Share of this source's detections passed on to the credit system."),
    ("delay", "delay (days)", "Days between a detection and its charge on the score."),
    ("civil_servant_multiplier", "civil-servant multiplier", "Civil servants are watched this many times more "
     "(monitored outside work hours)."),
)  # fmt: skip
EVENT_KEYS = (
    ("rate", "rate", "How often an eligible person does this, a day (before deterrence)."),
    ("heterogeneity", "heterogeneity", "How much people differ in how often they do it (the coefficient of "
     "variation of the personal propensity; 0: everyone alike)."),
    ("points", "points", "Points added to the score when charged (negative: a penalty)."),
    ("source", "seen by", "The one data source that can see it (a source's name)."),
    ("elasticity", "elasticity", "How strongly the perceived risk of detection deters it (0: not at all)."),
    ("eligible.age_bands", "who: age bands", "Who can do it, by age: child, adult, senior, separated by commas "
     "(empty: every age)."),
    ("eligible.occupations", "who: occupations", "Who can do it, by occupation: civil_servant, employee, "
     "business_owner, student, retired, unemployed, separated by commas (empty: every occupation)."),
    ("eligible.party_member", "who: party members", "true: party members only; false: non-members only; empty: "
     "both."),
    ("political", "political", "true: speech against the authorities (its drop is the chilling effect)."),
    ("financial", "financial", "true: payments, taxes, debts (financial stress raises it)."),
    ("party_promotion", "party promotion", "true: promoting the party (counted for red loans)."),
    ("blacklist_on_detection", "lists at once", "true: a detection puts the person on the blacklist at once, for "
     "the blacklist's term."),
)  # fmt: skip
LAYER_HELP = {
    "family": "households and parent-child links",
    "work": "colleagues at the same firm",
    "friends": "friends, mostly in the same district",
}
RULE_KEYS = {  # the keys of a rule that its effect reads (NOT_CONTROLS: the others)
    "travel_ban": (("modes", "modes", "Ways of travel the ban denies: plane, train, separated by commas."),),
    "loan_penalty": (("size", "size", "Cut of the income multiplier (0.1: income times 0.9), which raises "
                      "financial stress."),),
    "discount_loan": (("size", "size", "Rise of the income multiplier (0.05: income times 1.05)."),),
    "red_loan": (("window_days", "window (days)", "Days a red loan follows a detected party-promotion event."),),
}  # fmt: skip
FIRMS = (
    ("source", "seen by", "The source that sees firms' violations (a source's name); set it first to turn corporate "
     "credit on where the scenario has none, empty it to turn it off."),
    ("start", "score at the start", "Every private firm's score at the start."),
    ("blacklist_threshold", "blacklist threshold", "A firm's score below this puts the firm on its blacklist."),
    ("violation_rate", "violation rate", "How often a firm violates a rule, a day."),
    ("violation_points", "violation points", "Points a detected violation adds to the firm's score (negative: a "
     "penalty)."),
    ("firm_to_person", "firm to person", "true: joint punishment, a blacklisted firm lists its legal "
     "representative."),
    ("person_to_firm", "person to firm", "true: a blacklisted legal representative lists the firm."),
)  # fmt: skip
FIXED_GROUPS = (
    Group("Recovery", "Points come back after a clean spell.", (
        Control("recovery.clean_days", "clean days", "Days without a negative charge before points come back."),
        Control("recovery.per_day", "points a day", "Points a day that come back after the clean days (0: no "
                "recovery)."),
    )),
    Group("Blacklist", "Who is listed, for how long.", (
        Control("blacklist.threshold", "threshold", "A score below this puts a citizen on the blacklist (empty: no "
                "listing by score)."),
        Control("blacklist.min_days", "minimum days", "Days a listed citizen stays on the list at least."),
        Control("blacklist.term_days", "term (days)", "Length of a listing made by an offence that lists at once "
                "(e.g. a court default)."),
    )),
    Group("Appeals", "Listed citizens may appeal; a wrongful listing is more likely to be lifted.", (
        Control("appeal.rate", "appeal rate", "Chance a day that a listed citizen appeals."),
        Control("appeal.success_wrongful", "success if wrongful", "Chance that an appeal against a wrongful "
                "listing succeeds."),
        Control("appeal.success_rightful", "success if rightful", "Chance that an appeal against a rightful "
                "listing succeeds."),
    )),
)  # fmt: skip
LATE_GROUPS = (
    Group("Promotions", "Civil servants' promotions, which a low tier or a public-job exclusion blocks.", (
        Control("promotion.rate_per_year", "chances a year", "Chance a year that a civil servant is up for "
                "promotion."),
        Control("promotion.min_tier", "lowest tier", "Lowest tier at which a promotion is granted (empty: any "
                "tier); blocked promotions are counted."),
    )),
    Group("Feedback", "How people react to what happens around them.", (
        Control("feedback.rho0", "perceived risk at the start", "Perceived chance of being caught, at the start."),
        Control("feedback.eta", "learning rate", "How fast the perceived risk follows what people see."),
        Control("feedback.gamma", "weight of a penalised contact", "How much each penalised contact raises the "
                "perceived risk."),
        Control("feedback.psi", "self-censorship", "Weight of contacts' exposure in self-censorship."),
        Control("feedback.tie_cut_rate", "tie cutting", "Chance a day of cutting a tie to a blacklisted person, "
                "in layers whose association weight is above 0."),
    )),
    Group("Stress", "Financial stress: income lost to sanctions makes financial offences more likely.", (
        Control("stress.sigma", "financial stress", "Financial events rise by this times the share of income "
                "lost (0: no stress)."),
    )),
    Group("Reproducibility", "The calendar and the random draws.", (
        Control("start_date", "start date", "The date of day 0 (YYYY-MM-DD): the outputs' dates count from it."),
        Control("crn", "common random numbers", "true: designs that leave a person's rates alike give them the "
                "same draws (compare turns this on)."),
    )),
)  # fmt: skip


def controls(prefix: str, rows: tuple[tuple[str, str, str], ...], name: str = "") -> tuple[Control, ...]:
    """Controls for the keys `prefix.KEY` of `rows` (key, label, help), labelled `name: label` when named."""
    return tuple(Control(f"{prefix}.{key}", f"{name}: {label}" if name else label, text) for key, label, text in rows)


def groups(sc: Scenario) -> list[Group]:
    """The controls of a scenario, grouped as in docs/model.md: the population and its networks (section 1), events
    (3), sources (4), scoring, association and recovery (5), blacklist, appeals, rules, travel, promotions and firms
    (6), feedback and stress (7, 3) and reproducibility (9)."""
    p = sc.params
    layers = tuple(
        Control(f"networks.{layer}.alpha", f"{layer}", f"Share of a charge that also falls on each contact in this "
                f"layer ({about}); 0: no guilt by association.")
        for layer, about in LAYER_HELP.items()
    )  # fmt: skip
    listed = Control("association.events", "events passed on", "Events whose charges also fall on contacts, "
                     "separated by commas (empty: none).")  # fmt: skip
    tiers = tuple(Control(f"score.tiers.{name}", f"tier {name}", f"The lowest score of tier {name} (a score below "
                          f"every tier's is in the lowest tier).") for name in p.score.tier_names())  # fmt: skip
    rules = tuple(
        Control(f"{kind}[{i}].{key}", f"{rule.effect.replace('_', ' ')}: {label}", text)
        for kind in RULE_KINDS
        for i, rule in enumerate(getattr(p, kind))
        for key, label, text in RULE_KEYS.get(rule.effect, ())
    )
    quintiles = range(len(p.travel.rate))
    travel = tuple(Control(f"travel.rate[{q}]", f"trips, quintile {q + 1}", f"Trips a day that a person of income "
                           f"quintile {q + 1} wants to make.") for q in quintiles)  # fmt: skip
    travel += tuple(Control(f"travel.plane_share[{q}]", f"by plane, quintile {q + 1}", f"Share of those trips by "
                            f"plane (quintile {q + 1}); the rest go by train.") for q in quintiles)  # fmt: skip
    return [
        Group("Population", "The synthetic citizens: districts, groups, ages, occupations, party, households.",
              controls("population", POPULATION)),
        Group("Networks", "Ties at work and between friends (the family layer is the households).",
              controls("networks", NETWORKS)),
        Group("Events", "What people do, how much it counts, who does it, and how much surveillance deters it.",
              tuple(c for name in p.events for c in controls(f"events.{name}", EVENT_KEYS, name))),
        Group("Data sources", "What the system sees: each source's coverage, errors and delay.",
              tuple(c for name in p.sources for c in controls(f"sources.{name}", SOURCE_KEYS, name))),
        Group("Scoring and tiers", "One score a citizen, clamped to [min, max], and its tiers.", (
            Control("score.start", "start", "Every citizen's score at the start."),
            Control("score.min", "min", "The lowest score (the score is clamped to [min, max])."),
            Control("score.max", "max", "The highest score."), *tiers)),
        Group("Association", "Guilt by association: the weight of a contact's charge, per network layer.",
              (*layers, listed)),
        *FIXED_GROUPS,
        Group(RULES_GROUP, "Each rule on or off, and what triggers it: being blacklisted, or a tier at or below "
              "(or at or above) a tier of the score; the sizes of the loans.", rules, rules=True),
        Group("Travel", "The trips people want to make, which a travel ban denies.", travel),
        *LATE_GROUPS[:1],
        Group("Firms (corporate credit)", "Firms' own scores and blacklist, and joint punishment (empty: the "
              "scenario has no corporate credit).", controls("firms", FIRMS)),
        *LATE_GROUPS[1:],
    ]  # fmt: skip


def excluded(key: str) -> bool:
    """Whether a key is one of `NOT_CONTROLS` (entries of arrays as `[]`)."""
    generic = re.sub(r"\[\d+\]", "[]", key)
    return any(generic == name for name, _ in NOT_CONTROLS)


def value_at(sc: Scenario, key: str) -> Any:
    """The scenario's value of a dotted key (None where unset)."""
    return _at(sc.params.model_dump(mode="json"), key)


def _at(node: Any, key: str) -> Any:
    for part in parse_key(key) or ():
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
        elif not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def shown(value: Any) -> str:
    """A value as its control shows it (lists as names separated by commas)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value)) if abs(value) >= 1 or value == 0 else repr(value)
    return str(value)


def typed(key: str, text: str) -> Any:
    """The value a control's text stands for: a TOML value, names separated by commas, or None (empty: left out)."""
    text = text.strip()
    if NAME_LISTS.search(key) and not text.startswith("["):
        names = [name for name in re.split(r"[,\s]+", text) if name]
        return None if not names and EVERYONE.search(key) else names
    if not text:
        return None
    return parse_set_option(f"{key}={text}")[1]


def lifted(sc: Scenario, key: str, value: Any, done: dict[str, Any]) -> tuple[str, Any]:
    """The override that sets `key`: an entry of a list of numbers or of the tiers sets the whole list or ladder
    (which a file may leave to its defaults, and which an extending file replaces whole); an empty source of
    firms leaves out the table of firms; else the key itself. `done`: the lists and ladders already set by the
    same change."""
    path = parse_key(key) or ()
    if key == "firms.source" and value is None:
        return "firms", None  # no source sees firms: no corporate credit (the [firms] table left out)
    if path[:2] == ("score", "tiers") and len(path) == 3:
        whole = "score.tiers"
    elif path and isinstance(path[-1], int):
        whole = format_key(path[:-1])
    else:
        return key, value
    container = done[whole] if whole in done else _at(sc.params.model_dump(mode="json"), whole)
    if isinstance(container, dict):
        container = container | {path[-1]: value}
    else:
        container = [value if i == path[-1] else v for i, v in enumerate(container)]
    return whole, container


def one_line(exc: ScslabError, key: str, *within: str) -> str:
    """The schema's message for `key`, without the `--set KEY:` the loader puts before it (nor the key again when
    the override was the list or ladder `within`)."""
    text = str(exc)
    for prefix in (*(f"--set {k}: " for k in (key, *within)), "--set "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.removeprefix(f"{key}: ")


def apply(sc: Scenario, texts: dict[str, str]) -> Scenario:
    """The scenario with these controls' texts set, in one validation (raises the loader's error)."""
    mapping: dict[str, Any] = {}
    for key, text in texts.items():
        whole, value = lifted(sc, key, typed(key, text), mapping)
        mapping[whole] = value
    return sc.with_overrides(mapping)


def attempt(sc: Scenario, texts: dict[str, str]) -> tuple[Scenario, str | None]:
    """The scenario with these texts set, or the same scenario and the message for the first of them."""
    try:
        return apply(sc, texts), None
    except ScslabError as exc:
        key = next(iter(texts))
        return sc, one_line(exc, key, lifted(sc, key, None, {})[0])


def by_table(keys: list[str]) -> list[list[str]]:
    """Keys grouped by the table that holds them."""
    tables: dict[str, list[str]] = {}
    for key in keys:
        tables.setdefault(format_key((parse_key(key) or ())[:-1]), []).append(key)
    return list(tables.values())


@dataclass(frozen=True)
class Rule:
    """A sanction or reward of the base scenario: on or off, and its trigger as typed."""

    kind: str  # "sanctions" or "rewards"
    index: int
    effect: str
    on: bool
    trigger: str  # "" for a rule with no trigger (red_loan)

    @property
    def key(self) -> str:
        return f"{self.kind}[{self.index}].trigger"


@dataclass(frozen=True)
class Design:
    """A base scenario and the changes made to it; `resolved` gives the scenario and each refused change's line."""

    base: Scenario
    texts: dict[str, str] = field(default_factory=dict)  # key -> the text typed in its control
    rules: tuple[Rule, ...] = ()
    label: str = ""  # the preset or file it started from
    kept: dict[str, str] = field(default_factory=dict)  # key -> its last accepted text, where one was accepted

    @classmethod
    def start(cls, base: Scenario, label: str) -> Design:
        rules = tuple(
            Rule(kind, i, rule["effect"], True, rule.get("trigger") or "")
            for kind in RULE_KINDS
            for i, rule in enumerate(base.params.model_dump(mode="json")[kind])
        )
        return cls(base, {}, rules, label)

    def with_text(self, key: str, text: str) -> Design:
        """The design with a control's text typed; should it be refused, the key keeps its last accepted text."""
        kept = self.kept
        if key in self.texts and key not in self.resolved()[1]:
            kept = kept | {key: self.texts[key]}
        return replace(self, texts=self.texts | {key: text}, kept=kept)

    def with_rule(self, rule: Rule) -> Design:
        return replace(self, rules=tuple(rule if (r.kind, r.index) == (rule.kind, rule.index) else r
                                         for r in self.rules))  # fmt: skip

    @cached_property
    def _base_values(self) -> dict[str, Any]:
        return self.base.params.model_dump(mode="json")

    def text(self, key: str) -> str:
        """What a control shows: the text typed, else the base scenario's value."""
        return self.texts[key] if key in self.texts else shown(_at(self._base_values, key))

    def resolved(self) -> tuple[Scenario, dict[str, str]]:
        """The design's scenario (every accepted change applied) and the message of each refused one."""
        return self._resolution

    @cached_property
    def _resolution(self) -> tuple[Scenario, dict[str, str]]:
        sc, errors = self.base, dict[str, str]()
        pending = {key: text for key, text in self.texts.items() if text != shown(_at(self._base_values, key))}
        while pending:  # in order, again while one more applies: a key may need a later one (firms.source first)
            left: dict[str, str] = {}
            for key, text in pending.items():
                sc, error = attempt(sc, {key: text})
                if error is None:
                    errors.pop(key, None)
                else:
                    left[key], errors[key] = text, error
            if len(left) == len(pending):
                break
            pending = left
        for keys in by_table(list(errors)):  # shares that sum to 1 change two at a time
            if len(keys) > 1:
                sc, error = attempt(sc, {key: self.texts[key] for key in keys})
                errors = {k: v for k, v in errors.items() if error is not None or k not in keys}
        for key in errors:
            if key in self.kept:
                sc, _ = attempt(sc, {key: self.kept[key]})
        return self._with_rules(sc, errors), errors

    def _with_rules(self, sc: Scenario, errors: dict[str, str]) -> Scenario:
        raw = sc.params.model_dump(mode="json", exclude_none=True)
        for kind in RULE_KINDS:
            mine = [r for r in self.rules if r.kind == kind]
            entries = []
            for rule in mine:
                entry = dict(raw[kind][rule.index])
                if rule.trigger != (entry.get("trigger") or ""):
                    try:
                        sc.with_overrides({rule.key: rule.trigger})
                        entry["trigger"] = rule.trigger
                    except ScslabError as exc:
                        errors[rule.key] = one_line(exc, rule.key)
                if rule.on:
                    entries.append(entry)
            if len(entries) != len(raw[kind]) or entries != raw[kind]:
                sc = sc.with_overrides({kind: entries})
        return sc

    def scenario(self) -> Scenario:
        return self.resolved()[0]


def scenario_text(sc: Scenario, seed: int) -> str:
    """The design as a scenario file: the resolved scenario, with the command that reproduces its run."""
    command = f"scslab run scenario.toml --seed {seed}"
    return f"# Designed in the scslab lab. Reproduce its run with: {command}\n" + sc.to_toml()


def upload_label(name: str) -> str:
    return Path(name).name or "upload.toml"


def check_upload_size(name: str, size: int) -> None:
    """Refuse a file over the loader's size limit (before its bytes are read)."""
    if size > MAX_FILE_BYTES:
        raise ScenarioError(f"{upload_label(name)}: larger than {MAX_FILE_BYTES // 2**20} MiB (allowed: a scenario "
                            f"file of at most 1 MiB)")  # fmt: skip


def read_upload(name: str, data: bytes) -> Scenario:
    """A scenario file sent from the browser, read by the scenario loader only (never executed), size-limited."""
    label = upload_label(name)
    check_upload_size(name, len(data))
    with tempfile.TemporaryDirectory(prefix="scslab-lab-") as folder:
        path = Path(folder) / (label if label.endswith(".toml") else label + ".toml")
        path.write_bytes(data)
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            raise ScenarioError(str(exc).replace(str(path), label)) from None
    return replace(sc, origin=label)
