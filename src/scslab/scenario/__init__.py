"""Scenarios: TOML files and presets turned into validated parameters (docs/model.md, appendix)."""

from scslab.scenario.loader import Scenario, example_text, list_presets, load_scenario, parse_set_option
from scslab.scenario.schema import ScenarioParams

__all__ = ["Scenario", "ScenarioParams", "example_text", "list_presets", "load_scenario", "parse_set_option"]
