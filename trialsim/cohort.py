"""Virtual patients and their potential outcomes under every arm.

Every trial draws from named random streams derived from the root seed and
the trial's index only (`trial_stream`), so trial i has the same patients
whatever the chunking, the number of workers, the design or the truth
(common random numbers); a truth changes only the outcomes computed from the
same underlying draws. Patient j is row j of each stream's draws, so a larger
maximum sample size appends patients without changing the first ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import special

from .response import EffectModel, to_internal
from .scenario.schema import Scenario, TruncatedNormal


class Stream(IntEnum):
    PATIENTS = 0
    ARRIVALS = 1
    OUTCOMES = 2
    RANDOMISATION = 3
    ADVERSE_EVENTS = 4
    INFERENCE = 5


def trial_stream(seed: int, trial: int, stream: Stream, *extra: int) -> np.random.Generator:
    """The generator of one named stream of one trial (a SeedSequence child)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(trial, int(stream), *extra))))


@dataclass(frozen=True)
class Cohort:
    """Patients of a batch of trials, in arrival order. Shapes (trials, patients[, arms])."""

    trials: np.ndarray  # (trials,) global trial indices
    phenotype: np.ndarray
    baseline_nrs: np.ndarray
    baseline_odi: np.ndarray
    arrival_week: np.ndarray
    dropout: np.ndarray
    u_screen: np.ndarray  # passes screening for arm a if u_screen < screening_pass[a]
    u_randomise: np.ndarray
    y: np.ndarray  # potential outcome on the internal higher-is-better scale
    responder: np.ndarray  # potential responder status (events for binary endpoints)
    adverse: np.ndarray  # (trials, patients, arms, event types) potential adverse events
    binary: bool  # outcome y is 0/1
    prevalence: np.ndarray  # (phenotypes,)

    @property
    def n_patients(self) -> int:
        return self.phenotype.shape[1]


@dataclass(frozen=True)
class RawDraws:
    """The truth-independent random draws of a batch of trials."""

    trials: np.ndarray
    patients: np.ndarray  # (trials, n, 5) uniforms
    arrivals: np.ndarray  # (trials, n) standard exponentials
    outcomes: np.ndarray  # (trials, n, arms) standard normals or uniforms
    randomise: np.ndarray  # (trials, n) uniforms
    adverse: np.ndarray  # (trials, n, event types) uniforms


def adverse_event_types(scenario: Scenario) -> list[str]:
    return sorted({e for arm in scenario.arms for e in arm.adverse_events})


def draw_raw(scenario: Scenario, seed: int, trials: np.ndarray, n_patients: int) -> RawDraws:
    """Draw every trial's random numbers from its own streams."""
    k, binary = len(scenario.arms), scenario.endpoint.type == "binary"
    n_ae = len(adverse_event_types(scenario))
    out: dict[str, list[np.ndarray]] = {name: [] for name in ("patients", "arrivals", "outcomes", "randomise", "adverse")}
    for t in trials:
        t = int(t)
        out["patients"].append(trial_stream(seed, t, Stream.PATIENTS).random((n_patients, 5)))
        out["arrivals"].append(trial_stream(seed, t, Stream.ARRIVALS).standard_exponential(n_patients))
        g = trial_stream(seed, t, Stream.OUTCOMES)
        out["outcomes"].append(g.random((n_patients, k)) if binary else g.standard_normal((n_patients, k)))
        out["randomise"].append(trial_stream(seed, t, Stream.RANDOMISATION).random(n_patients))
        out["adverse"].append(trial_stream(seed, t, Stream.ADVERSE_EVENTS).random((n_patients, n_ae)))
    return RawDraws(np.asarray(trials), **{name: np.stack(v) for name, v in out.items()})


def _truncnorm_from_uniform(u: np.ndarray, dists: list[TruncatedNormal], index: np.ndarray) -> np.ndarray:
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
    u = raw.patients
    phenotype = np.minimum(np.searchsorted(np.cumsum(prevalence), u[..., 0], side="right"), len(phenos) - 1)
    nrs = _truncnorm_from_uniform(u[..., 1], [p.baseline_nrs or pop.baseline_nrs for p in phenos], phenotype)
    odi = _truncnorm_from_uniform(u[..., 2], [p.baseline_odi or pop.baseline_odi for p in phenos], phenotype)
    passed = u[..., 4][..., None] < model.screening_pass  # (trials, n, arms)

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
    adverse = raw.adverse[:, :, None, :] < ae_rates  # (trials, n, arms, types)
    return Cohort(
        trials=raw.trials, phenotype=phenotype.astype(np.int16), baseline_nrs=nrs, baseline_odi=odi,
        arrival_week=arrival_weeks(raw.arrivals, logistics.accrual.per_week, logistics.accrual.ramp_up_weeks),
        dropout=u[..., 3] < logistics.dropout, u_screen=u[..., 4], u_randomise=raw.randomise,
        y=y, responder=responder, adverse=adverse, binary=endpoint.binary, prevalence=prevalence,
    )
