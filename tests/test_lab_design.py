"""The Design page's controls without a browser: every key of the scenario format is a control (or is listed,
with its reason, in `NOT_CONTROLS`), and a control changes its key of the scenario and nothing else."""

from __future__ import annotations

import copy
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

pytest.importorskip("solara")

from scslab.errors import ScenarioError
from scslab.lab.design import NOT_CONTROLS, Design, apply, excluded, groups, scenario_text, shown
from scslab.scenario import Scenario, ScenarioParams, list_presets, load_scenario
from scslab.scenario.keys import parse_key
from scslab.scenario.loader import EXAMPLE_FILE
from scslab.scenario.messages import is_flag
from scslab.scenario.schema import Firms

BASES = [*(name for name, _ in list_presets()), str(EXAMPLE_FILE)]


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The table (pydantic model) an annotation holds, `X | None` included."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return model_of(inner[0]) if len(inner) == 1 else None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def leaves(model: type[BaseModel], value: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(key, value, default) of every leaf of the schema, walked from its pydantic models: the entries of its tables
    of names (sources, events, tiers) and of its arrays of tables (sanctions, rewards) are those of `value`, and the
    fields of an optional table the scenario leaves out ([firms]) are walked all the same."""
    for name, info in model.model_fields.items():
        key, here = f"{prefix}{name}", getattr(value, name, None)
        annotation = info.annotation
        if (inner := model_of(annotation)) is not None:
            yield from leaves(inner, here, key + ".")
        elif get_origin(annotation) is dict:
            item = model_of(get_args(annotation)[1])
            for entry, v in (here or {}).items():
                if item is None:
                    yield f"{key}.{entry}", v, None
                else:
                    yield from leaves(item, v, f"{key}.{entry}.")
        elif get_origin(annotation) is list and (item := model_of(get_args(annotation)[0])) is not None:
            for i, v in enumerate(here or []):
                yield from leaves(item, v, f"{key}[{i}].")
        else:
            yield key, here, info.get_default(call_default_factory=True)


TABLE_ARRAYS = {name for name, info in ScenarioParams.model_fields.items()
                if get_origin(info.annotation) is list and model_of(get_args(info.annotation)[0])}  # fmt: skip


def dumped(node: Any, prefix: str = "") -> Iterator[str]:
    """The leaf keys of a fully resolved scenario dict (an array of numbers or names is one leaf; the entries of
    [[sanctions]] and [[rewards]] are tables)."""
    for name, v in node.items():
        key = f"{prefix}{name}"
        if isinstance(v, dict):
            yield from dumped(v, key + ".")
        elif key in TABLE_ARRAYS:
            for i, x in enumerate(v):
                yield from dumped(x, f"{key}[{i}].")
        else:
            yield key


def control_keys(sc: Scenario) -> set[str]:
    return {c.key for g in groups(sc) for c in g.controls}


def covered(key: str, value: Any, keys: set[str]) -> bool:
    """A control, an entry-by-entry control (a list of numbers), or one of NOT_CONTROLS."""
    each = isinstance(value, list) and bool(value) and all(f"{key}[{i}]" in keys for i in range(len(value)))
    return key in keys or each or excluded(key)


def set_in(node: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of a scenario dict with one key set."""
    out = copy.deepcopy(node)
    path = parse_key(key)
    assert path
    at: Any = out
    for part in path[:-1]:
        at = at[part]
    at[path[-1]] = value
    return out


@pytest.fixture(scope="module", params=BASES, ids=lambda base: Path(base).stem)
def base(request: pytest.FixtureRequest) -> Scenario:
    return load_scenario(request.param)


