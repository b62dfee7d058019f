"""Monte Carlo standard errors of summary statistics agree with replication."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.summarise.oc import sd


@pytest.mark.parametrize("shape", ["normal", "spike at the maximum"])
def test_sd_mcse_matches_the_spread_over_replicates(shape):
    rng = np.random.default_rng(0)

    def sample() -> np.ndarray:  # sample sizes of adaptive trials pile up at the maximum
        if shape == "normal":
            return rng.normal(size=1000)
        return np.where(rng.random(1000) < 0.8, 500.0, rng.integers(100, 500, 1000))

    reps = [sample() for _ in range(1000)]
    spread = np.std([np.std(r, ddof=1) for r in reps], ddof=1)
    formula = np.mean([sd(r)[1] for r in reps])
    # the spread of 1000 replicate SDs is itself known to about 1/sqrt(2 * 999) = 2.2%
    assert abs(formula / spread - 1) < 4 * np.sqrt(1 / (2 * 999))
