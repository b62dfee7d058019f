"""Fixed allocation under the null: per-arm type I error and family-wise error agree with theory.

Tolerances are 3 Monte Carlo standard errors of the simulated proportion
around the analytic value.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from trialsim.api import run

from .conftest import scenario_dict, subset

N_TRIALS = 20_000


def test_per_arm_type_one_error_and_fwer_under_the_null():
    scenario = subset(scenario_dict(), truths=["no_effect"], designs=["fixed_equal"])
    oc = run(scenario, n_trials=N_TRIALS, seed=2025).oc.set_index("metric")
    se = np.sqrt(0.025 * 0.975 / N_TRIALS)
    for arm in ("scs", "dbs", "rtms", "exercise"):
        est = oc.loc[f"prob_effective_{arm}", "estimate"]
        assert abs(est - 0.025) < 3 * se, (arm, est)
    # Four comparisons with a shared control: z statistics equicorrelated with rho = 1/2 (Dunnett)
    z = stats.norm.ppf(0.975)
    fwer = 1 - stats.multivariate_normal(mean=np.zeros(4), cov=np.full((4, 4), 0.5) + 0.5 * np.eye(4)).cdf(np.full(4, z))
    est = oc.loc["prob_any_effective", "estimate"]
    assert abs(est - fwer) < 3 * np.sqrt(fwer * (1 - fwer) / N_TRIALS), (est, fwer)
