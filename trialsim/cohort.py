"""Virtual patients of a chunk of trials, drawn from named streams as the trials reach them.

A `Cohort` is truth-free: phenotype, baseline NRS, arrival, dropout,
screening and randomisation draws of every patient, each from its own named
stream (`rng.Stream`), so every design and truth sees the same patients
(common random numbers). Arrival times are drawn for the maximum sample size
at once (look schedules need them); the other columns are filled per trial
up to the patients the trial reaches (`reach`). Outcomes are drawn only for
patients who are randomised, under the arm they were given (`outcomes`):
each arm's outcome stream is keyed by its name, so a patient's potential
outcome under an arm does not depend on the design, or on other arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rng
from .effects import EffectModel
from .endpoints import Endpoint, Patients
from .population import Population, truncnorm_from_uniform
from .rng import Stream

FILL_BLOCK = 128  # patients filled per trial at a time, beyond what is asked


@dataclass(frozen=True)
class CohortPlan:
    """What the cohort needs from a compiled scenario."""

    population: Population
    arms: tuple[str, ...]
    accrual_per_week: float
    ramp_up_weeks: float
    dropout: float
    endpoint_weeks: float
    screening_pass: np.ndarray  # (arms,)
    adverse_events: tuple[str, ...]
    adverse_rates: np.ndarray  # (arms, event types)
    pain_scores: bool  # draw baseline NRS (the endpoint uses pain scores)
    max_patients: int


def arrival_weeks(s: np.ndarray, per_week: float, ramp_up_weeks: float) -> np.ndarray:
    """Arrival times of a Poisson process whose rate ramps linearly up to `per_week`.

    `s`: cumulative sums of standard exponentials (arrivals in operational time).
    """
    if ramp_up_weeks <= 0:
        return s / per_week
    in_ramp = s < per_week * ramp_up_weeks / 2
    return np.where(in_ramp, np.sqrt(2 * ramp_up_weeks * np.minimum(s, per_week * ramp_up_weeks / 2) / per_week),
                    s / per_week + ramp_up_weeks / 2)


class Cohort:
    """Patients of trials `trials` (global indices) in arrival order; arrays (trials, patients)."""

    def __init__(self, plan: CohortPlan, seed: int, trials: np.ndarray):
        self.plan, self.seed = plan, seed
        self.trials = np.asarray(trials, np.int64)
        shape = (len(trials), plan.max_patients)
        self.keys = {s: rng.stream_key(seed, s) for s in (Stream.COHORT, Stream.SCREENING, Stream.DROPOUT,
                                                          Stream.RANDOMISATION)}
        self.outcome_keys = np.stack([rng.stream_key(seed, Stream.OUTCOMES, a) for a in plan.arms])
        self.event_keys = np.stack([rng.stream_key(seed, Stream.ADVERSE_EVENTS, e) for e in plan.adverse_events]
                                   or [np.zeros(2, np.uint32)])
        sums = rng.exponential_sums(rng.stream_key(seed, Stream.ARRIVAL), self.trials, plan.max_patients)
        self.arrival_week = arrival_weeks(sums, plan.accrual_per_week, plan.ramp_up_weeks)
        self.phenotype = np.zeros(shape, np.int16)
        self.baseline_nrs = np.zeros(shape)
        self.dropout = np.zeros(shape, bool)
        self.u_screen = np.zeros(shape)
        self.u_randomise = np.zeros(shape)
        self.filled = np.zeros(len(trials), np.int64)  # patients 0..filled-1 of each trial are drawn

    @property
    def n_patients(self) -> int:
        return self.plan.max_patients

    @property
    def prevalence(self) -> np.ndarray:
        return self.plan.population.prevalence

    def reach(self, rows: np.ndarray, upto: np.ndarray) -> None:
        """Make sure patients 0..upto-1 of the trials at `rows` are drawn (in blocks, from their streams)."""
        rows = np.asarray(rows)
        need = np.broadcast_to(np.minimum(upto, self.plan.max_patients), rows.shape)
        short = need > self.filled[rows]
        if not short.any():
            return
        rows, need = rows[short], need[short]
        lo = int(self.filled[rows].min())
        hi = int(min(max(need.max(), lo + FILL_BLOCK), self.plan.max_patients))
        cols = slice(lo, hi)
        trials = self.trials[rows]
        pop = self.plan.population
        u_pheno = rng.block(self.keys[Stream.COHORT], trials, lo, hi, column=0)
        phenotype = pop.phenotype_of(u_pheno)
        self.phenotype[rows, cols] = phenotype
        if self.plan.pain_scores:
            u_nrs = rng.block(self.keys[Stream.COHORT], trials, lo, hi, column=1)
            self.baseline_nrs[rows, cols] = truncnorm_from_uniform(u_nrs, pop.baseline_nrs, phenotype)
        self.dropout[rows, cols] = rng.block(self.keys[Stream.DROPOUT], trials, lo, hi) < self.plan.dropout
        self.u_screen[rows, cols] = rng.block(self.keys[Stream.SCREENING], trials, lo, hi)
        self.u_randomise[rows, cols] = rng.block(self.keys[Stream.RANDOMISATION], trials, lo, hi)
        self.filled[rows] = hi

    def baseline_odi(self, rows: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Baseline ODI of patients lo..hi-1 (computed on request; not used by the outcome model)."""
        self.reach(rows, np.full(len(rows), hi))
        u = rng.block(self.keys[Stream.COHORT], self.trials[rows], lo, hi, column=2)
        return truncnorm_from_uniform(u, self.plan.population.baseline_odi, self.phenotype[rows, lo:hi])

    def outcomes(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, patients: np.ndarray,
                 arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outcome on the endpoint's scale, responder) of patients[i] of trial rows[i] under arm[i].

        Inputs broadcast together; the patients must have been reached.
        """
        rows, patients, arm = np.broadcast_arrays(rows, patients, arm)
        draw = rng.draws_at(self.outcome_keys, arm, self.trials[rows], patients, normal=endpoint.draw == "normal")
        passed = self.u_screen[rows, patients] < model.screening_pass[arm]
        return endpoint.outcomes(model, Patients(arm, self.phenotype[rows, patients], self.baseline_nrs[rows, patients],
                                                 passed, draw))

    def outcomes_block(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, start: int,
                       arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`outcomes` of patients start..start+width-1 of the trials at `rows`, arm (rows, width) per patient.

        Entries with arm < 0 are computed under arm 0 with a zero draw: callers ignore them.
        """
        cols = slice(start, start + arm.shape[1])
        draw = rng.per_arm_block(self.outcome_keys, arm, self.trials[rows], start, normal=endpoint.draw == "normal")
        safe = np.maximum(arm, 0)
        passed = self.u_screen[rows, cols] < model.screening_pass[safe]
        return endpoint.outcomes(model, Patients(safe, self.phenotype[rows, cols], self.baseline_nrs[rows, cols],
                                                 passed, draw))

    def adverse_events(self, rows: np.ndarray, patients: np.ndarray, arm: np.ndarray) -> np.ndarray:
        """Adverse events of each type under the assigned arm, (..., event types) booleans."""
        n_types = len(self.plan.adverse_events)
        rows, patients, arm = np.broadcast_arrays(rows, patients, arm)
        out = np.zeros(rows.shape + (n_types,), bool)
        for j in range(n_types):  # one stream per event type, keyed by its name
            u = rng.draws_at(self.event_keys, j, self.trials[rows], patients)
            out[..., j] = u < self.plan.adverse_rates[arm, j]
        return out
