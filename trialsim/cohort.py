"""Virtual patients and their potential outcomes under every arm.

Every trial draws from its own random stream, derived from the root seed and
the trial's index only (`trial_stream`), so trial i has the same patients
whatever the chunking, the number of workers, the design or the truth
(common random numbers); a truth changes only the outcomes computed from the
same underlying draws. Each trial draws, in this order, one row of uniforms
per patient (PATIENT_COLUMNS), one row of outcome draws per patient (one per
arm) and one row of adverse-event uniforms per patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import special

from .response import EffectModel, to_internal
from .scenario.schema import Scenario, TruncatedNormal


class Stream(IntEnum):
    COHORT = 0  # patients, outcomes and adverse events, drawn by draw_raw
    INFERENCE = 1  # posterior sampling (PyMC engine), one child per design


PATIENT_COLUMNS = ("phenotype", "baseline_nrs", "baseline_odi", "dropout", "screening", "arrival", "randomise")


def trial_stream(seed: int, trial: int, stream: Stream, *extra: int) -> np.random.Generator:
    """The generator of one named stream of one trial (a SeedSequence child)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(trial, int(stream), *extra))))


@dataclass(frozen=True)
class Cohort:
    """Patients of a batch of trials, in arrival order. Shapes (trials, patients[, arms])."""

    trials: np.ndarray  # (trials,) global trial indices
    phenotype: np.ndarray
    baseline_nrs: np.ndarray
    arrival_week: np.ndarray
    dropout: np.ndarray
    u_screen: np.ndarray  # passes screening for arm a if u_screen < screening_pass[a]
    u_randomise: np.ndarray
    y: np.ndarray  # potential outcome on the internal higher-is-better scale
    responder: np.ndarray  # potential responder status (events for binary endpoints)
    u_adverse: np.ndarray  # (trials, patients, event types): an event on arm a if u < adverse_rates[a]
    adverse_rates: np.ndarray  # (arms, event types)
    binary: bool  # outcome y is 0/1
    prevalence: np.ndarray  # (phenotypes,)

    @property
    def n_patients(self) -> int:
        return self.phenotype.shape[1]


@dataclass(frozen=True)
class RawDraws:
    """The truth-independent random draws of a batch of trials."""

    trials: np.ndarray
    patients: np.ndarray  # (trials, n, len(PATIENT_COLUMNS)) uniforms
    outcomes: np.ndarray  # (trials, n, arms) standard normals or uniforms
    adverse: np.ndarray  # (trials, n, event types) uniforms

    def column(self, name: str) -> np.ndarray:
        return self.patients[..., PATIENT_COLUMNS.index(name)]


def adverse_event_types(scenario: Scenario) -> list[str]:
    return sorted({e for arm in scenario.arms for e in arm.adverse_events})


def draw_raw(scenario: Scenario, seed: int, trials: np.ndarray, n_patients: int) -> RawDraws:
    """Draw every trial's random numbers from its own streams."""
    k, binary = len(scenario.arms), scenario.endpoint.type == "binary"
    n_ae = len(adverse_event_types(scenario))
    n_trials = len(trials)
    patients = np.empty((n_trials, n_patients, len(PATIENT_COLUMNS)))
    outcomes = np.empty((n_trials, n_patients, k))
    adverse = np.empty((n_trials, n_patients, n_ae))
    for i, t in enumerate(trials):
        g = trial_stream(seed, int(t), Stream.COHORT)
        g.random(out=patients[i])
        if binary:
            g.random(out=outcomes[i])
        else:
            g.standard_normal(out=outcomes[i])
        g.random(out=adverse[i])
    return RawDraws(np.asarray(trials), patients, outcomes, adverse)


def truncnorm_from_uniform(u: np.ndarray, dists: list[TruncatedNormal], index: np.ndarray) -> np.ndarray:
    mean = np.array([d.mean for d in dists])[index]
    sd = np.array([d.sd for d in dists])[index]
    lo = special.ndtr((np.array([d.min for d in dists])[index] - mean) / sd)
    hi = special.ndtr((np.array([d.max for d in dists])[index] - mean) / sd)
    return mean + sd * special.ndtri(lo + u * (hi - lo))


def arrival_weeks(exponentials: np.ndarray, per_week: float, ramp_up_weeks: float) -> np.ndarray:
    """Arrival times of a Poisson process whose rate ramps linearly up to `per_week`."""
    s = np.cumsum(exponentials, axis=-1)  # arrivals in operational time
    if ramp_up_weeks <= 0:
        return s / per_week
    in_ramp = s < per_week * ramp_up_weeks / 2
    return np.where(in_ramp, np.sqrt(2 * ramp_up_weeks * np.minimum(s, per_week * ramp_up_weeks / 2) / per_week),
                    s / per_week + ramp_up_weeks / 2)


def build_cohort(scenario: Scenario, model: EffectModel, raw: RawDraws) -> Cohort:
    """Patients and potential outcomes of one truth from the shared raw draws."""
    pop, logistics, endpoint = scenario.population, scenario.logistics, scenario.endpoint
    phenos = list(pop.phenotypes.values())
    prevalence = np.array([p.prevalence for p in phenos])
    # inverse CDF over a handful of categories: adding threshold indicators beats a binary search
    u_pheno = raw.column("phenotype")
    phenotype = np.zeros(u_pheno.shape, np.int16)
    for threshold in np.cumsum(prevalence)[:-1]:
        phenotype += u_pheno >= threshold
    if endpoint.type == "binary":  # generic events: no pain scores involved
        nrs = np.zeros(phenotype.shape)
    else:
        nrs = truncnorm_from_uniform(raw.column("baseline_nrs"), [p.baseline_nrs or pop.baseline_nrs for p in phenos], phenotype)
    passed = raw.column("screening")[..., None] < model.screening_pass  # (trials, n, arms)

    if model.rate is not None:
        event = raw.outcomes < model.rate.T[phenotype]
        responder = event
        y = to_internal(endpoint, event.astype(float))
    else:
        specific = model.specific.T[phenotype] * passed  # (trials, n, arms)
        change = model.nonspecific + specific + model.sd * raw.outcomes
        follow_up = np.clip(nrs[..., None] + change, 0.0, 10.0)
        observed_change = follow_up - nrs[..., None]
        responder = -observed_change >= endpoint.responder_reduction * nrs[..., None]
        y = responder.astype(float) if endpoint.type == "responder" else to_internal(endpoint, observed_change)

    ae_rates = np.array([[arm.adverse_events.get(e, 0.0) for e in adverse_event_types(scenario)] for arm in scenario.arms])
    return Cohort(
        trials=raw.trials, phenotype=phenotype, baseline_nrs=nrs,
        arrival_week=arrival_weeks(-np.log1p(-raw.column("arrival")), logistics.accrual.per_week,
                                   logistics.accrual.ramp_up_weeks),
        dropout=raw.column("dropout") < logistics.dropout, u_screen=raw.column("screening"),
        u_randomise=raw.column("randomise"),
        y=y, responder=responder, u_adverse=raw.adverse, adverse_rates=ae_rates.reshape(len(scenario.arms), -1),
        binary=endpoint.binary, prevalence=prevalence,
    )


def baseline_odi(scenario: Scenario, raw: RawDraws, phenotype: np.ndarray) -> np.ndarray:
    """Baseline ODI of each patient (not used by the outcome model; computed on request)."""
    pop = scenario.population
    dists = [p.baseline_odi or pop.baseline_odi for p in pop.phenotypes.values()]
    return truncnorm_from_uniform(raw.column("baseline_odi"), dists, phenotype)
