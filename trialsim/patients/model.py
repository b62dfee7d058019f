"""One cohort of virtual patients: entry, pain over visits under every arm,
secondary outcomes, dropout and the phenotype a screening tool reports.

Potential outcomes: every patient has an outcome under every arm, computed from
the same draws (latent pain, measurement error, responsiveness, dropout
uniforms), so arms differ only by their effects and every design that draws
from the same generator sees the same patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .draws import (ARM_BASE, MAX_ARMS, PATIENT_BASE, SECONDARY_BASE, SECONDARY_VISIT_BASE, Draws, GeneratorDraws,
                    patient_draws)
from .dropout import DropoutModel, observed_visits
from .effects import ArmEffect, EffectDraws, latent_shifts
from .pain import PainModel, draw_latent_pain
from .phenotype import draw_phenotype, misclassify
from .scale import apply_shift, measure
from .secondary import OdiModel, OpioidModel, odi_scores, opioid_doses, opioid_reduced


@dataclass(frozen=True)
class PatientModel:
    arms: tuple[ArmEffect, ...]
    prevalence: tuple[float, ...] = (1.0,)
    visit_weeks: tuple[float, ...] = (4.0, 12.0, 26.0, 52.0)
    pain: PainModel = field(default_factory=PainModel)
    odi: OdiModel = field(default_factory=OdiModel)
    opioids: OpioidModel = field(default_factory=OpioidModel)
    dropout: DropoutModel = field(default_factory=DropoutModel)
    screening_pass: float | tuple[float, ...] = 1.0  # per arm: Pr(passing its screening trial)
    confusion: tuple[tuple[float, ...], ...] | None = None  # P(observed | true phenotype); None: exact
    responder_reduction: float = 0.5  # responder: NRS reduced by at least this share of baseline
    trial_nonspecific_sd: float = 0.0  # between-trial SD of the nonspecific shift (assurance)


@dataclass(frozen=True)
class VirtualPatients:
    """Shapes: (n,), (n, arms) or (n, arms, visits)."""

    visit_weeks: np.ndarray
    phenotype: np.ndarray
    observed_phenotype: np.ndarray
    screening_nrs: np.ndarray
    baseline_nrs: np.ndarray
    baseline_odi: np.ndarray
    baseline_mme: np.ndarray
    passed: np.ndarray  # (n, arms) passed the arm's screening trial
    responder_class: np.ndarray  # (n, arms) in the arm's responder class
    nrs: np.ndarray  # (n, arms, visits) measured NRS
    odi: np.ndarray
    mme: np.ndarray
    opioid_reduced: np.ndarray
    observed: np.ndarray  # (n, arms, visits) still in follow-up at the visit
    explant_week: np.ndarray  # (n, arms), inf when none
    trial_shift: float  # this trial's nonspecific deviation
    candidates: int  # candidates screened for n entered patients
    responder_reduction: float

    @property
    def change(self) -> np.ndarray:
        return self.nrs - self.baseline_nrs[:, None, None]

    @property
    def responder(self) -> np.ndarray:
        return -self.change >= self.responder_reduction * self.baseline_nrs[:, None, None]


def simulate_patients(model: PatientModel, n: int, rng: np.random.Generator | None = None, *,
                      draws: Draws | None = None, trial_z: float | None = None) -> VirtualPatients:
    """n entered patients and their potential outcomes under every arm.

    Random numbers come from `draws` (addressed by column) or, for standalone
    use, from `rng`; `trial_z` is this trial's standard normal for the
    between-trial variation of the nonspecific part (drawn from `rng` if None)."""
    if draws is None:
        if rng is None:
            raise ValueError("give rng or draws")
        draws = GeneratorDraws(rng, n)
    k, weeks = len(model.arms), np.asarray(model.visit_weeks, dtype=float)
    if k > MAX_ARMS:
        raise ValueError(f"at most {MAX_ARMS} arms")
    if trial_z is None:
        trial_z = rng.standard_normal() if (rng is not None and model.trial_nonspecific_sd > 0) else 0.0
    trial_shift = model.trial_nonspecific_sd * trial_z
    latent = draw_latent_pain(model.pain, weeks, draws)
    phenotype = draw_phenotype(np.asarray(model.prevalence), draws.uniform(PATIENT_BASE))
    z_nonspecific, u_observed, u_explant, u_drop = patient_draws(draws, len(weeks))
    observed_phenotype = (phenotype if model.confusion is None
                          else misclassify(phenotype, np.asarray(model.confusion), u_observed))
    passed = draws.uniform(PATIENT_BASE + 2)[:, None] < np.broadcast_to(np.asarray(model.screening_pass, float), (k,))
    effect_draws = EffectDraws(
        z_nonspecific=z_nonspecific,
        u_class=np.column_stack([draws.uniform(ARM_BASE + 2 * a) for a in range(k)]),
        u_loss=np.column_stack([draws.uniform(ARM_BASE + 2 * a + 1) for a in range(k)]),
    )
    shift, responder_class = latent_shifts(model.arms, weeks, phenotype, effect_draws, passed, trial_shift)

    pain, error, integer = latent.pain, latent.error, model.pain.integer
    screening_nrs, baseline_nrs = (measure(pain[:, j], error[:, j], integer) for j in (0, 1))
    treated = apply_shift(pain[:, None, 2:], shift)  # true pain under each arm (n, arms, visits)
    nrs = measure(treated, error[:, None, 2:], integer)

    v = len(weeks)
    per_visit = [[draws.normal(SECONDARY_VISIT_BASE + 3 * j + c) for j in range(v)] for c in (0, 1)]
    z_odi, z_mme = (np.column_stack(cols)[:, None, :] for cols in per_visit)  # shared by the arms
    z_stable = draws.normal(SECONDARY_BASE)
    baseline_odi = odi_scores(model.odi, baseline_nrs, baseline_nrs, z_stable, draws.normal(SECONDARY_BASE + 1))
    odi = odi_scores(model.odi, nrs, baseline_nrs, z_stable, z_odi)

    true_ratio = np.log(treated / pain[:, None, 1:2])
    baseline_mme, mme = opioid_doses(model.opioids, draws.uniform(SECONDARY_BASE + 2), draws.normal(SECONDARY_BASE + 3),
                                     true_ratio, z_mme)

    observed, explant_week = observed_visits(model.dropout, weeks, baseline_nrs, nrs, u_drop, u_explant)
    return VirtualPatients(
        visit_weeks=weeks, phenotype=phenotype, observed_phenotype=observed_phenotype,
        screening_nrs=screening_nrs, baseline_nrs=baseline_nrs, baseline_odi=baseline_odi, baseline_mme=baseline_mme,
        passed=passed, responder_class=responder_class, nrs=nrs, odi=odi, mme=mme,
        opioid_reduced=opioid_reduced(model.opioids, baseline_mme, mme), observed=observed,
        explant_week=explant_week, trial_shift=float(trial_shift), candidates=latent.candidates,
        responder_reduction=model.responder_reduction,
    )
