"""Threshold calibration finds the crossing point of a monotone, common-random-number metric."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from trialsim.api import run
from trialsim.calibrate import Calibration, calibrate, with_threshold, write_calibrated
from trialsim.scenario import load_scenario

from .conftest import SCENARIOS


def test_calibrated_threshold_is_the_smallest_meeting_the_target():
    scenario = load_scenario(SCENARIOS / "validation" / "adaptr_overview_null.yaml")
    c = calibrate(scenario, "adaptr_vignette", "no_effect", target=0.05, n_trials=300, seed=1, lower=0.95, upper=0.9999,
                  tolerance=1e-4)
    assert c.estimate <= 0.05
    assert abs(c.inferiority - (1 - c.threshold)) < 1e-12
    below = with_threshold(scenario, "adaptr_vignette", c.threshold - 1e-4, symmetric=True)
    looser = run(below, n_trials=300, seed=1).oc.set_index("metric").loc["prob_superior", "estimate"]
    assert looser > 0.05
    assert c.scenario.designs["adaptr_vignette"].decisions.superiority == c.threshold


def test_write_keeps_comments_and_layout_and_rounds_up(tmp_path):
    source = SCENARIOS / "validation" / "adaptr_overview_null.yaml"
    scenario = load_scenario(source)
    found = Calibration(threshold=0.9836464196777344, inferiority=1 - 0.9836464196777344, estimate=0.0495, mcse=0.0049,
                        evaluations=12, scenario=scenario, tolerance=1e-5)
    dest = tmp_path / "calibrated.yaml"
    written = write_calibrated(source, dest, "adaptr_vignette", "no_effect", "prob_superior", 0.05, found, 2000, 1)
    assert written == 0.98365  # rounded up: the metric cannot rise above the target
    old, new = source.read_text().splitlines(), dest.read_text().splitlines()
    changed = [(a, b) for a, b in zip(old, new) if a != b]
    assert len(old) == len(new) and len(changed) == 2, changed  # every comment and every other line kept
    (_, superiority), (_, inferiority) = changed
    assert superiority.strip().startswith("superiority: 0.98365  # calibrated ")
    assert "prob_superior 0.0495 (MCSE 0.0049) <= 0.05 under 'no_effect', 2000 trials, seed 1" in superiority
    assert inferiority.strip() == "inferiority: 0.01635"
    decisions = load_scenario(dest).designs["adaptr_vignette"].decisions
    assert (decisions.superiority, decisions.inferiority) == (0.98365, 0.01635)
    expected = with_threshold(scenario, "adaptr_vignette", 0.98365, symmetric=True).model_dump(mode="json")
    expected["designs"]["adaptr_vignette"]["decisions"]["inferiority"] = 0.01635  # not 0.01635000000000002
    assert load_scenario(dest).model_dump(mode="json") == expected  # nothing else changed


def test_calibration_hits_a_known_answer_within_mcse():
    # one look, two arms, flat priors: Pr(superiority) under equal means is 1 - threshold (Welch's t-test)
    scenario = load_scenario(SCENARIOS / "validation" / "continuous_two_arm.yaml")
    c = calibrate(scenario, "single_look", "no_difference", target=0.05, n_trials=1000, seed=3, lower=0.9,
                  upper=0.999, tolerance=1e-3)
    assert c.estimate <= 0.05
    # the threshold's error in Pr(superiority) is the simulated metric's: within 2.5 MCSE (+ the search's width)
    assert abs((1 - c.threshold) - 0.05) < 2.5 * c.mcse + 1e-3
    assert set(c.others) == {"difference"} and c.others["difference"][0] > 0.5  # the power this leaves


def test_obrien_fleming_like_thresholds_are_stricter_early():
    scenario = load_scenario(SCENARIOS / "clbp_sham_multiarm.yaml")
    shaped = with_threshold(scenario, "adaptive", 0.99, symmetric=True, shape="obf").designs["adaptive"].decisions
    values = shaped.superiority  # looks at 200, 300, 400, 500 patients
    assert values[-1] == pytest.approx(0.99) and all(a > b for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(norm.cdf(norm.ppf(0.99) * np.sqrt(500 / 200)))
