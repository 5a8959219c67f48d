"""A design in the lab: a base scenario (preset or uploaded file) and the values the person changed.

Every value goes through the scenario loader (`Scenario.with_overrides`, as `--set` does), so a
value the schema refuses gets the schema's one-line message, shown beside its control. The
controls are grouped as docs/model.md groups the mechanisms; their descriptions are the comments of
the scenario format (src/scslab/scenario/example.toml) in plain words.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scslab.errors import ScenarioError, ScslabError
from scslab.scenario import Scenario, load_scenario, parse_set_option
from scslab.scenario.loader import MAX_FILE_BYTES

RULE_KINDS = ("sanctions", "rewards")


@dataclass(frozen=True)
class Control:
    """One value a person can change: its scenario key, label and plain-language description."""

    key: str
    label: str
    help: str


@dataclass(frozen=True)
class Group:
    """Controls that belong to one mechanism of docs/model.md."""

    title: str
    about: str
    controls: tuple[Control, ...]


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
    ("points", "points", "Points added to the score when charged (negative: a penalty)."),
    ("elasticity", "elasticity", "How strongly the perceived risk of detection deters it (0: not at all)."),
)
LAYER_HELP = {
    "family": "households and parent-child links",
    "work": "colleagues at the same firm",
    "friends": "friends, mostly in the same district",
}
FIXED_GROUPS = (
    Group("Blacklist", "Who is listed, for how long.", (
        Control("blacklist.threshold", "threshold", "A score below this puts a citizen on the blacklist."),
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
    Group("Feedback", "How people react to what happens around them.", (
        Control("feedback.rho0", "perceived risk at the start", "Perceived chance of being caught, at the start."),
        Control("feedback.eta", "learning rate", "How fast the perceived risk follows what people see."),
        Control("feedback.gamma", "weight of a penalised contact", "How much each penalised contact raises the "
                "perceived risk."),
        Control("feedback.psi", "self-censorship", "Weight of contacts' exposure in self-censorship."),
        Control("feedback.tie_cut_rate", "tie cutting", "Chance a day of cutting a tie to a blacklisted person, "
                "in layers whose association weight is above 0."),
    )),
)  # fmt: skip


def groups(sc: Scenario) -> list[Group]:
    """The controls of a scenario, grouped as in docs/model.md: sources, events, association, blacklist, appeals,
    feedback (the rules are `rules`)."""
    p = sc.params
    sources = tuple(
        Control(f"sources.{name}.{key}", f"{name}: {label}", text)
        for name in p.sources
        for key, label, text in SOURCE_KEYS
    )
    events = tuple(
        Control(f"events.{name}.{key}", f"{name}: {label}", text)
        for name in p.events
        for key, label, text in EVENT_KEYS
    )
    layers = tuple(
        Control(f"networks.{layer}.alpha", f"{layer}", f"Share of a charge that also falls on each contact in this "
                f"layer ({about}); 0: no guilt by association.")
        for layer, about in LAYER_HELP.items()
    )  # fmt: skip
    return [
        Group("Data sources", "What the system sees: each source's coverage, errors and delay.", sources),
        Group("Events", "What people do, how much it counts, and how much surveillance deters it.", events),
        Group("Association", "Guilt by association: the weight of a contact's charge, per network layer.", layers),
        *FIXED_GROUPS,
    ]


def value_at(sc: Scenario, key: str) -> Any:
    """The scenario's value of a dotted key (None where unset)."""
    node: Any = sc.params.model_dump(mode="json")
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def shown(value: Any) -> str:
    """A value as its control shows it."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value)) if abs(value) >= 1 or value == 0 else repr(value)
    return str(value)


def one_line(exc: ScslabError, key: str) -> str:
    """The schema's message for `key`, without the `--set KEY:` the loader puts before it."""
    text = str(exc)
    for prefix in (f"--set {key}: ", "--set "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


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

    @classmethod
    def start(cls, base: Scenario, label: str) -> Design:
        rules = tuple(
            Rule(kind, i, rule["effect"], True, rule.get("trigger") or "")
            for kind in RULE_KINDS
            for i, rule in enumerate(base.params.model_dump(mode="json")[kind])
        )
        return cls(base, {}, rules, label)

    def with_text(self, key: str, text: str) -> Design:
        return replace(self, texts=self.texts | {key: text})

    def with_rule(self, rule: Rule) -> Design:
        return replace(self, rules=tuple(rule if (r.kind, r.index) == (rule.kind, rule.index) else r
                                         for r in self.rules))  # fmt: skip

    def text(self, key: str) -> str:
        """What a control shows: the text typed, else the base scenario's value."""
        return self.texts[key] if key in self.texts else shown(value_at(self.base, key))

    def resolved(self) -> tuple[Scenario, dict[str, str]]:
        """The design's scenario (every accepted change applied, in order) and the message of each refused one."""
        sc, errors = self.base, {}
        for key, text in self.texts.items():
            if text == shown(value_at(self.base, key)):
                continue
            try:
                _, value = parse_set_option(f"{key}={text}")
                sc = sc.with_overrides({key: value})
            except ScslabError as exc:
                errors[key] = one_line(exc, key)
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


def read_upload(name: str, data: bytes) -> Scenario:
    """A scenario file sent from the browser, read by the scenario loader only (never executed), size-limited."""
    label = Path(name).name or "upload.toml"
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"{label}: larger than {MAX_FILE_BYTES // 2**20} MiB (allowed: a scenario file of at "
                            f"most 1 MiB)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="scslab-lab-") as folder:
        path = Path(folder) / (label if label.endswith(".toml") else label + ".toml")
        path.write_bytes(data)
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            raise ScenarioError(str(exc).replace(str(path), label)) from None
    return replace(sc, origin=label)
