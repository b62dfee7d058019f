"""The screening trial before implantation: analysis populations and imperfect prediction."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.api import run
from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.scenario import ScenarioError, parse_scenario

from .conftest import scenario_dict

POPULATIONS = ["itt_observed", "itt_nonresponder", "implanted_only", "practice_itt_nonresponder",
               "practice_implanted_only"]


def _screening(truths: list[str], designs: list[str]) -> dict:
    data = scenario_dict("clbp_screening.yaml")
    data["truths"] = {k: v for k, v in data["truths"].items() if k in truths}
    data["designs"] = {k: v for k, v in data["designs"].items() if k in designs}
    return data


def test_every_analysis_population_keeps_its_nominal_error_under_perfect_blinding_and_equal_effects():
    # sham patients go through the same screening procedure, so leaving screen failures out or
    # imputing them leaves both arms alike: one-sided 2.5% within 4 Monte Carlo SEs
    n = 400
    oc = run(parse_scenario(_screening(["no_effect"], POPULATIONS)), n_trials=n, seed=21).oc
    est = oc.set_index(["design", "metric"])["estimate"]
    tol = 4 * np.sqrt(0.025 * 0.975 / n) + 0.005
    for design in POPULATIONS:
        arm = "scs_practice" if design.startswith("practice") else "scs"
        assert abs(est[design, f"prob_effective_{arm}"] - 0.025) < tol, design


def test_passing_the_screen_tracks_nonspecific_responsiveness_only_as_far_as_the_correlation_says():
    data = _screening(["no_effect"], ["itt_observed"])
    plan = compile_scenario(parse_scenario(data))
    cohort = Cohort(plan.cohort, 4, np.arange(40))
    cohort.reach(np.arange(40), np.full(40, 100))
    model = plan.truths["no_effect"].model
    rows, patients = np.meshgrid(np.arange(40), np.arange(100), indexing="ij")
    arm = np.full(rows.shape, 3)  # scs_practice: pass rate 0.55
    passed = cohort.passed_screening(model, rows, patients, arm)
    z = cohort.z_nonspecific[rows, patients]
    assert abs(passed.mean() - 0.55) < 4 * np.sqrt(0.55 * 0.45 / passed.size)
    assert z[passed].mean() < z[~passed].mean()  # more responsive patients (z < 0) pass more often
    # the point-biserial correlation of a probit selection with latent correlation 0.3 is far below 1
    r = np.corrcoef(passed.ravel(), -z.ravel())[0, 1]
    assert 0.1 < r < 0.35


def test_screen_failure_rules_need_the_visit_model():
    data = _screening(["no_effect"], ["implanted_only"])
    del data["patients"]
    with pytest.raises(ScenarioError, match="screen_failures"):
        parse_scenario(data)