def test_every_key_of_the_schema_is_a_control_or_listed_with_its_reason(base: Scenario) -> None:
    keys = control_keys(base)
    walked = list(leaves(ScenarioParams, base.params))
    assert [key for key, value, _ in walked if not covered(key, value, keys)] == []
    values = base.params.model_dump(mode="json", exclude_none=True)
    assert [key for key in dumped(values) if not covered(key, None, keys | {k for k, _, _ in walked})] == []
    # every control is a key of the schema (or an entry of a list of the schema)
    schema = {key for key, _, _ in walked}
    assert sorted(k for k in keys if k not in schema and k.rsplit("[", 1)[0] not in schema) == []
    # a key listed as ignored by an effect is a control wherever a scenario file sets it (the presets leave out
    # the keys an effect ignores; the example sets each rule's own)
    ignored = {name for name, reason in NOT_CONTROLS if reason.startswith("read by")}
    written = [key for key in dumped(base.raw) if re.sub(r"\[\d+\]", "[]", key) in ignored]
    assert [key for key in written if key not in keys] == []
    assert len({name for name, _ in NOT_CONTROLS}) == len(NOT_CONTROLS)
    assert all(reason for _, reason in NOT_CONTROLS)


def test_a_control_shows_the_text_that_gives_its_value_back(base: Scenario) -> None:
    """Typing a control's text as shown changes nothing: lists, flags, dates, empty (left out) values."""
    d = Design.start(base, "x")
    absent = ("firms.",) if base.params.firms is None else ()  # (a table the scenario leaves out shows no value)
    keys = [key for key in control_keys(base) if not key.startswith(absent)]
    changed = {key: d.text(key) for key in keys if apply(base, {key: d.text(key)}).params != base.params}
    assert changed == {}


def rule_index(sc: Scenario, effect: str) -> int:
    return [s.effect for s in sc.params.sanctions].index(effect)


def changes(sc: Scenario) -> list[dict[str, tuple[str, Any]]]:
    """One change for a key of each group that the page did not have before (two for the shares that sum to 1):
    key -> (the text typed, the value it stands for)."""
    p = sc.params
    child, adult = p.population.age_shares.child, p.population.age_shares.adult
    tier = p.score.tier_names()[1]
    event = next(iter(p.events))
    loan = rule_index(sc, "loan_penalty")
    rate = p.travel.rate[2] * 2
    return [
        {"population.districts": (str(p.population.districts + 3), p.population.districts + 3)},
        {"population.age_shares.child": (shown(round(child + 0.05, 6)), round(child + 0.05, 6)),
         "population.age_shares.adult": (shown(round(adult - 0.05, 6)), round(adult - 0.05, 6))},
        {"networks.friends.same_district": ("0.55", 0.55)},
        {f"events.{event}.heterogeneity": ("3.5", 3.5)},
        {f"events.{event}.eligible.age_bands": ("senior", ["senior"])},
        {f"events.{event}.political": (shown(not p.events[event].political), not p.events[event].political)},
        {f"score.tiers.{tier}": (shown(p.score.tiers[tier] + 7), p.score.tiers[tier] + 7)},
        {"score.max": (shown(p.score.max + 20), p.score.max + 20)},
        {"association.events": ("", [])},
        {"recovery.clean_days": (str(p.recovery.clean_days + 11), p.recovery.clean_days + 11)},
        {f"sanctions[{loan}].size": ("0.25", 0.25)},
        {"travel.rate[2]": (shown(rate), rate)},
        {"promotion.min_tier": ("", None)},
        {"firms.violation_points": ("-75", -75)},
        {"stress.sigma": ("4.5", 4.5)},
        {"start_date": ("2021-03-04", "2021-03-04")},
    ]  # fmt: skip


def test_a_control_changes_its_key_and_nothing_else() -> None:
    base = load_scenario("beijing-2020")
    before = base.params.model_dump(mode="json")
    titles = {c.key: g.title for g in groups(base) for c in g.controls}
    tried = set()
    for change in changes(base):
        d = Design.start(base, "x")
        expected = before
        for key, (text, value) in change.items():
            assert shown(value) != d.text(key), key  # a real change
            d, expected = d.with_text(key, text), set_in(expected, key, value)
            tried.add(titles[key])
        sc, errors = d.resolved()
        assert errors == {}
        assert sc.params.model_dump(mode="json") == expected, change
    new = {"Population", "Networks", "Events", "Scoring and tiers", "Association", "Recovery", "Sanctions and rewards",
           "Travel", "Promotions", "Firms (corporate credit)", "Stress", "Reproducibility"}  # fmt: skip
    assert new <= tried


