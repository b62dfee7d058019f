"""Shared fixtures: small scenarios built in code from the bundled files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import settings

# Property tests explore the same examples on every run: CI results do not depend on luck
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile("ci")

from trialsim.scenario import Scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def clbp() -> Scenario:
    return load_scenario(SCENARIOS / "clbp_sham_multiarm.yaml")


def scenario_dict(name: str = "clbp_sham_multiarm.yaml") -> dict:
    return yaml.safe_load((SCENARIOS / name).read_text())


def subset(data: dict, truths: list[str] | None = None, designs: list[str] | None = None) -> Scenario:
    """A bundled scenario restricted to some truths and designs."""
    data = dict(data)
    if truths:
        data["truths"] = {k: v for k, v in data["truths"].items() if k in truths}
    if designs:
        data["designs"] = {k: v for k, v in data["designs"].items() if k in designs}
    data["targets"] = {k: t for k, t in (data.get("targets") or {}).items() if _applies(t, data)}
    return parse_scenario(data)


def _applies(target: dict, data: dict) -> bool:
    """A target whose truths and designs are all still in the scenario."""
    truths = [target["truth"]] if isinstance(target["truth"], str) else target["truth"]
    return set(truths) <= set(data["truths"]) and set(target.get("designs") or []) <= set(data["designs"])
