"""The scenario loader: the v1 format, presets, `extends`, `--set`, and one-line errors."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scslab.errors import ScenarioError
from scslab.scenario import Scenario, list_presets, load_scenario, parse_set_option
from scslab.scenario.keys import KeyPath, format_key

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "scslab" / "scenario" / "example.toml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
PRESET_DOCS = ROOT / "docs" / "scenarios"
PRESETS = ", ".join(name for name, _ in list_presets())


def one_line_error(exc: pytest.ExceptionInfo[ScenarioError]) -> str:
    message = str(exc.value)
    assert message and len(message.splitlines()) == 1 and message == message.strip(), repr(message)
    return message


def edited(old: str, new: str) -> str:
    """example.toml with one edit; the edit must apply, so that a changed example fails loudly."""
    assert EXAMPLE_TEXT.count(old) == 1, old
    return EXAMPLE_TEXT.replace(old, new)


def flatten(value: Any, path: KeyPath = ()) -> dict[KeyPath, Any]:
    """Leaves of a dumped scenario by key path; arrays of tables are entered, other arrays are leaves."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(item, (*path, key)).items()}
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, (*path, i)).items()}
    return {path: value}


# --- the example and the preset ------------------------------------------------------------


def test_example_loads_with_its_values() -> None:
    scenario = load_scenario(EXAMPLE)
    p = scenario.params
    assert (scenario.name, scenario.origin) == ("example", str(EXAMPLE))
    assert scenario.raw == tomllib.loads(EXAMPLE_TEXT)  # no extends: raw is the file itself
    assert (p.start_date, p.days, p.crn) == (dt.date(2018, 1, 1), 365, False)
    assert (p.population.size, p.population.real_size, p.population.districts) == (100_000, 22_000_000, 16)
    assert (p.population.age_shares.child, p.population.age_shares.adult) == (0.15, 0.70)
    assert p.population.occupation_shares.unemployed == 0.30
    assert (p.population.party_member_share_civil_servants, p.population.household_size_mean) == (0.60, 2.62)
    assert (p.networks.family.alpha, p.networks.work.firm_size_mean, p.networks.friends.same_district) == (
        0.5,
        17.6,
        0.8,
    )
    assert p.score.tiers == {"A": 900, "B": 800, "C": 650, "D": 350}
    assert (p.score.start, p.score.min, p.score.max) == (800, 350, 950)
    assert list(p.sources) == ["cameras", "internet", "payments", "records"]
    cameras = p.sources["cameras"]
    assert (cameras.coverage, cameras.coverage_end, cameras.ramp_days) == (0.2, 0.6, 540)
    assert (cameras.civil_servant_multiplier, cameras.misattribution, cameras.minority_error_ratio) == (1.5, 0.01, 10)
    assert (p.sources["payments"].share, p.sources["payments"].delay, p.sources["internet"].delay) == (0.8, 30, 1)
    assert list(p.events) == [
        "jaywalking",
        "criticism",
        "late_payment",
        "court_default",
        "blood_donation",
        "party_study",
    ]
    criticism = p.events["criticism"]
    assert (criticism.rate, criticism.heterogeneity, criticism.points, criticism.source) == (
        0.001,
        2.0,
        -50,
        "internet",
    )
    assert (criticism.elasticity, criticism.political, criticism.financial) == (3.0, True, False)
    assert criticism.eligible.age_bands == ["adult", "senior"] and criticism.eligible.occupations is None
    assert p.events["court_default"].blacklist_on_detection and p.events["party_study"].eligible.party_member
    assert p.events["late_payment"].eligible.occupations == ["civil_servant", "employee", "business_owner"]
    assert p.association.events == ["criticism"]
    assert (p.recovery.clean_days, p.recovery.per_day) == (180, 1.0)
    assert (p.blacklist.threshold, p.blacklist.min_days, p.blacklist.term_days) == (600, 365, 730)
    assert (p.appeal.rate, p.appeal.success_wrongful, p.appeal.success_rightful) == (0.01, 0.3, 0.02)
    assert [(s.effect, s.trigger) for s in p.sanctions] == [
        ("travel_ban", "blacklist"),
        ("speech_block", "blacklist"),
        ("public_job_exclusion", "tier <= C"),
        ("education_restriction", "blacklist"),
        ("loan_penalty", "tier <= C"),
    ]
    assert p.sanctions[0].modes == ["plane", "train"] and p.sanctions[4].size == 0.10
    assert [(r.effect, r.trigger, r.size) for r in p.rewards] == [
        ("green_channel", "tier >= A", 0.0),
        ("discount_loan", "tier >= A", 0.05),
        ("red_loan", None, 0.0),
    ]
    assert p.rewards[2].window_days == 365
    assert p.travel.rate == [0.002, 0.004, 0.006, 0.010, 0.020]
    assert p.travel.plane_share == [0.05, 0.10, 0.20, 0.35, 0.60]
    assert (p.promotion.rate_per_year, p.promotion.min_tier) == (0.10, "B")
    assert p.firms is not None
    assert (p.firms.violation_rate, p.firms.source, p.firms.firm_to_person, p.firms.person_to_firm) == (
        0.0005,
        "records",
        True,
        False,
    )
    assert (p.feedback.rho0, p.feedback.eta, p.feedback.gamma, p.feedback.psi, p.feedback.tie_cut_rate) == (
        0.1,
        0.05,
        0.2,
        1.0,
        0.01,
    )
    assert p.stress.sigma == 2.0


