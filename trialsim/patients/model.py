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

from .dropout import DropoutModel, observed_visits
from .effects import ArmEffect, EffectDraws, latent_shifts
from .pain import PainModel, draw_latent_pain
from .phenotype import draw_phenotype, misclassify
from .scale import measure
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


def simulate_patients(model: PatientModel, n: int, rng: np.random.Generator) -> VirtualPatients:
    """n entered patients and their potential outcomes under every arm."""
    k, weeks = len(model.arms), np.asarray(model.visit_weeks, dtype=float)
    trial_shift = model.trial_nonspecific_sd * rng.standard_normal() if model.trial_nonspecific_sd > 0 else 0.0
    latent = draw_latent_pain(model.pain, weeks, n, rng)
    u = rng.random((n, 3))  # phenotype, observed phenotype, screening trial
    phenotype = draw_phenotype(np.asarray(model.prevalence), u[:, 0])
    observed_phenotype = phenotype if model.confusion is None else misclassify(phenotype, np.asarray(model.confusion), u[:, 1])
    passed = u[:, 2:3] < np.broadcast_to(np.asarray(model.screening_pass, dtype=float), (k,))
    shift, responder_class = latent_shifts(model.arms, weeks, phenotype, EffectDraws.draw(n, k, rng), passed, trial_shift)

    measured = latent.measured_latent
    screening_nrs, baseline_nrs = measure(measured[:, 0], model.pain.integer), measure(measured[:, 1], model.pain.integer)
    nrs = measure(measured[:, None, 2:] + shift, model.pain.integer)

    z_odi = rng.standard_normal((n, 2 + len(weeks)))  # stable part, baseline, visits (shared by arms)
    baseline_odi = odi_scores(model.odi, baseline_nrs, baseline_nrs, z_odi[:, 0], z_odi[:, 1])
    odi = odi_scores(model.odi, nrs, baseline_nrs, z_odi[:, 0], z_odi[:, None, 2:])

    u_user, z_dose = rng.random(n), rng.standard_normal(n)
    true_ratio = latent.eta[:, None, 2:] + shift - latent.eta[:, None, 1:2]
    baseline_mme, mme = opioid_doses(model.opioids, u_user, z_dose, true_ratio, rng.standard_normal((n, 1, len(weeks))))

    observed, explant_week = observed_visits(model.dropout, weeks, baseline_nrs, nrs, rng.random((n, len(weeks))), rng.random(n))
    return VirtualPatients(
        visit_weeks=weeks, phenotype=phenotype, observed_phenotype=observed_phenotype,
        screening_nrs=screening_nrs, baseline_nrs=baseline_nrs, baseline_odi=baseline_odi, baseline_mme=baseline_mme,
        passed=passed, responder_class=responder_class, nrs=nrs, odi=odi, mme=mme,
        opioid_reduced=opioid_reduced(model.opioids, baseline_mme, mme), observed=observed,
        explant_week=explant_week, trial_shift=float(trial_shift), candidates=latent.candidates,
        responder_reduction=model.responder_reduction,
    )
