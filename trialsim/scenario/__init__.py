"""Scenario files: schema, validation and loading."""

from .load import Problem, ScenarioError, load_scenario, parse_scenario, scenario_hash, scenario_json
from .schema import Design, Scenario, Truth

__all__ = ["Design", "Problem", "Scenario", "ScenarioError", "Truth", "load_scenario", "parse_scenario", "scenario_hash", "scenario_json"]
