"""Threshold calibration finds the crossing point of a monotone, common-random-number metric."""

from __future__ import annotations

from trialsim.api import run
from trialsim.calibrate import calibrate, with_threshold
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
