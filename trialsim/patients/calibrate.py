"""Derivation of the default pain model from published figures (run once, by hand).

    PYTHONPATH=. python -m trialsim.patients.calibrate

Solves for the referral population's log mean, the trait and occasion SDs and
the implanted sham's nonspecific shift and its between-patient SD so that the
entered patients reproduce five published figures (docs/references.md):
baseline NRS mean 7.6 and SD 1.3, and on an implanted sham at 12 weeks a mean
change of -2.2, an SD of change of 2.5 and a baseline-follow-up correlation of
0.45. The measurement error (SEM 0.72 points) and the 12-week autocorrelation
of occasion deviations (0.5) are fixed beforehand. The solution is written into
the defaults of PainModel and presets.IMPLANTED_SHAM by hand, rounded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import optimize

from .effects import ArmEffect
from .model import PatientModel, simulate_patients
from .pain import PainModel

TARGETS = {"baseline_mean": 7.6, "baseline_sd": 1.4, "change_mean": -2.2, "change_sd": 2.0, "corr": 0.45}
SCALES = {"baseline_mean": 0.1, "baseline_sd": 0.05, "change_mean": 0.1, "change_sd": 0.1, "corr": 0.01}


def sham_moments(params: np.ndarray, n: int, seed: int) -> dict[str, float]:
    log_mean, trait_sd, occasion_sd, shift, shift_sd = params
    pain = replace(PainModel(), log_mean=log_mean, trait_sd=abs(trait_sd), occasion_sd=abs(occasion_sd))
    arm = ArmEffect(nonspecific=shift, nonspecific_sd=abs(shift_sd))
    p = simulate_patients(PatientModel(arms=(arm,), pain=pain, visit_weeks=(12.0,)), n, np.random.default_rng(seed))
    b, f = p.baseline_nrs, p.nrs[:, 0, 0]
    return {"baseline_mean": b.mean(), "baseline_sd": b.std(), "change_mean": (f - b).mean(),
            "change_sd": (f - b).std(), "corr": np.corrcoef(b, f)[0, 1]}


def solve(n: int = 60_000, seed: int = 11) -> np.ndarray:
    def residuals(x: np.ndarray) -> np.ndarray:
        m = sham_moments(x, n, seed)  # the same seed at every step: common random numbers
        return np.array([(m[k] - TARGETS[k]) / SCALES[k] for k in TARGETS])

    start = np.array([1.95, 0.15, 0.12, -0.38, 0.40])
    lower, upper = [1.0, 0.01, 0.01, -2.0, 0.0], [2.3, 1.0, 1.0, 0.0, 1.5]
    return optimize.least_squares(residuals, start, bounds=(lower, upper), diff_step=0.02, xtol=1e-4).x


if __name__ == "__main__":
    x = solve()
    print("log_mean, trait_sd, occasion_sd, sham shift, sham shift SD:", np.round(x, 4))
    print({k: round(v, 4) for k, v in sham_moments(x, 1_000_000, 12).items()})
