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


GRID = 16385  # points of the tables of the screening level (density grid and quantile table)


@dataclass(frozen=True)
class ScreeningSampler:
    """Candidates who pass screening, drawn directly instead of by rejection.

    Screening depends on the candidate's level X = trait + fluctuation at screening
    (normal) and the measurement error e: it passes when log(10 expit X) + e >=
    log(cut). So X | passed has density proportional to phi(X) P(e >= ... | X),
    tabulated once and inverted by interpolation; e | X, passed is a truncated
    normal; trait | X is the normal regression of the trait on X."""

    quantiles: np.ndarray  # X at P(X <= x | passed) = 0, 1/M, ..., 1 (an equally spaced table: O(1) lookups)
    pass_rate: float  # P(passed): candidates screened per passing one = 1 / pass_rate

    def level(self, u: np.ndarray) -> np.ndarray:
        """X | passed at probabilities u, by linear interpolation in the quantile table."""
        m = len(self.quantiles) - 1
        pos = u * m
        i = np.minimum(pos.astype(np.int64), m - 1)
        return self.quantiles[i] + (pos - i) * (self.quantiles[i + 1] - self.quantiles[i])


@functools.lru_cache(maxsize=64)
def screening_sampler(model: PainModel) -> ScreeningSampler:
    from ..ufuncs import special

    sd_x = float(np.hypot(model.trait_sd, model.occasion_sd))
    grid = model.logit_mean + sd_x * np.linspace(-9.0, 9.0, GRID)
    log_cut = np.log(model.threshold - 0.5 if model.integer else model.threshold)
    p_pass = special.ndtr((np.log(10.0) + special.log_expit(grid) - log_cut) / max(model.error_sd, 1e-12))
    density = np.exp(-0.5 * ((grid - model.logit_mean) / sd_x) ** 2) / (sd_x * np.sqrt(2 * np.pi)) * p_pass
    mass = np.concatenate([[0.0], np.cumsum(np.diff(grid) * (density[1:] + density[:-1]) / 2)])
    quantiles = np.interp(np.linspace(0.0, 1.0, GRID), mass / mass[-1], grid)
    return ScreeningSampler(quantiles=quantiles, pass_rate=float(mass[-1]))


def _screened_candidates(model: PainModel, z: np.ndarray, z_trait: np.ndarray) -> tuple[np.ndarray, ...]:
    """(trait, fluctuation, error) at screening of candidates who pass it, from two normal columns."""
    from ..ufuncs import special

    sampler = screening_sampler(model)
    x = sampler.level(special.ndtr(z[:, 0]))
    # error beyond what this level needs to reach the cut, by inverse CDF of the truncated normal
    sd_e = max(model.error_sd, 1e-12)
    need = (np.log(model.threshold - 0.5 if model.integer else model.threshold) - np.log(10.0) - special.log_expit(x)) / sd_e
    lower = special.ndtr(need)
    error = sd_e * special.ndtri(np.minimum(lower + special.ndtr(z[:, 1]) * (1 - lower), 1 - 1e-16))
    var_x = model.trait_sd ** 2 + model.occasion_sd ** 2
    trait = (model.logit_mean + model.trait_sd ** 2 / var_x * (x - model.logit_mean)
             + model.trait_sd * model.occasion_sd / np.sqrt(var_x) * z_trait)
    return trait, x - trait, error


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
    candidates (column block a for candidate a) whose measured scores meet the entry rule;
    candidates are drawn among those who pass screening (ScreeningSampler), so only the
    baseline score can still turn one away."""
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
    cut = model.threshold - 0.5 if model.integer else model.threshold
    r0 = steps[0]
    screen_first = model.entry_on != "baseline"
    for attempt in range(MAX_ATTEMPTS):
        if waiting.size == 0:
            break
        tries[waiting] += 1
        base = ATTEMPTS_BASE + ATTEMPT_COLUMNS * attempt
        z = draws.normal_quad(base, waiting)  # screening level, screening error, trait, baseline fluctuation
        if screen_first:  # drawn among those who pass screening: only the baseline can still fail
            trait, occ_s, err_s = _screened_candidates(model, z[:, :2], z[:, 2])
        else:
            trait = model.logit_mean + model.trait_sd * z[:, 0]
            occ_s, err_s = model.occasion_sd * z[:, 1], model.error_sd * z[:, 2]
        occ_b = r0 * occ_s + model.occasion_sd * np.sqrt(1 - r0 * r0) * z[:, 3]
        err_b = model.error_sd * draws.normal(base + 1, waiting)
        entered = measure(true_pain(trait + occ_b), err_b, integer=False) >= cut
        if model.entry_on == "screening":
            entered[:] = True
        first[waiting[entered]] = np.column_stack([trait, occ_s, occ_b, err_s, err_b])[entered]
        waiting = waiting[~entered]
    if waiting.size:
        raise ValueError(f"{waiting.size} patients found no candidate meeting the entry rule in {MAX_ATTEMPTS} tries")
    trait, occasion0, error0 = first[:, 0], first[:, 1:3], first[:, 3:5]
    n_visits = len(visit_weeks)
    quads = [draws.normal_quad(VISIT_BASE + j) for j in range((n_visits + 1) // 2)]  # two visits per column
    z = np.concatenate(quads, axis=1).reshape(n, -1, 2)[:, :n_visits] if quads else np.empty((n, 0, 2))
    occasion = _continue_ar1(occasion0[:, 1], steps[1:], model.occasion_sd, z[..., 0])
    error = np.column_stack([error0, model.error_sd * z[..., 1]])
    eta = trait[:, None] + np.column_stack([occasion0[:, :1], occasion])
    # candidates failing screening were never drawn: count them (expected number per passing one)
    screened = tries.sum() / (screening_sampler(model).pass_rate if screen_first else 1.0)
    return LatentPain(weeks=weeks, trait=trait, eta=eta, error=error, candidates=int(round(screened)))