def test_preset_loads_as_the_press_described_it() -> None:
    scenario = load_scenario("beijing-2020")
    p = scenario.params
    assert (scenario.name, scenario.origin) == ("beijing-2020", "preset beijing-2020")
    assert (p.population.size, p.population.real_size, p.days, p.score.start) == (220_000, 22_000_000, 365, 800)
    offences = {"jaywalking", "late_payment", "alcohol_purchase", "criticism", "gaming", "frivolous_purchase"}
    offences |= {"dog_violation", "loitering", "court_default"}
    assert offences | {"blood_donation", "volunteering", "party_study"} == set(p.events)
    assert all(p.events[name].points < 0 for name in offences)
    assert p.events["criticism"].political and p.association.events == ["criticism"]
    assert p.events["court_default"].blacklist_on_detection and p.events["party_study"].party_promotion
    cameras = p.sources["cameras"]
    assert (cameras.coverage, cameras.coverage_end, cameras.ramp_days, cameras.minority_error_ratio) == (
        0.2,
        0.6,
        540,
        10,
    )
    assert cameras.civil_servant_multiplier > 1 and p.sources["internet"].civil_servant_multiplier > 1
    assert {s.effect for s in p.sanctions} == {
        "travel_ban",
        "speech_block",
        "public_job_exclusion",
        "education_restriction",
        "loan_penalty",
    }
    assert {r.effect for r in p.rewards} == {"green_channel", "discount_loan", "red_loan"}
    assert p.firms is not None and p.firms.firm_to_person
    assert p.blacklist.threshold is not None and p.blacklist.threshold < p.score.start
    assert all(alpha > 0 for alpha in (p.networks.family.alpha, p.networks.friends.alpha, p.networks.work.alpha))


def test_list_presets() -> None:
    presets = list_presets()
    assert [name for name, _ in presets] == sorted(name for name, _ in presets)
    descriptions = dict(presets)
    assert descriptions["beijing-2020"] == load_scenario("beijing-2020").params.description
    assert all(text and len(text.splitlines()) == 1 for text in descriptions.values())


