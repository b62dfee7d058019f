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

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .draws import ATTEMPT_COLUMNS, ATTEMPTS_BASE, MAX_ATTEMPTS, MAX_VISITS, VISIT_BASE, Draws
from .scale import measure, true_pain


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


NEGLIGIBLE = 1e-9  # share of entered patients a trait cut-off may leave out


@functools.lru_cache(maxsize=64)
def trait_floor(model: PainModel) -> float:
    """Quantile q of the trait below which candidates practically never enter.

    Entry needs a measured screening score of at least the threshold. The share of
    entered patients whose trait lies below the returned quantile is below
    NEGLIGIBLE (computed by quadrature), so candidates are drawn from the trait
    distribution above it: the same entered population at a fraction of the
    candidates. Returns the lower tail probability q (0: no cut-off)."""
    from scipy import special

    cut = np.log(model.threshold - 0.5 if model.integer else model.threshold)
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    q = np.linspace(1e-6, 0.95, 400)  # candidate cut-offs as trait quantiles
    t = model.logit_mean + model.trait_sd * special.ndtri(q)
    # P(screening passed | trait t), integrating the fluctuation; the error is normal on the log scale
    log_pain = np.log(10.0) + special.log_expit(t[:, None] + model.occasion_sd * x[None, :])
    sd = max(model.error_sd, 1e-12)
    p_pass = (special.ndtr((log_pain - cut) / sd) * w).sum(axis=1)
    # mass of entered candidates below each quantile (trapezoid in q), relative to all who pass
    below = np.concatenate([[0.0], np.cumsum(np.diff(q) * (p_pass[1:] + p_pass[:-1]) / 2)])
    z = model.logit_mean + model.trait_sd * special.ndtri(np.linspace(1e-6, 1 - 1e-6, 4001))
    total = (special.ndtr((np.log(10.0) + special.log_expit(z[:, None] + model.occasion_sd * x[None, :]) - cut) / sd)
             * w).sum(axis=1).mean()
    ok = np.flatnonzero(below <= NEGLIGIBLE * total)
    return float(q[ok[-1]]) if ok.size else 0.0


def _ar1_steps(weeks: np.ndarray, rho12: float) -> np.ndarray:
    return rho12 ** (np.diff(weeks) / 12.0)


def _continue_ar1(first: np.ndarray, steps: np.ndarray, sd: float, z: np.ndarray) -> np.ndarray:
    """Stationary AR(1) path from `first` with step correlations `steps`; z (n, len(steps))."""
    out = np.empty((first.shape[0], len(steps) + 1))
    out[:, 0] = first
    for j, r in enumerate(steps):
        out[:, j + 1] = r * out[:, j] + sd * np.sqrt(1.0 - r * r) * z[:, j]
    return out


def draw_latent_pain(model: PainModel, visit_weeks: np.ndarray, draws: Draws) -> LatentPain:
    """draws.n entered patients. Each patient is the first of its own sequence of
    candidates (column block a for candidate a) whose measured scores meet the entry rule."""
    visit_weeks = np.asarray(visit_weeks, dtype=float)
    weeks = np.concatenate([[model.screening_week, 0.0], visit_weeks])
    if np.any(np.diff(weeks) <= 0):
        raise ValueError(f"visit weeks must be positive and increasing, got {visit_weeks.tolist()}")
    if len(visit_weeks) > MAX_VISITS:
        raise ValueError(f"at most {MAX_VISITS} visits")
    from scipy import special  # imported when first needed

    steps = _ar1_steps(weeks, model.occasion_rho12)
    n = draws.n
    first = np.empty((n, 5))  # trait, occasion x2, error x2 of the entered candidate
    tries = np.zeros(n, dtype=np.int64)
    waiting = np.arange(n)
    cut = model.threshold - 0.5 if model.integer else model.threshold
    r0 = steps[0]
    floor = trait_floor(model)  # draw traits above the quantile that never enters
    for attempt in range(MAX_ATTEMPTS):
        if waiting.size == 0:
            break
        tries[waiting] += 1
        base = ATTEMPTS_BASE + ATTEMPT_COLUMNS * attempt
        # screening first: a candidate who fails it needs no baseline draws
        z = draws.normal_pair(base, waiting)
        trait = model.logit_mean + model.trait_sd * special.ndtri(floor + (1 - floor) * special.ndtr(z[:, 0]))
        occ_s = model.occasion_sd * z[:, 1]
        err_s = model.error_sd * draws.normal(base + 1, waiting)
        screened = measure(true_pain(trait + occ_s), err_s, integer=False) >= cut
        keep = np.flatnonzero(screened if model.entry_on != "baseline" else np.ones_like(screened))
        zb = draws.normal_pair(base + 2, waiting[keep])
        occ_b = r0 * occ_s[keep] + model.occasion_sd * np.sqrt(1 - r0 * r0) * zb[:, 0]
        err_b = model.error_sd * zb[:, 1]
        baseline_ok = measure(true_pain(trait[keep] + occ_b), err_b, integer=False) >= cut
        if model.entry_on == "screening":
            baseline_ok[:] = True
        enter = keep[baseline_ok]
        first[waiting[enter]] = np.column_stack([trait[enter], occ_s[enter], occ_b[baseline_ok], err_s[enter],
                                                 err_b[baseline_ok]])
        entered = np.zeros(waiting.size, dtype=bool)
        entered[enter] = True
        waiting = waiting[~entered]
    if waiting.size:
        raise ValueError(f"{waiting.size} patients found no candidate meeting the entry rule in {MAX_ATTEMPTS} tries")
    trait, occasion0, error0 = first[:, 0], first[:, 1:3], first[:, 3:5]
    n_visits = len(visit_weeks)
    z = np.stack([draws.normal_pair(VISIT_BASE + 2 * j) for j in range(n_visits)], axis=1)  # (n, visits, 2)
    occasion = _continue_ar1(occasion0[:, 1], steps[1:], model.occasion_sd, z[..., 0])
    error = np.column_stack([error0, model.error_sd * z[..., 1]])
    eta = trait[:, None] + np.column_stack([occasion0[:, :1], occasion])
    # candidates below the trait floor were never drawn: count them as screened (expected number)
    return LatentPain(weeks=weeks, trait=trait, eta=eta, error=error, candidates=int(round(tries.sum() / (1 - floor))))
