"""The social-scoring audit: each rule against Article 5(1)(c), as docs/sources.md summarises it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from runkit import cli
from scslab.audit import RULE_OF_THUMB, AuditReport, Finding, audit, event_context, source_context
from scslab.cli import app
from scslab.scenario import Scenario, list_presets, load_scenario


def finding(report: AuditReport, rule: str) -> Finding:
    (found,) = [f for f in report.findings if f.rule == rule]
    return found


def audited(name: str, overrides: dict[str, Any] | None = None) -> AuditReport:
    scenario: Scenario = load_scenario(name)
    return audit(scenario.with_overrides(overrides) if overrides else scenario)


# --- the presets ---------------------------------------------------------------------------


def test_rights_respecting_passes() -> None:
    report = audited("rights-respecting")
    assert report.passes and report.prohibited == ()
    (loan,) = report.findings  # promotions are off there, so the loan penalty is the one rule
    assert (loan.effect, loan.context, loan.scores_over_time) == ("loan_penalty", "finance", True)
    assert {u.context for u in loan.data} == {"finance"} and not loan.unrelated and not loan.disproportionate


def test_beijing_fails_on_every_sanction_and_says_why() -> None:
    report = audited("beijing-2020")
    p = load_scenario("beijing-2020").params
    assert report.prohibited == (*(f"sanctions[{i}]" for i in range(len(p.sanctions))), "promotion")
    travel = finding(report, "sanctions[0]")
    assert travel.effect == "travel_ban" and travel.scores_over_time and travel.context == "transport"
    # every event that moves the score feeds the blacklist, and none comes from transport
    scored = {name for name, e in p.events.items() if e.points != 0}
    assert scored <= {u.name for u in travel.data}
    assert "jaywalking (score): public space data, applied in transport" in travel.unrelated
    assert any(r.startswith("criticism (association): data about other people") for r in travel.unrelated)
    reasons = " | ".join(travel.disproportionate)
    assert "criticism: political speech can reach it" in reasons
    assert "criticism: it falls on someone who did not commit the act" in reasons
    assert "jaywalking: a minor offence (-5 points: 30 detected act(s)" in reasons  # (800 - 650) / 5
    education = finding(report, "sanctions[3]")
    assert "it falls on the children of the sanctioned person, who did nothing" in education.disproportionate
    loan = finding(report, "sanctions[4]")
    assert loan.severity.startswith("moderate")  # 10% of income: no "minor offence" reason, but speech and contacts
    assert not any("minor offence" in r for r in loan.disproportionate)
    assert not any(r.startswith(("late_payment", "alcohol_purchase")) for r in loan.unrelated)  # finance, consumption


def test_judgment_defaulters_is_no_score_but_its_contexts_are_unrelated() -> None:
    report = audited("judgment-defaulters")
    assert report.passes
    travel = finding(report, "sanctions[0]")
    assert not travel.scores_over_time and travel.scoring.startswith("no: each listing follows one recorded finding")
    assert "court_default (listing): finance data, applied in transport" in travel.unrelated
    # a firm that needs two violations to be listed is scored over time, and lists its representative
    twice = audited("judgment-defaulters", {"firms.violation_points": -100})
    assert twice.prohibited and all(f.scores_over_time for f in twice.findings)
    assert "a firm's score, 2 violations deep, lists its representative" in finding(twice, "sanctions[0]").scoring


def test_other_presets() -> None:
    civil = audited("civil-servants")
    promotion = finding(civil, "promotion")
    assert promotion.prohibited and promotion.trigger == "blacklist or a tier below B"
    names = {r.split(" ")[0] for r in promotion.unrelated}
    assert "home_misconduct" in names and "public_misconduct" in names and "work_misconduct" not in names
    rongcheng = audited("rongcheng")
    assert rongcheng.prohibited == ("sanctions[0]",)  # the tier-D loan penalty, from traffic, police, ...
    assert all(f.rule != "promotion" for f in rongcheng.findings)  # no one can be listed there
    assert len(rongcheng.not_audited) == 2 and "green_channel" in rongcheng.not_audited[0]


@pytest.mark.parametrize("name", [name for name, _ in list_presets()])
def test_every_preset_audits_and_round_trips(name: str) -> None:
    report = audited(name)
    document = json.loads(report.to_json())
    assert document["passes"] == report.passes and document["prohibited"] == list(report.prohibited)
    assert document["rule_of_thumb"] == RULE_OF_THUMB
    assert [row["prohibited"] for row in document["findings"]] == [f.prohibited for f in report.findings]
    for f in report.findings:
        assert f.prohibited == (f.scores_over_time and bool(f.unrelated or f.disproportionate))


# --- one rule at a time --------------------------------------------------------------------


def test_association_makes_a_lawful_rule_unlawful() -> None:
    shared = {"association.events": ["late_payment"], "networks.family.alpha": 0.5}
    report = audited("rights-respecting", shared)
    loan = finding(report, "sanctions[0]")
    assert loan.prohibited
    assert "late_payment (association): data about other people, applied in finance" in loan.unrelated
    assert any(r.startswith("late_payment: it falls on someone who did not commit") for r in loan.disproportionate)
    # listed, but with every alpha at 0 the charge goes nowhere: the rule is lawful again
    assert audited("rights-respecting", {"association.events": ["late_payment"]}).passes


@pytest.mark.parametrize(("size", "passes"), [(0.20, True), (0.21, False)])
def test_severity_by_income_taken(size: float, passes: bool) -> None:
    report = audited("rights-respecting", {"sanctions[0].size": size})
    loan = finding(report, "sanctions[0]")
    assert report.passes is passes
    assert loan.severity.startswith("moderate" if passes else "severe")
    if not passes:  # severe, and a late payment is minor: ceil((800 - 650) / 20) = 8 acts
        assert loan.disproportionate == (
            f"late_payment: a minor offence (-20 points: {math.ceil(150 / 20)} detected act(s) reach the trigger) "
            f"reaches a severe sanction (takes {size:.0%} of income)",
        )


def test_a_sanction_in_another_context_fails() -> None:
    travel = {"sanctions": [{"effect": "travel_ban", "trigger": "blacklist"}]}
    report = audited("rights-respecting", travel)
    assert finding(report, "sanctions[0]").unrelated == (
        "court_default (listing, score): finance data, applied in transport",
        "late_payment (score): finance data, applied in transport",
    )
    assert not report.passes


def test_tier_trigger_counts_acts_from_the_tier_above() -> None:
    # "tier <= C" in beijing-2020: below B's bound 750, 50 points under the start of 800
    report = audited("beijing-2020", {"sanctions[0].trigger": "tier <= C"})
    travel = finding(report, "sanctions[0]")
    assert travel.scoring == "yes: the score sets tier C"
    assert any(r.startswith("jaywalking: a minor offence (-5 points: 10 detected") for r in travel.disproportionate)
    gaming = next(u for u in travel.data if u.name == "gaming")
    assert gaming.detail == "-10 points: 5 detected act(s) reach the trigger" and gaming.gravity == "minor"
    court = next(u for u in travel.data if u.name == "court_default")
    assert court.gravity == "serious" and court.path == "score"  # no listing path on a tier trigger


def test_a_sanction_that_holds_from_the_start() -> None:
    report = audited("rights-respecting", {"sanctions[0].trigger": "tier <= B"})  # everyone starts in B
    reasons = finding(report, "sanctions[0]").disproportionate
    assert "late_payment: it applies to people with no offence (the starting score already meets the trigger)" in (
        reasons
    )


def test_a_sanction_on_a_high_tier_is_not_reached_by_offences() -> None:
    report = audited("beijing-2020", {"sanctions[0].trigger": "tier >= A"})  # A from 850, start 800
    travel = finding(report, "sanctions[0]")
    assert travel.disproportionate == ()  # offences and contacts' criticism only move the score away from it
    assert {u.gravity for u in travel.data} == {"merit", "away"} and "association" not in {u.path for u in travel.data}
    assert travel.prohibited  # merits from records and party study still decide a transport sanction


def test_the_promotion_rule_follows_the_scenario() -> None:
    on = audited("rights-respecting", {"promotion.rate_per_year": 0.1})
    promotion = finding(on, "promotion")
    assert promotion.trigger == "blacklist or a tier below B"  # min_tier B from beijing-2020
    assert promotion.prohibited and "late_payment (score): finance data, applied in public employment" in (
        promotion.unrelated
    )
    no_tier = audited("rights-respecting", {"promotion.rate_per_year": 0.1, "promotion.min_tier": "D"})
    assert finding(no_tier, "promotion").trigger == "blacklist"  # D is the lowest tier: no tier gate


def test_contexts() -> None:
    assert [source_context(s) for s in ("cameras", "Bank_records", "traffic_police", "workplace", "radar")] == [
        "public space",
        "finance",
        "road traffic",
        "work",
        "unmapped source 'radar'",
    ]
    p = load_scenario("beijing-2020").params
    contexts = {name: event_context(e) for name, e in p.events.items()}
    assert (contexts["criticism"], contexts["party_study"], contexts["court_default"]) == (
        "political speech",
        "political activity",
        "finance",
    )
    # without its financial flag a late payment is payments data (consumption): related to credit
    assert audited("rights-respecting", {"events.late_payment.financial": False}).passes
    # from a source the audit cannot place, it counts as unrelated
    radar = {"sources.radar": {"coverage": 1.0}, "events.late_payment.source": "radar"}
    loan = finding(audited("rights-respecting", radar | {"events.late_payment.financial": False}), "sanctions[0]")
    assert loan.prohibited
    assert loan.unrelated == ("late_payment (score): unmapped source 'radar' data, applied in finance",)


# --- the command ---------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["audit", *args])


def test_cli_exit_codes_text_and_json() -> None:
    ok = invoke("rights-respecting")
    assert ok.exit_code == 0, ok.output
    assert "no rule meets the prohibited pattern" in ok.stdout and "rule of thumb" in ok.stdout
    shown = " ".join(ok.stdout.split())  # every rule shows its data's contexts and its severity against the offences
    assert "(i) data: court_default (listing, score) finance; late_payment (score) finance; applied in finance" in shown
    assert "(ii) moderate (takes 10% of income) against: court_default serious, late_payment minor" in shown
    bad = invoke("beijing-2020")
    assert bad.exit_code == 1, bad.output
    text = " ".join(bad.stdout.split())
    assert "6 rule(s) meet the prohibited pattern" in text and "criticism: political speech can reach it" in text
    as_json = invoke("beijing-2020", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["prohibited"] == list(audited("beijing-2020").prohibited)
    fixed = invoke("beijing-2020", "--json", "--set", "sanctions=[]", "--set", "promotion.rate_per_year=0")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["findings"] == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nope"], "unknown preset 'nope'"),
        (["beijing-2020", "--set", "sanctions[0].size=2"], "--set sanctions[0].size: 2 is out of range"),
        (["missing.toml"], "missing.toml: file not found"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = invoke(*args)
    assert res.exit_code == 2 and res.stdout == ""
    assert expected in res.stderr and len(res.stderr.strip().splitlines()) == 1 and res.exception is not None


def test_the_installed_command_exits_1_for_beijing(tmp_path: Path) -> None:
    res = cli("audit", "beijing-2020", "--json", cwd=tmp_path, timeout=120)
    assert res.returncode == 1 and json.loads(res.stdout)["passes"] is False
