"""Scenarios: TOML files and presets turned into validated parameters (MODEL.md, appendix)."""

from scslab.scenario.loader import Scenario, list_presets, load_scenario, parse_set_option
from scslab.scenario.schema import ScenarioParams

__all__ = ["Scenario", "ScenarioParams", "list_presets", "load_scenario", "parse_set_option"]
