"""Latent pain over visits and entry on a measured score.

Latent log pain of patient i at week t:

    eta_it = trait_i + occasion_it
    trait_i ~ N(log_mean, trait_sd^2)               stable between-patient level
    occasion_it: stationary AR(1) in calendar time,  SD occasion_sd and
                 correlation occasion_rho12 ** (|t - s| / 12) between weeks t and s
    measured_it = measure(eta_it + arm effects + e_it),  e_it ~ N(0, error_sd^2) iid

Candidates are drawn from the referral population and enter when their
measured screening and baseline scores meet the threshold (NRS >= 6). Because
entry selects on scores that carry transient occasion deviations and
measurement error, later scores regress towards the population mean: regression
to the mean emerges from selection and is not added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .scale import entry_threshold_latent


@dataclass(frozen=True)
class PainModel:
    """Parameters of latent pain in the referral population (log NRS scale).

    Defaults reproduce, among entered patients, a baseline NRS of mean ~7.6 and
    SD ~1.3 (SCS RCTs 7.5-8.4; MINT SD 1.3-1.6), a measurement error of ~0.7
    NRS points (minimal detectable change 2 points, Childs 2005) and, on an
    implanted sham, a baseline-12-week correlation of 0.45 and an SD of change
    of ~2.4 (2.0-2.7, pooled); see docs/references.md for the derivation.
    """

    log_mean: float = 1.86  # log NRS; exp = 6.4, the referral population's median
    trait_sd: float = 0.26
    occasion_sd: float = 0.20
    occasion_rho12: float = 0.5  # correlation of occasion deviations 12 weeks apart (assumption)
    error_sd: float = 0.11  # measurement error: SEM 0.72 NRS points at ~6.5 (Childs 2005)
    threshold: float = 6.0  # entry: measured NRS >= threshold
    entry_on: Literal["screening", "baseline", "both"] = "both"
    screening_week: float = -2.0
    integer: bool = True  # integer NRS; False: continuous 0-10


@dataclass(frozen=True)
class LatentPain:
    """Entered patients' latent pain. Shapes (n,) and (n, times)."""

    weeks: np.ndarray  # (times,) screening, baseline (0), then the visits
    trait: np.ndarray  # (n,)
    eta: np.ndarray  # (n, times) trait + occasion, without treatment effects
    error: np.ndarray  # (n, times) measurement error on the latent scale
    candidates: int  # candidates screened to enter n patients

    @property
    def measured_latent(self) -> np.ndarray:
        return self.eta + self.error


def _ar1_steps(weeks: np.ndarray, rho12: float) -> np.ndarray:
    return rho12 ** (np.diff(weeks) / 12.0)


def _continue_ar1(first: np.ndarray, steps: np.ndarray, sd: float, z: np.ndarray) -> np.ndarray:
    """Stationary AR(1) path from `first` with step correlations `steps`; z (n, len(steps))."""
    out = np.empty((first.shape[0], len(steps) + 1))
    out[:, 0] = first
    for j, r in enumerate(steps):
        out[:, j + 1] = r * out[:, j] + sd * np.sqrt(1.0 - r * r) * z[:, j]
    return out


def _entered(model: PainModel, measured_latent: np.ndarray) -> np.ndarray:
    cut = entry_threshold_latent(model.threshold, model.integer)
    screening_ok, baseline_ok = measured_latent[:, 0] >= cut, measured_latent[:, 1] >= cut
    return {"screening": screening_ok, "baseline": baseline_ok, "both": screening_ok & baseline_ok}[model.entry_on]


def draw_latent_pain(model: PainModel, visit_weeks: np.ndarray, n: int, rng: np.random.Generator) -> LatentPain:
    """n entered patients: candidates in batches until n meet the entry rule."""
    visit_weeks = np.asarray(visit_weeks, dtype=float)
    weeks = np.concatenate([[model.screening_week, 0.0], visit_weeks])
    if np.any(np.diff(weeks) <= 0):
        raise ValueError(f"visit weeks must be positive and increasing, got {visit_weeks.tolist()}")
    steps = _ar1_steps(weeks, model.occasion_rho12)
    kept: list[np.ndarray] = []
    have, candidates, rate = 0, 0, 0.5
    while have < n:
        batch = int(1.2 * (n - have) / rate) + 64
        z = rng.standard_normal((batch, 5))  # trait, occasion x2, error x2: screening and baseline
        trait = model.log_mean + model.trait_sd * z[:, 0]
        occasion = _continue_ar1(model.occasion_sd * z[:, 1], steps[:1], model.occasion_sd, z[:, 2:3])
        error = model.error_sd * z[:, 3:5]
        ok = _entered(model, trait[:, None] + occasion + error)
        rate = max(ok.mean(), 0.01)
        take = np.flatnonzero(ok)[: n - have]
        candidates += int(take[-1]) + 1 if have + len(take) == n else batch
        kept.append(np.column_stack([trait, occasion, error])[take])
        have += len(take)
    first = np.concatenate(kept)
    trait, occasion0, error0 = first[:, 0], first[:, 1:3], first[:, 3:5]
    n_visits = len(visit_weeks)
    z = rng.standard_normal((n, 2 * n_visits))
    occasion = _continue_ar1(occasion0[:, 1], steps[1:], model.occasion_sd, z[:, :n_visits])
    error = np.column_stack([error0, model.error_sd * z[:, n_visits:]])
    eta = trait[:, None] + np.column_stack([occasion0[:, :1], occasion])
    return LatentPain(weeks=weeks, trait=trait, eta=eta, error=error, candidates=candidates)
