"""Scenario validation: every problem at once, with its path and a fix."""

from __future__ import annotations

import copy

import pytest

from trialsim.scenario import ScenarioError, parse_scenario

from .conftest import scenario_dict


def problems(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    return [str(p) for p in err.value.problems]


def test_bundled_scenarios_are_valid(clbp):
    assert clbp.arm_names == ["sham", "scs", "dbs", "rtms", "exercise"]
    assert set(clbp.truths) == {"no_effect", "sham_anchored", "optimistic", "industry"}


def test_unknown_key_gets_closest_name():
    data = scenario_dict()
    data["arms"][2]["screening_pas"] = 0.8
    (msg,) = problems(data)
    assert msg.startswith("arms[2].screening_pas: unknown key") and "did you mean 'screening_pass'" in msg


def test_every_problem_reported_at_once_with_paths():
    data = scenario_dict()
    data["arms"][1]["screening_pass"] = 1.4
    data["population"]["phenotypes"]["nociceptive"]["prevalence"] = 0.5
    data["designs"]["adaptive"]["looks"]["at_patients"] = [300, 200]
    found = problems(data)
    assert any(m.startswith("arms[1].screening_pass:") and "less than or equal to 1" in m for m in found)
    assert any(m.startswith("population.phenotypes:") and "sum to 1.25" in m for m in found)
    assert any(m.startswith("designs.adaptive.looks:") and "increase" in m for m in found)
    assert len(found) == 3


def test_cross_references_are_checked():
    data = scenario_dict()
    data["designs"]["fixed_equal"]["control"] = "shm"
    data["truths"]["optimistic"]["arms"]["dbs_x"] = data["truths"]["optimistic"]["arms"].pop("dbs")
    data["truths"]["sham_anchored"]["arms"]["scs"]["specific"]["neuropatic"] = -1.0
    found = problems(data)
    assert "designs.fixed_equal.control: unknown arm 'shm' (did you mean 'sham'?)" in found
    assert any(m.startswith("truths.optimistic.arms.dbs_x: unknown arm") for m in found)
    assert any(m.startswith("truths.optimistic.arms: arm 'dbs' has no truth") for m in found)
    assert any("neuropatic" in m and "did you mean 'neuropathic'" in m for m in found)


def test_wrong_types_and_literals():
    data = scenario_dict()
    data["logistics"]["dropout"] = "ten percent"
    data["arms"][0]["kind"] = "placebo"
    found = problems(data)
    assert any(m.startswith("logistics.dropout:") and "valid number" in m for m in found)
    assert any(m.startswith("arms[0].kind: must be one of") for m in found)


def test_per_look_thresholds_must_match_looks():
    data = scenario_dict()
    data["designs"]["adaptive"]["decisions"]["superiority"] = [0.99, 0.99]
    assert problems(data) == ["designs.adaptive.decisions.superiority: 2 thresholds for 4 looks; "
                              "give one per look or a single value"]


def test_yaml_null_and_number_names_are_explained():
    data = copy.deepcopy(scenario_dict())
    data["truths"][None] = data["truths"].pop("no_effect")
    data["designs"][12] = data["designs"].pop("adaptive")
    found = problems(data)
    assert found == ["truths.null: a name is empty (YAML reads a bare null or ~ as no value); give a name such as 'no_effect'",
                     'designs.12: the name 12 is read by YAML as a number, not text; put it in quotes ("12":)']


def test_block_size_must_hold_the_ratio():
    data = scenario_dict()
    data["designs"]["fixed_equal"]["allocation"]["block_size"] = 7
    (msg,) = problems(data)
    assert msg.startswith("designs.fixed_equal.allocation.block_size:") and "whole patients" in msg
