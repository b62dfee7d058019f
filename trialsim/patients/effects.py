"""Arm effects over time on the latent log-pain scale.

Each arm adds to a patient's latent log pain at week t

    nonspecific part   (m_a + s_a * z_i + trial shift) * course_a(t)
    specific part      effect of the patient's response class * onset(t), while it lasts

z_i is the patient's responsiveness to context (placebo, natural course), one
draw shared by every arm, so potential outcomes under two arms differ by the
arms' effects only. The specific part is a responder / non-responder mixture per
arm x phenotype: a share of patients responds with their own mean shift, the
rest with another (zero by default). Responders lose their response at a
constant hazard (durability), the way open-loop SCS wanes in EVOKE. Only
patients who pass an arm's screening trial receive its specific part.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TimeCourse:
    """Weight of an effect over weeks: linear onset to 1, a plateau, then a share decays."""

    onset_weeks: float = 0.0
    half_life_weeks: float | None = None  # None: no decay
    persistent: float = 1.0  # share of the effect that never decays
    decay_from_weeks: float | None = None  # end of the plateau; None: the onset

    def weights(self, weeks: np.ndarray) -> np.ndarray:
        weeks = np.asarray(weeks, dtype=float)
        ramp = np.clip(weeks / self.onset_weeks, 0.0, 1.0) if self.onset_weeks > 0 else (weeks >= 0).astype(float)
        if self.half_life_weeks is None:
            return ramp
        start = self.onset_weeks if self.decay_from_weeks is None else self.decay_from_weeks
        since = np.maximum(weeks - start, 0.0)
        return ramp * (self.persistent + (1 - self.persistent) * 0.5 ** (since / self.half_life_weeks))


@dataclass(frozen=True)
class ArmEffect:
    """One arm's effects; shifts are on the latent log scale (log of the pain ratio).

    Per-phenotype fields take one value for all phenotypes or one per phenotype."""

    nonspecific: float = 0.0
    nonspecific_sd: float = 0.0  # between-patient SD of the nonspecific shift
    nonspecific_course: TimeCourse = field(default_factory=TimeCourse)
    responder_share: float | tuple[float, ...] = 0.0  # share of responders, per phenotype
    responder_effect: float | tuple[float, ...] = 0.0  # specific shift of responders
    nonresponder_effect: float | tuple[float, ...] = 0.0  # specific shift of the others
    specific_onset_weeks: float = 0.0
    loss_half_life_weeks: float | None = None  # responders' median time to losing the response


@dataclass(frozen=True)
class ArmArrays:
    """ArmEffects as arrays, (arms,) or (arms, phenotypes), for per-element lookups."""

    nonspecific: np.ndarray
    nonspecific_sd: np.ndarray
    courses: tuple[TimeCourse, ...]
    responder_share: np.ndarray
    responder_effect: np.ndarray
    nonresponder_effect: np.ndarray
    specific_onset_weeks: np.ndarray
    loss_half_life_weeks: np.ndarray  # inf: durable

    @staticmethod
    def of(arms: tuple[ArmEffect, ...], n_phenotypes: int) -> "ArmArrays":
        def table(field: str) -> np.ndarray:
            return np.array([np.broadcast_to(np.asarray(getattr(a, field), float), (n_phenotypes,)) for a in arms])

        return ArmArrays(
            nonspecific=np.array([a.nonspecific for a in arms], float),
            nonspecific_sd=np.array([a.nonspecific_sd for a in arms], float),
            courses=tuple(a.nonspecific_course for a in arms),
            responder_share=table("responder_share"), responder_effect=table("responder_effect"),
            nonresponder_effect=table("nonresponder_effect"),
            specific_onset_weeks=np.array([a.specific_onset_weeks for a in arms], float),
            loss_half_life_weeks=np.array([np.inf if a.loss_half_life_weeks is None else a.loss_half_life_weeks
                                           for a in arms], float),
        )


@functools.lru_cache(maxsize=256)
def _course_weights(courses: tuple[TimeCourse, ...], week: float) -> np.ndarray:
    return np.array([c.weights(np.array([week]))[0] for c in courses])


def element_shift(arrays: ArmArrays, week: float, arm: np.ndarray, phenotype: np.ndarray, z_nonspecific: np.ndarray,
                  u_class: np.ndarray, u_loss: np.ndarray, passed: np.ndarray, trial_shift: float | np.ndarray = 0.0,
                  expectation: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Shift of latent pain at one week and the response class, one per element (all inputs broadcast).

    u_class, u_loss: the element's uniforms under its arm. `expectation` multiplies the arm's mean
    nonspecific shift (trialsim.blinding: what the patient believes they are on)."""
    nonspecific = nonspecific_shift(arrays, week, arm, z_nonspecific, trial_shift, expectation)
    specific, responder = specific_shift(arrays, week, arm, phenotype, u_class, u_loss, passed)
    return nonspecific + specific, responder


