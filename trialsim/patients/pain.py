"""Latent pain over visits and entry on a measured score.

Latent pain of patient i at week t, on the logit scale of true pain / 10:

    eta_it = trait_i + occasion_it
    trait_i ~ N(logit_mean, trait_sd^2)              stable between-patient level
    occasion_it: stationary AR(1) in calendar time,  SD occasion_sd and
                 correlation occasion_rho12 ** (|t - s| / 12) between weeks t and s
    measured_it = measure(apply_shift(10 expit(eta_it), arm effects), e_it),
                 e_it ~ N(0, error_sd^2) iid on the log scale (scale.py)

Candidates are drawn from the referral population and enter when their
measured screening and baseline scores meet the threshold (NRS >= 6): each
entered patient is the first of its own sequence of candidates to do so. Because
entry selects on scores that carry transient occasion deviations and
measurement error, later scores regress towards the population mean: regression
to the mean emerges from selection and is not added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .draws import ATTEMPT_COLUMNS, ATTEMPTS_BASE, MAX_ATTEMPTS, MAX_VISITS, VISIT_BASE, Draws
from .scale import measure, meets_threshold, true_pain


@dataclass(frozen=True)
class PainModel:
    """Parameters of latent pain in the referral population (logit scale of pain / 10).

    Solved (calibrate.py) so that entered patients have a baseline NRS of mean
    7.6 and SD 1.4 (SCS RCTs 7.5-8.4; MINT SD 1.3-1.6) and, on an implanted sham,
    a mean change of -2.2 and a baseline-12-week correlation of 0.45, given a
    measurement error of ~0.7 NRS points (minimal detectable change 2 points,
    Childs 2005) and the fluctuation below; see docs/references.md.
    """

    logit_mean: float = -0.523  # referral population's median true pain: 10 expit(-0.52) = 3.7
    trait_sd: float = 1.4785
    occasion_sd: float = 0.2  # fluctuation of the level (assumption)
    occasion_rho12: float = 0.5  # correlation of fluctuations 12 weeks apart (assumption)
    error_sd: float = 0.11  # log scale: SEM 0.72 NRS points at ~6.5 (Childs 2005)
    threshold: float = 6.0  # entry: measured NRS >= threshold
    entry_on: Literal["screening", "baseline", "both"] = "both"
    screening_week: float = -2.0
    integer: bool = True  # integer NRS; False: continuous 0-10


@dataclass(frozen=True)
class LatentPain:
    """Entered patients' latent pain. Shapes (n,) and (n, times)."""

    weeks: np.ndarray  # (times,) screening, baseline (0), then the visits
    trait: np.ndarray  # (n,)
    eta: np.ndarray  # (n, times) trait + occasion (logit scale), without treatment effects
    error: np.ndarray  # (n, times) measurement error (log scale)
    candidates: int  # candidates screened to enter n patients

    @property
    def pain(self) -> np.ndarray:
        """True pain without treatment effects (n, times)."""
        return true_pain(self.eta)


def _ar1_steps(weeks: np.ndarray, rho12: float) -> np.ndarray:
    return rho12 ** (np.diff(weeks) / 12.0)


def _continue_ar1(first: np.ndarray, steps: np.ndarray, sd: float, z: np.ndarray) -> np.ndarray:
    """Stationary AR(1) path from `first` with step correlations `steps`; z (n, len(steps))."""
    out = np.empty((first.shape[0], len(steps) + 1))
    out[:, 0] = first
    for j, r in enumerate(steps):
        out[:, j + 1] = r * out[:, j] + sd * np.sqrt(1.0 - r * r) * z[:, j]
    return out


def _entered(model: PainModel, eta: np.ndarray, error: np.ndarray) -> np.ndarray:
    score = measure(true_pain(eta), error, integer=False)
    screening_ok, baseline_ok = (meets_threshold(score[:, j], model.threshold, model.integer) for j in (0, 1))
    return {"screening": screening_ok, "baseline": baseline_ok, "both": screening_ok & baseline_ok}[model.entry_on]


def draw_latent_pain(model: PainModel, visit_weeks: np.ndarray, draws: Draws) -> LatentPain:
    """draws.n entered patients. Each patient is the first of its own sequence of
    candidates (column block a for candidate a) whose measured scores meet the entry rule."""
    visit_weeks = np.asarray(visit_weeks, dtype=float)
    weeks = np.concatenate([[model.screening_week, 0.0], visit_weeks])
    if np.any(np.diff(weeks) <= 0):
        raise ValueError(f"visit weeks must be positive and increasing, got {visit_weeks.tolist()}")
    if len(visit_weeks) > MAX_VISITS:
        raise ValueError(f"at most {MAX_VISITS} visits")
    steps = _ar1_steps(weeks, model.occasion_rho12)
    n = draws.n
    first = np.empty((n, 5))  # trait, occasion x2, error x2 of the entered candidate
    tries = np.zeros(n, dtype=np.int64)
    waiting = np.arange(n)
    for attempt in range(MAX_ATTEMPTS):
        if waiting.size == 0:
            break
        z = np.column_stack([draws.normal(ATTEMPTS_BASE + ATTEMPT_COLUMNS * attempt + c, waiting) for c in range(5)])
        trait = model.logit_mean + model.trait_sd * z[:, 0]
        occasion = _continue_ar1(model.occasion_sd * z[:, 1], steps[:1], model.occasion_sd, z[:, 2:3])
        error = model.error_sd * z[:, 3:5]
        ok = _entered(model, trait[:, None] + occasion, error)
        tries[waiting] += 1
        first[waiting[ok]] = np.column_stack([trait, occasion, error])[ok]
        waiting = waiting[~ok]
    if waiting.size:
        raise ValueError(f"{waiting.size} patients found no candidate meeting the entry rule in {MAX_ATTEMPTS} tries")
    trait, occasion0, error0 = first[:, 0], first[:, 1:3], first[:, 3:5]
    n_visits = len(visit_weeks)
    z_occ = np.column_stack([draws.normal(VISIT_BASE + 2 * j) for j in range(n_visits)]).reshape(n, n_visits)
    z_err = np.column_stack([draws.normal(VISIT_BASE + 2 * j + 1) for j in range(n_visits)]).reshape(n, n_visits)
    occasion = _continue_ar1(occasion0[:, 1], steps[1:], model.occasion_sd, z_occ)
    error = np.column_stack([error0, model.error_sd * z_err])
    eta = trait[:, None] + np.column_stack([occasion0[:, :1], occasion])
    return LatentPain(weeks=weeks, trait=trait, eta=eta, error=error, candidates=int(tries.sum()))
