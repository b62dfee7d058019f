"""The visit model inside the simulator: compiled settings and the draws that feed it.

`trialsim/patients` is a pure model that takes its random numbers by column
(`patients.draws.Draws`). `StreamDraws` serves those columns from the named
counter-based streams (`rng.py`), so a patient's numbers depend only on
(seed, trial, patient): the simulator's cohort and the `trialsim patients`
table see the same patients. Phenotype and screening come from the cohort's
and the screening streams, as in the single-visit model; the response class and
loss of response of each arm from that arm's outcome stream (keyed by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import rng
from .patients.draws import ARM_BASE, BELIEF, MAX_ARMS, PATIENT_BASE
from .patients.effects import ArmArrays, ArmEffect
from .patients.model import PatientModel
from .patients.pain import PainModel
from .patients.secondary import OdiModel, OpioidModel
from .patients.dropout import DropoutModel
from .rng import Stream

if TYPE_CHECKING:
    from .blinding import BlindingPlan

TRUE_VALUE_PATIENTS = 100_000  # patients simulated for an arm's true value (Monte Carlo SE ~0.005 NRS)


@dataclass(frozen=True)
class VisitPlan:
    """The compiled `patients` block."""

    visits: tuple[float, ...]
    primary: int  # index of the primary endpoint's week in visits
    reference_nrs: float
    pain: PainModel
    odi: OdiModel
    opioids: OpioidModel
    dropout: DropoutModel
    confusion: tuple[tuple[float, ...], ...] | None
    trial_nonspecific_sd: float
    kept: int = 0  # visits the cohort keeps (0: up to the primary one; more for a durability visit)
    screening_correlation: float = 0.0  # of the screening trial's result with the nonspecific responsiveness

    @property
    def n_kept(self) -> int:
        return max(self.kept, self.primary + 1)


@dataclass(frozen=True)
class VisitEffects:
    """One truth under the visit model: per-arm effects and their true values at the primary visit."""

    arms: tuple[ArmEffect, ...]
    arrays: ArmArrays
    true_change: np.ndarray  # (arms,) mean change in NRS
    true_responder: np.ndarray  # (arms,) share of responders


class StreamDraws:
    """patients.draws.Draws over the named streams, for elements (trial[i], patient[i])."""

    def __init__(self, seed: int, arms: tuple[str, ...], trials: np.ndarray, patients: np.ndarray) -> None:
        self.trials, self.patients = np.asarray(trials, np.int64), np.asarray(patients, np.int64)
        self.n = self.trials.size
        self.pain = rng.stream_key(seed, Stream.PAIN)[None]
        self.cohort = rng.stream_key(seed, Stream.COHORT)[None]
        self.screening = rng.stream_key(seed, Stream.SCREENING)[None]
        self.blinding = rng.stream_key(seed, Stream.BLINDING)[None]
        self.outcomes = np.stack([rng.stream_key(seed, Stream.OUTCOMES, a) for a in arms])

    def _route(self, column: int) -> tuple[np.ndarray, int, int]:
        """(keys, key index, column) of a model column."""
        if column == PATIENT_BASE:  # phenotype: the cohort stream's column 0
            return self.cohort, 0, 0
        if column == PATIENT_BASE + 2:  # screening trial: the screening stream
            return self.screening, 0, 0
        if column == BELIEF:  # belief of being on active treatment: the blinding stream's column 0
            return self.blinding, 0, 0
        if ARM_BASE <= column < ARM_BASE + 2 * MAX_ARMS:  # class and loss: columns 1, 2 of the arm's outcome stream
            return self.outcomes, (column - ARM_BASE) // 2, 1 + (column - ARM_BASE) % 2
        return self.pain, 0, column

    def _draw(self, column: int, where: np.ndarray | None, normal: bool) -> np.ndarray:
        keys, index, col = self._route(column)
        t, p = (self.trials, self.patients) if where is None else (self.trials[where], self.patients[where])
        return rng.draws_at(keys, index, t, p, column=col, normal=normal)

    def normal(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        return self._draw(column, where, True)

    def uniform(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        return self._draw(column, where, False)

    def normal_pair(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        keys, index, col = self._route(column)
        t, p = (self.trials, self.patients) if where is None else (self.trials[where], self.patients[where])
        return rng.normal_pairs_at(keys, index, t, p, column=col)

    def normal_quad(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        keys, index, col = self._route(column)
        t, p = (self.trials, self.patients) if where is None else (self.trials[where], self.patients[where])
        return rng.normal_quads_at(keys, index, t, p, column=col)


def patient_model(plan: VisitPlan, effects: tuple[ArmEffect, ...], prevalence: np.ndarray,
                  screening_pass: np.ndarray, responder_reduction: float, blinding: BlindingPlan | None = None
                  ) -> PatientModel:
    return PatientModel(
        screening_correlation=plan.screening_correlation,
        believes_active=None if blinding is None else tuple(float(p) for p in blinding.believes_active),
        expectation_share=0.0 if blinding is None else blinding.expectation_share,
        arms=effects, prevalence=tuple(float(p) for p in prevalence), visit_weeks=plan.visits, pain=plan.pain,
        odi=plan.odi, opioids=plan.opioids, dropout=plan.dropout,
        screening_pass=tuple(float(s) for s in screening_pass), confusion=plan.confusion,
        responder_reduction=responder_reduction, trial_nonspecific_sd=plan.trial_nonspecific_sd,
    )


def true_values(plan: VisitPlan, effects: tuple[ArmEffect, ...], prevalence: np.ndarray, screening_pass: np.ndarray,
                responder_reduction: float, week: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean change and responder share per arm at the primary visit (or `week`), by simulation with a fixed seed.

    Between-trial variation of the nonspecific part averages out over trials:
    the true value is that of the average trial (trial shift 0)."""
    from .patients import simulate_patients

    from dataclasses import replace

    # the primary visit alone: its joint distribution with baseline does not depend on the other visits
    model = replace(patient_model(plan, effects, prevalence, screening_pass, responder_reduction),
                    visit_weeks=(plan.visits[plan.primary] if week is None else week,))
    p = simulate_patients(model, TRUE_VALUE_PATIENTS, np.random.default_rng(20261127), trial_z=0.0)
    return p.change[..., 0].mean(axis=0), p.responder[..., 0].mean(axis=0)