@pytest.mark.parametrize("preset", [name for name, _ in list_presets()])
def test_preset_doc_gives_every_parameter_with_its_value_and_source(preset: str) -> None:
    rows: dict[str, tuple[str, str]] = {}
    for line in (PRESET_DOCS / f"{preset}.md").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\| `([^`]+)` \| `([^`]+)` \| (.+) \|", line)
        if match:
            rows[match[1]] = (match[2], match[3])
    params = load_scenario(preset).params.model_dump(mode="json", exclude_none=True)
    leaves = {format_key(path): value for path, value in flatten(params).items()}
    assert set(rows) == set(leaves)
    for key, value in leaves.items():
        written, source = rows[key]
        parsed = tomllib.loads(f"v = {written}")["v"]
        assert (parsed.isoformat() if isinstance(parsed, dt.date) else parsed) == value, key
        words = ("docs/sources.md", "assumption", "default", "docs/model.md", "calibrated")
        assert any(word in source for word in words), key


def test_a_path_or_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("plain").write_text(EXAMPLE_TEXT, encoding="utf-8")  # an existing file without .toml
    Path("sub").mkdir()
    Path("sub/x.toml").write_text(EXAMPLE_TEXT, encoding="utf-8")
    assert load_scenario("plain").origin == "plain"
    assert load_scenario("sub/x.toml").params == load_scenario(Path("sub") / "x.toml").params
    with pytest.raises(ScenarioError) as exc:
        load_scenario("nope")
    assert one_line_error(exc) == f"unknown preset 'nope' (allowed: {PRESETS}, or a path to a .toml file)"


# --- overrides -----------------------------------------------------------------------------


def test_with_overrides_changes_exactly_the_key() -> None:
    before = load_scenario(EXAMPLE)
    after = before.with_overrides({"events.criticism.rate": 0.002, "sanctions[4].size": 0.25})
    old = flatten(before.params.model_dump())
    new = flatten(after.params.model_dump())
    assert {k for k in old if old[k] != new[k]} == {("events", "criticism", "rate"), ("sanctions", 4, "size")}
    assert (new[("events", "criticism", "rate")], new[("sanctions", 4, "size")]) == (0.002, 0.25)
    assert before.params.events["criticism"].rate == 0.001 and before.raw["events"]["criticism"]["rate"] == 0.001
    assert after.raw["events"]["criticism"]["rate"] == 0.002 and after.origin == before.origin


def test_with_overrides_can_add_an_event_and_revalidates() -> None:
    base = load_scenario(EXAMPLE)
    protest = {"rate": 0.0001, "points": -80, "source": "cameras", "political": True}
    added = base.with_overrides({"events.protest": protest, "association.events": ["criticism", "protest"]})
    assert added.params.events["protest"].points == -80 and added.params.association.events[-1] == "protest"
    with pytest.raises(ScenarioError) as exc:
        base.with_overrides(
            {"events.protest.rate": 0.0001, "events.protest.points": -80, "events.protest.source": "radar"}
        )
    assert one_line_error(exc) == (
        "--set events.protest.source: no source named 'radar' (sources are: cameras, internet, payments, records)"
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"events.criticism.rate": -1},
            "--set events.criticism.rate: -1 is out of range (allowed: a number in [0, 100])",
        ),
        ({"population.sise": 5}, "--set population.sise: unknown key, did you mean 'size'? (allowed keys here: size, "),
        ({"events.protest.rate": 0.1}, "--set events.protest.rate: events.protest.points: required key missing"),
        ({"sanctions[9].size": 0.1}, "--set sanctions[9].size: sanctions: has 5 entries (allowed: an index in [0, 4])"),
        ({"days.x": 1}, "--set days.x: days: 365 is not a table (allowed: keys inside tables)"),
        ({"extends": "beijing-2020"}, "--set extends: extends cannot be overridden"),
        ({"a..b": 1}, "--set: 'a..b' is not a key (allowed: KEY=VALUE"),
        ({".".join(["a"] * 3000): 1}, "nested too deeply (allowed: at most 32 levels)"),
        ({"score.min": 900}, "--set score.min: score.start: 800 is out of range (allowed: a number in [min, max] = "),
        ({"population.age_shares.child": 0.5}, "--set population.age_shares.child: population.age_shares: the shares"),
        ({"score.tiers": {"A": 900}}, "example.toml: sanctions[2].trigger: no tier named 'C' (tiers are: A)"),
    ],
)
def test_override_errors_name_the_set_option(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(EXAMPLE).with_overrides(overrides)
    message = one_line_error(exc)
    assert message.startswith(expected) or message.endswith(expected), message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("events.criticism.rate=0.002", ("events.criticism.rate", 0.002)),
        ("population.size=1000", ("population.size", 1000)),
        ("crn=true", ("crn", True)),
        ("name = hello world", ("name", "hello world")),
        ('description="a=b"', ("description", "a=b")),
        ("description=a=b", ("description", "a=b")),
        ('sanctions[0].modes=["plane"]', ("sanctions[0].modes", ["plane"])),
        ("events.x.eligible={party_member=true}", ("events.x.eligible", {"party_member": True})),
        ("start_date=2020-01-01", ("start_date", dt.date(2020, 1, 1))),
        ("name=", ("name", "")),
        ("name=1\nx = 2", ("name", "1\nx = 2")),
    ],
)
def test_parse_set_option(text: str, expected: tuple[str, Any]) -> None:
    assert parse_set_option(text) == expected


