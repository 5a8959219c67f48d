"""The effects registry: each sanction and reward effect declared once, and read from there by
the schema's vocabulary, the phases, the metrics, the audit and the memory estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

import scslab
from scslab import memory
from scslab.audit.contexts import sanction_context, severity
from scslab.model import effects
from scslab.model.catalogue import Metric
from scslab.model.effects import REGISTRY, Effect
from scslab.model.effects.base import Array
from scslab.model.metrics import catalogue, metric_names
from scslab.model.params import compile_params
from scslab.scenario.schema import REWARD_EFFECTS, SANCTION_EFFECTS

if TYPE_CHECKING:
    from scslab.model.draws import Draws
    from scslab.model.state import State
    from scslab.model.surveillance import Charges

SMALL = {"population.size": 5_000, "days": 60}


def test_registry_is_the_scenario_vocabulary_in_a_fixed_order() -> None:
    """Every name a scenario rule may use has one effect, and the draws keep their order
    (travel's before promotions')."""
    assert {e.key for e in REGISTRY if e.role == "sanction"} == set(SANCTION_EFFECTS)
    assert {e.key for e in REGISTRY if e.role == "reward"} == set(REWARD_EFFECTS)
    assert [e.key for e in REGISTRY] == [
        "travel_ban", "speech_block", "public_job_exclusion", "loan_penalty",
        "green_channel", "discount_loan", "red_loan", "education_restriction",
    ]  # fmt: skip
    assert all(e.context for e in REGISTRY if e.role == "sanction")


def test_each_effects_metrics_are_columns_of_the_table() -> None:
    cp = compile_params(scslab.load_scenario("beijing-2020").params)
    names = metric_names(cp)
    counted = set(catalogue().counted())
    for effect in REGISTRY:
        for m in effect.metrics:
            assert m.name in names, (effect.key, m.name)
            assert (m.name in counted) == m.counted
            assert m.counted or m.name in effect.read, f"{m.name}: a stock needs a reader"


@pytest.mark.parametrize("effect", [e for e in REGISTRY if e.bytes_per_citizen or e.bytes_per_household])
def test_memory_estimate_includes_each_effects_bytes(effect: Effect, monkeypatch: pytest.MonkeyPatch) -> None:
    params = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 1_000_000}).params
    full = memory.estimate_peak_bytes(params)
    monkeypatch.setattr(effects, "REGISTRY", tuple(e for e in REGISTRY if e is not effect))
    without = memory.estimate_peak_bytes(params)
    per_citizen = effect.bytes_per_citizen + effect.bytes_per_household / params.population.household_size_mean
    assert full - without == pytest.approx(memory.MARGIN * per_citizen * params.population.size, abs=1)


def count_listed(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """The test effect's act: one badge a listed citizen a day, each listed citizen's badges kept."""
    state.counters.add("badges_awarded", state.blacklist.size)
    state.kept.arrays["badges"][state.blacklist.ids()] += 1


BADGE = Effect(
    key="badge",
    role="sanction",
    description="A test-only effect: a badge a day for every listed citizen.",
    context="test context",
    severity=lambda size: ("severe", f"a test badge of size {size}"),
    arrays=(Array("badges", np.int16), Array("household_badges", np.float32, over="households", fill=0.5)),
    metrics=(
        Metric(
            "badges_awarded", "flow", True, "Badges awarded", "Badges given to listed citizens.", "badges", counted=True
        ),
        Metric("badge_holders", "stock", True, "Badge holders", "Listed citizens holding a badge.", "citizens"),
    ),
    act=count_listed,
    read={"badge_holders": lambda state: state.blacklist.size},
)


def test_a_new_effect_is_one_declaration_and_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering BADGE (the one line of the registry) gives it its columns, counter, summary
    figures, arrays, audit context and severity, and memory bytes, with no other edit."""
    params = scslab.load_scenario("beijing-2020").with_overrides(SMALL).params
    bytes_before = memory.effect_bytes(params.population.household_size_mean)
    monkeypatch.setattr(effects, "REGISTRY", (*REGISTRY, BADGE))

    # columns: the effect's flow after the other effects' flows, its stock after their stocks
    names = metric_names(compile_params(params))
    assert names.index("badges_awarded") == names.index("promotions_blocked") + 1
    assert names.index("badge_holders") == names.index("children_restricted") + 1
    assert catalogue().get("badges_awarded") is BADGE.metrics[0]

    # the run counts it, records it and sums it: a badge a day per listed citizen
    result = scslab.simulate(scslab.load_scenario("beijing-2020").with_overrides(SMALL), seed=4)
    ts, figures = result.timeseries, result.figures
    np.testing.assert_array_equal(ts["badges_awarded"], ts["blacklisted"])
    np.testing.assert_array_equal(ts["badge_holders"], ts["blacklisted"])
    assert ts["blacklisted"].sum() > 0
    assert figures["badges_awarded"] == ts["blacklisted"].sum()
    assert figures["badge_holders"] == ts["blacklisted"].iloc[-1]
    assert result.summary["scaled"]["badges_awarded"] == figures["badges_awarded"] * result.summary["scale"]

    # the state allocates its arrays as declared: a badge a listed citizen a day, kept per citizen
    kept = result.state.kept.arrays
    assert kept["badges"].dtype == np.int16 and kept["badges"].shape == (result.state.n,)
    assert kept["badges"].sum() == ts["blacklisted"].sum()
    assert kept["household_badges"].dtype == np.float32
    assert kept["household_badges"].shape == (result.state.pop.n_households,)
    assert np.all(kept["household_badges"] == 0.5)

    # the audit's context and severity, and the memory estimate's bytes
    assert sanction_context("badge") == "test context"
    assert severity("badge", 0.5) == ("severe", "a test badge of size 0.5")
    after = memory.effect_bytes(params.population.household_size_mean)
    assert after - bytes_before == pytest.approx(2 + 4 / params.population.household_size_mean)  # int16, float32


def test_the_registered_effects_keep_the_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """An effect that acts but draws nothing and touches no state leaves every other column as it was."""
    scenario = scslab.load_scenario("beijing-2020").with_overrides(SMALL)
    before = scslab.simulate(scenario, seed=4).timeseries
    monkeypatch.setattr(effects, "REGISTRY", (*REGISTRY, BADGE))
    after = scslab.simulate(scenario, seed=4).timeseries
    assert after.drop(columns=["badges_awarded", "badge_holders"]).equals(before)
