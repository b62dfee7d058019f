"""The generic continuous endpoint against the analytic answer of a one-look two-arm design."""

from __future__ import annotations

import numpy as np
from scipy import stats

from trialsim.api import run

from .conftest import SCENARIOS

N_PER_ARM, DELTA_SD = 200, 0.3


def test_one_look_two_arm_design_matches_the_t_test():
    result = run(SCENARIOS / "validation" / "continuous_two_arm.yaml", n_trials=4000)
    oc = result.oc.set_index(["truth", "metric"])
    df = 2 * N_PER_ARM - 2
    critical = stats.t.ppf(0.975, df)
    expected = {"no_difference": 0.025,
                "difference": 1 - stats.nct.cdf(critical, df, DELTA_SD / np.sqrt(2 / N_PER_ARM))}
    for truth, value in expected.items():
        est, se = oc.loc[(truth, "prob_effective_treatment"), ["estimate", "mcse"]]
        assert abs(est - value) < 3 * np.sqrt(value * (1 - value) / 4000), (truth, est, value, se)
    # the truth is on the endpoint's own scale; lower is better, so the treatment is the best arm
    truth = result.trials["true_value"].sel(truth="difference")
    np.testing.assert_allclose(truth.values, [10.0, 9.4])
    bias, bias_se = oc.loc[("difference", "bias_treatment"), ["estimate", "mcse"]]
    assert abs(bias) < 4 * bias_se
    assert oc.loc[("difference", "idp"), "estimate"] == 100.0  # only the treatment is ever selected
