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


def _per_phenotype(value: float | tuple[float, ...], phenotype: np.ndarray) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    return arr[0] if arr.size == 1 else arr[phenotype]


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
) -> tuple[np.ndarray, np.ndarray]:
    """Shift of latent log pain (n, arms, visits) and the response class (n, arms).

    `passed` (n, arms): passed the arm's screening trial (default: everyone).
    `trial_shift`: this trial's deviation of the nonspecific part (between-trial
    variation of the placebo response), added to every arm's nonspecific part.
    """
    visit_weeks = np.asarray(visit_weeks, dtype=float)
    n = phenotype.shape[0]
    shift = np.empty((n, len(arms), len(visit_weeks)))
    responder = np.empty((n, len(arms)), dtype=bool)
    for a, arm in enumerate(arms):
        nonspecific = arm.nonspecific + trial_shift + arm.nonspecific_sd * draws.z_nonspecific
        shift[:, a] = nonspecific[:, None] * arm.nonspecific_course.weights(visit_weeks)
        responder[:, a] = draws.u_class[:, a] < _per_phenotype(arm.responder_share, phenotype)
        gets = np.ones(n) if passed is None else passed[:, a].astype(float)
        other = np.broadcast_to(_per_phenotype(arm.nonresponder_effect, phenotype), (n,)) * gets
        effect = np.where(responder[:, a], _per_phenotype(arm.responder_effect, phenotype) * gets, other)
        specific = np.repeat(effect[:, None], len(visit_weeks), axis=1)
        if arm.loss_half_life_weeks is not None:  # exponential time to loss of the response after onset
            lost_at = arm.specific_onset_weeks - arm.loss_half_life_weeks * np.log2(draws.u_loss[:, a])
            lost = responder[:, a, None] & (visit_weeks >= lost_at[:, None])
            specific = np.where(lost, other[:, None], specific)
        shift[:, a] += specific * TimeCourse(arm.specific_onset_weeks).weights(visit_weeks)
    return shift, responder