def test_corporate_credit_turns_on_where_the_scenario_has_none() -> None:
    """Firms' controls on a scenario without [firms]: a value typed before the source applies once it is named."""
    base = load_scenario("civil-servants")
    assert base.params.firms is None
    source = next(iter(base.params.sources))
    d = Design.start(base, "x").with_text("firms.start", "700")
    assert d.resolved()[1]["firms.start"].startswith("firms.source: ")
    sc, errors = d.with_text("firms.source", source).resolved()
    assert errors == {}
    expected = set_in(base.params.model_dump(mode="json"), "firms",
                      Firms(source=source, start=700).model_dump(mode="json"))  # fmt: skip
    assert sc.params.model_dump(mode="json") == expected


def test_a_refused_value_gets_the_schemas_line_and_keeps_the_last_accepted_one() -> None:
    base = load_scenario("beijing-2020")
    key, good, bad = "recovery.clean_days", base.params.recovery.clean_days + 30, -3
    d = Design.start(base, "x").with_text(key, str(good)).with_text(key, str(bad))
    with pytest.raises(ScenarioError) as refused:
        base.with_overrides({key: bad})
    sc, errors = d.resolved()
    assert errors == {key: str(refused.value).removeprefix(f"--set {key}: ")}
    assert "\n" not in errors[key] and "Traceback" not in errors[key]
    assert d.text(key) == str(bad)
    assert sc.params.model_dump(mode="json") == set_in(base.params.model_dump(mode="json"), key, good)
    # an entry of a list: the message is the entry's, and the list keeps its last accepted value
    d = Design.start(base, "x").with_text("travel.plane_share[0]", "0.5").with_text("travel.plane_share[0]", "1.5")
    sc, errors = d.resolved()
    assert errors == {"travel.plane_share[0]": "1.5 is out of range (allowed: a probability in [0, 1])"}
    assert sc.params.travel.plane_share == [0.5, *base.params.travel.plane_share[1:]]


def test_the_download_after_a_change_loads_back_to_the_same_scenario(tmp_path: Path) -> None:
    base = load_scenario("beijing-2020")
    d = Design.start(base, "x")
    for change in changes(base):
        for key, (text, _) in change.items():
            d = d.with_text(key, text)
    sc, errors = d.resolved()
    assert errors == {}
    path = tmp_path / "scenario.toml"
    path.write_text(scenario_text(sc, 3))
    again = load_scenario(path)
    assert again.params == sc.params
    assert again.params != base.params


def test_a_flag_is_a_key_whose_default_is_true_or_false(base: Scenario) -> None:
    """The keys shown as a box to tick: every key of the schema with a default of true or false, and no other
    (a party member's eligibility, which may be left out, is a field)."""
    walked = list(leaves(ScenarioParams, base.params))
    assert [key for key, _, default in walked if is_flag(key) != isinstance(default, bool)] == []
    assert any(is_flag(key) for key, _, _ in walked)
    assert not is_flag("events.criticism.eligible.party_member") and not is_flag("no.such.key")


def test_emptying_the_firms_source_turns_corporate_credit_off_and_naming_one_on() -> None:
    base = load_scenario("beijing-2020")
    assert base.params.firms is not None
    off = Design.start(base, "x").with_text("firms.source", "")
    assert off.resolved()[1] == {} and off.scenario().params.firms is None
    assert off.scenario().params == base.with_overrides({"firms": None}).params  # nothing else changed
    source = base.params.firms.source
    on = off.with_text("firms.source", source)
    assert on.resolved()[1] == {} and on.scenario().params == base.params  # (the same values as the preset's)
