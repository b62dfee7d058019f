"""Derivation of the default pain model from published figures (run once, by hand).

    PYTHONPATH=. python -m trialsim.patients.calibrate

Solves for the referral population's logit mean, the trait and occasion SDs and
the implanted sham's nonspecific shift and its between-patient SD so that the
entered patients reproduce five published figures (docs/references.md):
baseline NRS mean 7.6 and SD 1.3, and on an implanted sham at 12 weeks a mean
change of -2.2, an SD of change of 2.5 and a baseline-follow-up correlation of
0.45. The measurement error (SEM 0.72 points) and the 12-week autocorrelation
of occasion deviations (0.5) are fixed beforehand. The solution is written into
the defaults of PainModel and presets.IMPLANTED_SHAM by hand, rounded.

The SCS mixtures are solved next with the implanted sham's nonspecific part:
SENZA-RCT's responder share and responders' shift for its 84.5% >= 50%
responders and its mean back pain falling to a third of baseline (7.4 -> 2.5)
at 3 months; EVOKE's closed- and open-loop responder shares for 82.3% and
60.3% at 3 months with SENZA's responder shift, and their durability (median
time to losing the response) for 77.6% and 49.3% at 36 months.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import optimize

from .effects import ArmEffect
from . import presets
from .model import PatientModel, simulate_patients
from .pain import PainModel

TARGETS = {"baseline_mean": 7.6, "change_mean": -2.2, "corr": 0.45, "change_sd": 2.0}
# the first three are met; the SD of change is pulled towards the low end of its published range only as
# far as they allow (with a relative responder definition, a correlation of 0.45 caps it; references.md)
SCALES = {"baseline_mean": 0.01, "change_mean": 0.01, "corr": 0.001, "change_sd": 1.0}


def sham_moments(params: np.ndarray, n: int, seed: int) -> dict[str, float]:
    logit_mean, trait_sd, shift, shift_sd = params
    pain = replace(PainModel(), logit_mean=logit_mean, trait_sd=trait_sd)
    arm = ArmEffect(nonspecific=shift, nonspecific_sd=abs(shift_sd))
    p = simulate_patients(PatientModel(arms=(arm,), pain=pain, visit_weeks=(12.0,)), n, np.random.default_rng(seed))
    b, f = p.baseline_nrs, p.nrs[:, 0, 0]
    return {"baseline_mean": b.mean(), "baseline_sd": b.std(), "change_mean": (f - b).mean(),
            "change_sd": (f - b).std(), "corr": np.corrcoef(b, f)[0, 1]}


CALIBRATION_N = 60_000  # patients per evaluation (its Monte Carlo error enters the tests' tolerances)


def solve(n: int = CALIBRATION_N, seed: int = 11) -> np.ndarray:
    def residuals(x: np.ndarray) -> np.ndarray:
        m = sham_moments(x, n, seed)  # the same seed at every step: common random numbers
        return np.array([(m[k] - TARGETS[k]) / SCALES[k] for k in TARGETS])

    start = np.array([-0.3, 1.4, -0.34, 0.2])
    lower, upper = [-1.0, 0.05, -2.0, 0.0], [3.0, 3.0, 0.0, 1.5]
    return optimize.least_squares(residuals, start, bounds=(lower, upper), diff_step=0.05, xtol=1e-4).x


def device_rates(share: float, effect: float, loss: float | None, n: int, seed: int) -> tuple[float, float, float]:
    """>= 50% responder rate at 12 and 156 weeks, and mean follow-up / mean baseline at 12 weeks."""
    arm = presets.with_mixture(share, effect, loss)
    p = simulate_patients(PatientModel(arms=(arm,), visit_weeks=(12.0, 156.0)), n, np.random.default_rng(seed))
    rates = p.responder[:, 0].mean(axis=0)
    return float(rates[0]), float(rates[1]), float(p.nrs[:, 0, 0].mean() / p.baseline_nrs.mean())


def solve_senza(n: int = CALIBRATION_N, seed: int = 13) -> tuple[float, float]:
    def residuals(x: np.ndarray) -> np.ndarray:
        r12, _, ratio = device_rates(x[0], x[1], None, n, seed)
        return np.array([(r12 - 0.845) / 0.005, (ratio - 2.5 / 7.4) / 0.005])

    x = optimize.least_squares(residuals, [0.8, -1.0], bounds=([0.0, -4.0], [1.0, 0.0]), diff_step=0.02).x
    return float(x[0]), float(x[1])


def solve_evoke(rate_3: float, rate_36: float, effect: float, n: int = CALIBRATION_N, seed: int = 17) -> tuple[float, float]:
    share = optimize.brentq(lambda s: device_rates(s, effect, None, n, seed)[0] - rate_3, 0.0, 1.0, xtol=1e-4)
    loss = optimize.brentq(lambda h: device_rates(share, effect, h, n, seed)[1] - rate_36, 20.0, 1e5, xtol=1.0)
    return float(share), float(loss)


if __name__ == "__main__":
    import sys

    if "mixtures" in sys.argv:
        share, effect = solve_senza()
        print("SENZA 10 kHz: share, effect", round(share, 4), round(effect, 4), device_rates(share, effect, None, 400_000, 1))
        for name, r3, r36 in (("EVOKE closed", 0.823, 0.776), ("EVOKE open", 0.603, 0.493)):
            s3, loss = solve_evoke(r3, r36, effect)
            print(name, "share, median weeks to loss", round(s3, 4), round(loss, 1), device_rates(s3, effect, loss, 400_000, 1))
        raise SystemExit
    x = solve()
    print("logit_mean, trait_sd, sham shift, sham shift SD:", np.round(x, 4))
    print({k: round(v, 4) for k, v in sham_moments(x, 1_000_000, 12).items()})
