"""The baseline of a run: the same scenario and seed with no surveillance (every source's coverage at 0)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scslab.results import DayCallback, simulate
from scslab.scenario import Scenario


def baseline_scenario(scenario: Scenario) -> Scenario:
    """The same scenario with no surveillance: every source's coverage and coverage_end at 0."""
    overrides: dict[str, Any] = {}
    for source in scenario.params.sources:
        overrides[f"sources.{source}.coverage"] = 0.0
        overrides[f"sources.{source}.coverage_end"] = 0.0
    return scenario.with_overrides(overrides)


def simulate_baseline(scenario: Scenario, seed: int, on_day: DayCallback | None = None) -> pd.DataFrame:
    """The daily table of the scenario without surveillance, with the same seed (`on_day` as for `simulate`)."""
    return simulate(baseline_scenario(scenario), seed, on_day).timeseries
