"""Dropout over visits and the analysis populations it forces.

A patient on arm a leaves before visit j with probability

    logit p = logit(q_aj) + log(odds_ratio_per_point) * (pain - pain_centre)

q_aj is the arm's baseline loss spread evenly in time (constant hazard) over
the visit interval; `pain` is the last measured score before the visit (MAR:
missingness depends on observed data only) or the score at the visit itself
(MNAR: patients leave because of pain nobody records). Patients of implanted
arms also leave after an explant (constant hazard).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..ufuncs import special

Population = Literal["complete_case", "locf", "nonresponder"]


@dataclass(frozen=True)
class DropoutModel:
    loss_by_52_weeks: float | tuple[float, ...] = 0.08  # per arm; 5-10% lost by 12 months (trials)
    odds_ratio_per_point: float = 1.0  # 1: missing completely at random
    pain_centre: float = 5.0
    mechanism: Literal["mar", "mnar"] = "mar"
    explant_by_12_weeks: float | tuple[float, ...] = 0.0  # per arm; SCS ~0.5-1% within 3 months


def _per_arm(value: float | tuple[float, ...], n_arms: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (n_arms,))


def observed_visits(model: DropoutModel, visit_weeks: np.ndarray, baseline_nrs: np.ndarray, nrs: np.ndarray,
                    u_drop: np.ndarray, u_explant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each visit is observed (n, arms, visits) and the explant week (n, arms; inf if none).

    nrs (n, arms, visits) measured scores under each arm; u_drop (n, visits) and
    u_explant (n,) uniforms shared by the arms (common random numbers)."""
    n, k, v = nrs.shape
    arm = np.broadcast_to(np.arange(k), (n, k))
    logit_u, exposure = dropout_exposures(u_drop, u_explant)
    return observed_elements(model, visit_weeks, np.broadcast_to(baseline_nrs[:, None], (n, k)), nrs, arm, k,
                             np.broadcast_to(logit_u[:, None, :], (n, k, v)), np.broadcast_to(exposure[:, None], (n, k)))


def dropout_exposures(u_drop: np.ndarray, u_explant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Uniforms as what the dropout model compares: logit(u) with the leaving log-odds, and the
    explant's exponential exposure -log(u) with the hazard (arm-free: computed once per patient)."""
    return special.logit(u_drop), -np.log(u_explant)


def dropout_tables(model: DropoutModel, visit_weeks: np.ndarray, n_arms: int) -> tuple[np.ndarray, np.ndarray]:
    """(log-odds of leaving before each visit without the pain term (arms, visits), explant hazard per
    week (arms,)): the arm-level parts of `observed_elements`."""
    hazard = -np.log1p(-_per_arm(model.loss_by_52_weeks, n_arms)) / 52.0  # per week
    steps = np.diff(np.concatenate([[0.0], np.asarray(visit_weeks, dtype=float)]))
    q = -np.expm1(-hazard[:, None] * steps[None, :])  # (arms, visits)
    with np.errstate(divide="ignore"):
        logit_q = special.logit(q)
    return logit_q, -np.log1p(-_per_arm(model.explant_by_12_weeks, n_arms)) / 12.0


def observed_elements(model: DropoutModel, visit_weeks: np.ndarray, baseline_nrs: np.ndarray, nrs: np.ndarray,
                      arm: np.ndarray, n_arms: int, logit_u_drop: np.ndarray, explant_exposure: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """`observed_visits` for elements each under its own arm: nrs and logit_u_drop (..., visits), the rest (...).

    A patient leaves before visit j when logit(u_j) < the leaving log-odds (u_j < p_j). `arm` may also
    give the arm of each visit (..., visits), as in a treatment sequence (patients.sequence): each
    interval's loss and explant hazard are then those of the arm the patient is on at its end."""
    weeks = np.asarray(visit_weeks, dtype=float)
    steps = np.diff(np.concatenate([[0.0], weeks]))
    logit_q, explant_hazard = dropout_tables(model, weeks, n_arms)
    by_visit = arm.shape == nrs.shape
    log_odds = logit_q[arm, np.arange(len(weeks))] if by_visit else logit_q[arm]
    if model.odds_ratio_per_point != 1.0:
        previous = np.concatenate([baseline_nrs[..., None], nrs[..., :-1]], axis=-1)
        pain = previous if model.mechanism == "mar" else nrs
        log_odds = log_odds + np.log(model.odds_ratio_per_point) * (pain - model.pain_centre)
    leaves = logit_u_drop < log_odds
    if by_visit:  # piecewise-constant hazard: explanted once the cumulative hazard passes the exposure
        cumulative = np.cumsum(explant_hazard[arm] * steps, axis=-1)
        explanted = explant_exposure[..., None] < cumulative
        first = np.argmax(explanted, axis=-1)
        explant_week = np.where(explanted.any(axis=-1), weeks[first], np.inf)  # the first visit after it
        gone = np.logical_or.accumulate(leaves, axis=-1) | explanted
        return ~gone, explant_week
    with np.errstate(divide="ignore"):
        explant_week = explant_exposure / explant_hazard[arm]  # inf where the arm has no explants
    gone = np.logical_or.accumulate(leaves, axis=-1) | (explant_week[..., None] < weeks)
    return ~gone, explant_week


def analysed_responder(responder: np.ndarray, observed: np.ndarray, population: Population) -> np.ndarray:
    """Responder status at each visit under an analysis population; NaN = not analysed.

    responder, observed: (..., visits). LOCF carries the last observed visit
    (baseline counts as a non-responder); "nonresponder" counts a missing visit
    as a non-response (the usual convention of SCS trials): the rules of
    `analysed_change` with a baseline value of 0 for both."""
    return analysed_change(responder.astype(float), observed, population)


def analysed_change(change: np.ndarray, observed: np.ndarray, population: Population) -> np.ndarray:
    """Change from baseline under an analysis population; NaN = not analysed.
    For a change, "nonresponder" means baseline observation carried forward (change 0)."""
    if population == "complete_case":
        return np.where(observed, change, np.nan)
    if population == "nonresponder":
        return np.where(observed, change, 0.0)
    return _locf(change, observed, 0.0)


def _locf(values: np.ndarray, observed: np.ndarray, at_baseline: float) -> np.ndarray:
    # index of the last observed visit so far (-1: none yet -> the baseline value)
    idx = np.where(observed, np.arange(values.shape[-1]), -1)
    last = np.maximum.accumulate(idx, axis=-1)
    carried = np.take_along_axis(values, np.maximum(last, 0), axis=-1)
    return np.where(last >= 0, carried, at_baseline)