@pytest.mark.parametrize("text", ["population.size", "=1", "a..b=1", "a b=1", "events.x[=1", ".a=1", "a.=1"])
def test_parse_set_option_refuses_malformed_options(text: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_set_option(text)
    assert one_line_error(exc).startswith("--set: ")


def test_set_options_end_to_end() -> None:
    options = dict(parse_set_option(text) for text in ["population.size=5000", "events.criticism.political=false"])
    scenario = load_scenario("beijing-2020").with_overrides(options)
    assert scenario.params.population.size == 5000 and not scenario.params.events["criticism"].political
    with pytest.raises(ScenarioError) as exc:
        scenario.with_overrides(dict([parse_set_option("sources.cameras.coverage=1.5")]))
    assert one_line_error(exc) == (
        "--set sources.cameras.coverage: 1.5 is out of range (allowed: a probability in [0, 1])"
    )


# --- bad files -----------------------------------------------------------------------------

BAD_FILES = [
    (
        "unknown key, top level",
        edited("\ndays = 365\n", "\ndays = 365\ndayz = 3\n"),
        "dayz: unknown key, did you mean 'days'?",
    ),
    (
        "unknown key, nested",
        edited("size = 100_000 ", "sise = 100_000 "),
        "population.sise: unknown key, did you mean 'size'? (allowed keys here: size, real_size, districts, ",
    ),
    (
        "wrong type",
        edited("size = 100_000 ", 'size = "abc" '),
        "population.size: expected an integer, got 'abc' (allowed: an integer in [10, 2000000000])",
    ),
    ("float for an integer", edited("districts = 16", "districts = 16.5"), "population.districts: expected an integer"),
    (
        "probability > 1",
        edited("coverage = 0.2\n", "coverage = 1.5\n"),
        "sources.cameras.coverage: 1.5 is out of range (allowed: a probability in [0, 1])",
    ),
    (
        "negative rate",
        edited("rate = 0.001\n", "rate = -1\n"),
        "events.criticism.rate: -1 is out of range (allowed: a number in [0, 100])",
    ),
    ("NaN", edited("rate = 0.001\n", "rate = nan\n"), "events.criticism.rate: nan is not a finite number"),
    (
        "inf",
        edited("sigma = 2.0", "sigma = inf"),
        "stress.sigma: inf is not a finite number (allowed: a number in [0, 1000])",
    ),
    (
        "unknown source",
        edited('source = "internet"\nelasticity = 3.0', 'source = "radar"\nelasticity = 3.0'),
        "events.criticism.source: no source named 'radar' (sources are: cameras, internet, payments, records)",
    ),
    (
        "trigger names a missing tier",
        edited('trigger = "tier <= C"\nsize', 'trigger = "tier <= E"\nsize'),
        "sanctions[4].trigger: no tier named 'E' (tiers are: A, B, C, D)",
    ),
    (
        "malformed trigger",
        edited('trigger = "tier <= C"\nsize', 'trigger = "whenever"\nsize'),
        "sanctions[4].trigger: 'whenever' is not a trigger (allowed: ",
    ),
    (
        "promotion.min_tier missing",
        edited('min_tier = "B"', 'min_tier = "Z"'),
        "promotion.min_tier: no tier named 'Z' (tiers are: A, B, C, D)",
    ),
    (
        "age shares not summing to 1",
        edited("child = 0.15,", "child = 0.25,"),
        "population.age_shares: the shares sum to 1.1 (allowed: shares that sum to 1)",
    ),
    (
        "unknown effect",
        edited('effect = "speech_block"', 'effect = "jail"'),
        "sanctions[1].effect: 'jail' is not allowed (allowed: one of 'travel_ban', 'speech_block', ",
    ),
    ("wrong boolean", edited("political = true", 'political = "yes"'), "events.criticism.political: expected true or"),
    ("bad date", edited('"2018-01-01"', '"2018-13-01"'), "start_date: expected a date, got '2018-13-01' (allowed: "),
    ("bad source name", edited("[sources.records]", '[sources."my records"]'), "sources.\"my records\": 'my records'"),
    ("short array", edited("rate = [0.002, 0.004, ", "rate = ["), "travel.rate: 3 items (allowed: an array of 5 items"),
    ("score bounds", edited("min = 350", "min = 960"), "score.min: 960 is not below max 950 (allowed: min < max)"),
    ("table for a number", edited("sigma = 2.0", "sigma = { x = 1 }"), "stress.sigma: expected a number, got a table"),
    ("malformed TOML", edited("\ndays = 365", "\ndays = = 365"), "line 7, column 8: malformed TOML: Invalid value"),
    ("unclosed array", EXAMPLE_TEXT + "\nx = [1,", "malformed TOML: "),
    ("extends of a missing preset", 'extends = "nope"\n', f"extends: unknown preset 'nope' (allowed: {PRESETS}, or "),
    ("extends not a string", "extends = 5\n", "extends: expected a preset name or a path, got 5"),
    (
        "extends of a missing file",
        'extends = "gone.toml"\n',
        "extends: 'gone.toml' not found (allowed: a preset name or",
    ),
    ("too deep", "a = " + "[" * 40 + "]" * 40 + "\n", "nested too deeply (allowed: at most 32 levels)"),
    ("too deep for tomllib", "a = " + "[" * 5000 + "]" * 5000 + "\n", "malformed TOML: arrays or inline tables nested"),
    (
        "huge integer",
        edited("\ndays = 365", "\ndays = 0x" + "f" * 2000),
        "days: an integer of about 2408 digits is out of",
    ),
    ("too many digits", edited("\ndays = 365", "\ndays = 1" + "0" * 5000), "malformed TOML: Exceeds the limit"),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_file_gives_one_line_naming_file_and_key(
    text: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario("bad.toml")
    message = one_line_error(exc)
    assert message.startswith("bad.toml: "), message
    assert expected in message, message


def test_missing_file_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as exc:
        load_scenario("missing.toml")
    assert one_line_error(exc) == "missing.toml: file not found"
    Path("folder.toml").mkdir()
    with pytest.raises(ScenarioError) as exc:
        load_scenario("folder.toml")
    assert one_line_error(exc) == "folder.toml: is a folder (allowed: a TOML file)"


def test_not_utf8_and_byte_order_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("latin.toml").write_bytes(b'name = "x"\ndescription = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as exc:
        load_scenario("latin.toml")
    assert one_line_error(exc) == "latin.toml: line 2, column 19: byte 0xe9 is not UTF-8 (allowed: UTF-8 text)"
    Path("bom.toml").write_bytes(b"\xef\xbb\xbf" + EXAMPLE_TEXT.encode())
    assert load_scenario("bom.toml").params == load_scenario(EXAMPLE).params


def test_odd_keys_stay_on_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("odd.toml").write_text('"line\\nbreak\\u2028" = 1\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario("odd.toml")
    assert one_line_error(exc).startswith('odd.toml: "line\\nbreak\\u2028": unknown key')


# --- extends -------------------------------------------------------------------------------


def test_extends_chain_merges_tables_and_replaces_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("base").mkdir()
    Path("base/example.toml").write_text(edited("\ncrn = false", "\n"), encoding="utf-8")  # crn left to its default
    Path("base/mid.toml").write_text(
        'extends = "example.toml"\n'  # relative to mid.toml's folder
        "[population]\nsize = 5000\n"
        "[population.age_shares]\nchild = 0.2\nadult = 0.65\n"
        "[events.criticism]\nrate = 0.004\n"
        '[[sanctions]]\neffect = "travel_ban"\ntrigger = "tier <= D"\n',
        encoding="utf-8",
    )
    Path("top.toml").write_text(
        'extends = "base/mid.toml"\nname = "top"\n[association]\nevents = []\n[events.criticism]\npoints = -60\n',
        encoding="utf-8",
    )
    top = load_scenario("top.toml")
    p = top.params
    assert (p.name, p.population.size, p.population.districts) == ("top", 5000, 16)
    assert (p.population.age_shares.child, p.population.age_shares.adult, p.population.age_shares.senior) == (
        0.2,
        0.65,
        0.15,
    )
    criticism = p.events["criticism"]
    assert (criticism.rate, criticism.points, criticism.source, criticism.political) == (0.004, -60, "internet", True)
    assert [(s.effect, s.trigger) for s in p.sanctions] == [("travel_ban", "tier <= D")]  # replaced, not appended
    assert p.association.events == [] and len(p.rewards) == 3 and "extends" not in top.raw
    assert "crn" not in top.raw  # raw is before defaults
    assert top.origin == "top.toml"


def test_extends_errors_name_the_file_that_gave_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("base.toml").write_text(edited("rate = 0.001\n", "rate = -1\n"), encoding="utf-8")
    Path("top.toml").write_text('extends = "base.toml"\nname = "top"\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario("top.toml")
    assert one_line_error(exc) == "base.toml: events.criticism.rate: -1 is out of range (allowed: a number in [0, 100])"
    Path("top.toml").write_text('extends = "base.toml"\n[events.criticism]\nrate = 0.5\nsource = "radar"\n')
    with pytest.raises(ScenarioError) as exc:
        load_scenario("top.toml")
    assert one_line_error(exc).startswith("top.toml: events.criticism.source: no source named 'radar'")


def test_extends_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('extends = "beijing-2020"\nname = "mine"\n[population]\nsize = 2200\n', encoding="utf-8")
    mine = load_scenario(path)
    preset = load_scenario("beijing-2020")
    assert mine.params.population.size == 2200 and mine.params.name == "mine"
    assert mine.params.model_copy(update={"name": preset.name, "population": preset.params.population}) == preset.params


def test_extends_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    Path("b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    Path("self.toml").write_text('extends = "self.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario("a.toml")
    assert one_line_error(exc) == "a.toml: extends: cycle a.toml -> b.toml -> a.toml"
    with pytest.raises(ScenarioError) as exc:
        load_scenario("self.toml")
    assert one_line_error(exc) == "self.toml: extends: cycle self.toml -> self.toml"


@pytest.mark.parametrize(("hops", "ok"), [(32, True), (33, False)])
def test_extends_depth_limit(hops: int, ok: bool, tmp_path: Path) -> None:
    for i in range(hops):
        (tmp_path / f"f{i}.toml").write_text(f'extends = "f{i + 1}.toml"\n', encoding="utf-8")
    (tmp_path / f"f{hops}.toml").write_text('name = "deepest"\n', encoding="utf-8")
    if ok:
        assert load_scenario(tmp_path / "f0.toml").name == "deepest"
        return
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tmp_path / "f0.toml")
    assert one_line_error(exc) == f"{tmp_path / 'f0.toml'}: extends: more than 32 levels (allowed: at most 32)"


# --- to_toml -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [str(EXAMPLE), "beijing-2020"])
def test_to_toml_round_trip(name: str, tmp_path: Path) -> None:
    scenario = load_scenario(name)
    text = scenario.to_toml()
    document = tomllib.loads(text)
    assert "extends" not in document and document["crn"] is False  # every default explicit
    assert document == scenario.params.model_dump(mode="json", exclude_none=True)
    path = tmp_path / "resolved.toml"
    path.write_text(text, encoding="utf-8")
    again = load_scenario(path)
    assert again.params == scenario.params
    assert again.to_toml() == text


def test_to_toml_of_an_extended_and_overridden_scenario(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('extends = "beijing-2020"\nname = "mine"\n', encoding="utf-8")
    scenario = load_scenario(tmp_path / "mine.toml").with_overrides({"events.gaming.rate": 0.01})
    (tmp_path / "resolved.toml").write_text(scenario.to_toml(), encoding="utf-8")
    assert load_scenario(tmp_path / "resolved.toml").params == scenario.params


# --- property: any mutation gives a Scenario or one ScenarioError line ------------------------

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["blacklist", "tier <= C", "tier >= Z", "cameras", "adult", "plane", "B", "2020-02-30"]),
    st.dates(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def all_paths(value: Any, path: KeyPath = ()) -> list[KeyPath]:
    paths = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += all_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            paths += all_paths(item, (*path, i))
    return paths


EXAMPLE_PATHS = all_paths(tomllib.loads(EXAMPLE_TEXT))
EXAMPLE_SCENARIO = load_scenario(EXAMPLE)


def put(document: Any, path: KeyPath, value: Any) -> None:
    for segment in path[:-1]:
        document = document[segment]
    document[path[-1]] = value


def assert_scenario_or_one_line(action: Any) -> Scenario | None:
    try:
        return action()
    except ScenarioError as exc:
        message = str(exc)
        assert message and len(message.splitlines()) == 1, repr(message)
        return None


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutations")


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(EXAMPLE_PATHS),
    value=toml_values,
    new_key=st.none() | st.text(max_size=12),
)
def test_mutated_files_load_or_fail_on_one_line(path: KeyPath, value: Any, new_key: str | None, scratch: Path) -> None:
    document = tomllib.loads(EXAMPLE_TEXT)
    target = path
    if new_key is not None:
        parent: Any = document
        for segment in path[:-1]:
            parent = parent[segment]
        if isinstance(parent, dict):
            target = (*path[:-1], new_key)
    put(document, target, value)
    file = scratch / "mutated.toml"
    file.write_text(tomli_w.dumps(document), encoding="utf-8")
    scenario = assert_scenario_or_one_line(lambda: load_scenario(file))
    if scenario is not None:  # a valid mutation also survives the round trip
        file.write_text(scenario.to_toml(), encoding="utf-8")
        assert load_scenario(file).params == scenario.params


@settings(max_examples=150, deadline=None, database=None)
@given(
    key=st.sampled_from([format_key(p) for p in EXAMPLE_PATHS]) | st.text(max_size=20),
    value=toml_values | st.none() | st.tuples(st.integers(), st.text()),
)
def test_overrides_apply_or_fail_on_one_line(key: str, value: Any) -> None:
    scenario = assert_scenario_or_one_line(lambda: EXAMPLE_SCENARIO.with_overrides({key: value}))
    if scenario is not None:
        assert tomllib.loads(scenario.to_toml()) == scenario.params.model_dump(mode="json", exclude_none=True)


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_load_or_fail_on_one_line(data: bytes, scratch: Path) -> None:
    file = scratch / "bytes.toml"
    file.write_bytes(data)
    assert_scenario_or_one_line(lambda: load_scenario(file))


@settings(max_examples=100, deadline=None, database=None)
@given(text=st.text(max_size=40))
def test_set_options_parse_or_fail_on_one_line(text: str) -> None:
    try:
        key, _ = parse_set_option(text)
    except ScenarioError as exc:
        assert len(str(exc).splitlines()) == 1
        return
    assert "=" in text and key == text.partition("=")[0].strip()


def test_extends_replaces_the_tier_ladder(tmp_path: Path) -> None:
    """`score.tiers` is one ladder: an extending file's tiers replace the base's, never add to them."""
    (tmp_path / "base.toml").write_text("[score]\ntiers = { A = 900, B = 800, C = 650, D = 350 }\n")
    (tmp_path / "child.toml").write_text('extends = "base.toml"\n[score]\ntiers = { AAA = 900, B = 700, D = 350 }\n')
    sc = load_scenario(tmp_path / "child.toml")
    assert sc.params.score.tiers == {"AAA": 900, "B": 700, "D": 350}