def nonspecific_shift(arrays: ArmArrays, week: float, arm: np.ndarray, z_nonspecific: np.ndarray,
                      trial_shift: float | np.ndarray = 0.0, expectation: float | np.ndarray = 1.0) -> np.ndarray:
    """The nonspecific part of `element_shift` (context, placebo, natural course) at `week`."""
    course = _course_weights(arrays.courses, float(week))[arm]
    return (arrays.nonspecific[arm] * expectation + trial_shift + arrays.nonspecific_sd[arm] * z_nonspecific) * course


def specific_shift(arrays: ArmArrays, week: float, arm: np.ndarray, phenotype: np.ndarray, u_class: np.ndarray,
                   u_loss: np.ndarray, passed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The specific part of `element_shift` `week` weeks after the arm started, and the response class."""
    responder = u_class < arrays.responder_share[arm, phenotype]
    other = arrays.nonresponder_effect[arm, phenotype]
    onset = arrays.specific_onset_weeks[arm]
    # exponential time to losing the response after onset (median loss_half_life_weeks)
    lasting = week < onset - arrays.loss_half_life_weeks[arm] * np.log2(u_loss)
    effect = np.where(responder & lasting, arrays.responder_effect[arm, phenotype], other)
    ramp = np.where(onset > 0, np.clip(week / np.where(onset > 0, onset, 1.0), 0.0, 1.0), float(week >= 0))
    return effect * passed * ramp, responder


def element_shifts(arrays: ArmArrays, weeks, arm: np.ndarray, phenotype: np.ndarray, z_nonspecific: np.ndarray,
                   u_class: np.ndarray, u_loss: np.ndarray, passed: np.ndarray, trial_shift: float | np.ndarray = 0.0,
                   expectation: float | np.ndarray = 1.0) -> tuple[list[np.ndarray], np.ndarray]:
    """`element_shift` at several weeks (a list, one per week), bit for bit: the week-free parts once."""
    nonspecific = (arrays.nonspecific[arm] * expectation + trial_shift
                   + arrays.nonspecific_sd[arm] * z_nonspecific)
    responder = u_class < arrays.responder_share[arm, phenotype]
    other = arrays.nonresponder_effect[arm, phenotype]
    specific = arrays.responder_effect[arm, phenotype]
    onset = arrays.specific_onset_weeks[arm]
    lost = onset - arrays.loss_half_life_weeks[arm] * np.log2(u_loss)  # the week the response is lost
    positive = onset > 0
    safe_onset = np.where(positive, onset, 1.0)
    shifts = []
    for week in weeks:
        course = _course_weights(arrays.courses, float(week))[arm]
        effect = np.where(responder & (week < lost), specific, other)
        ramp = np.where(positive, np.clip(week / safe_onset, 0.0, 1.0), float(week >= 0))
        shifts.append(nonspecific * course + effect * passed * ramp)
    return shifts, responder


@dataclass(frozen=True)
class EffectDraws:
    """Per-patient uniforms and normals behind the effects (common to designs)."""

    z_nonspecific: np.ndarray  # (n,) standard normal
    u_class: np.ndarray  # (n, arms) uniform: responder if below the share
    u_loss: np.ndarray  # (n, arms) uniform: time to losing the response


def latent_shifts(
    arms: tuple[ArmEffect, ...],
    visit_weeks: np.ndarray,
    phenotype: np.ndarray,
    draws: EffectDraws,
    passed: np.ndarray | None = None,
    trial_shift: float = 0.0,
    expectation: float | np.ndarray = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Shift of latent pain (n, arms, visits) and the response class (n, arms), every arm.

    `passed` (n, arms): passed the arm's screening trial (default: everyone).
    `trial_shift`: this trial's deviation of the nonspecific part (between-trial
    variation of the placebo response), added to every arm's nonspecific part.
    """
    n, k = phenotype.shape[0], len(arms)
    widths = [np.size(getattr(a, f)) for a in arms for f in ("responder_share", "responder_effect", "nonresponder_effect")]
    arrays = ArmArrays.of(arms, max([int(phenotype.max()) + 1 if n else 1] + widths))
    arm = np.arange(k)[None, :]
    got = np.ones((n, k)) if passed is None else passed.astype(float)
    shift = np.empty((n, k, len(visit_weeks)))
    responder = np.zeros((n, k), dtype=bool)
    for j, week in enumerate(np.asarray(visit_weeks, dtype=float)):
        shift[..., j], responder = element_shift(arrays, float(week), arm, phenotype[:, None],
                                                 draws.z_nonspecific[:, None], draws.u_class, draws.u_loss, got,
                                                 trial_shift, expectation)
    return shift, responder
