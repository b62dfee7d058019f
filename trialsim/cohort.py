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
from .patients.draws import screening_uniform
from .patients.dropout import analysed_change, analysed_responder, observed_elements
from .patients.effects import ArmArrays, element_shift
from .patients.scale import apply_shift, measure
from .patients.sequence import Periods, sequence_shift
from .rng import Stream
from .visits import VisitPlan

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
    visit: VisitPlan | None = None  # the visit model: baseline NRS from entry on measured scores
    belief: bool = False  # draw beliefs with the cohort: a truth's blinding model shifts outcomes by them


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
                                                          Stream.RANDOMISATION, Stream.BLINDING)}
        self.outcome_keys = np.stack([rng.stream_key(seed, Stream.OUTCOMES, a) for a in plan.arms])
        self.event_keys = np.stack([rng.stream_key(seed, Stream.ADVERSE_EVENTS, e) for e in plan.adverse_events]
                                   or [np.zeros(2, np.uint32)])
        sums = rng.exponential_sums(rng.stream_key(seed, Stream.ARRIVAL), self.trials, plan.max_patients)
        self.arrival_week = arrival_weeks(sums, plan.accrual_per_week, plan.ramp_up_weeks)
        self.phenotype = np.zeros(shape, np.int16)
        # what a screening tool reports, used by designs (stratification, per-phenotype analysis);
        # outcomes follow the true phenotype. The same array unless the visit model misclassifies.
        misclassified = plan.visit is not None and plan.visit.confusion is not None
        self.observed_phenotype = np.zeros(shape, np.int16) if misclassified else self.phenotype
        self.baseline_nrs = np.zeros(shape)
        self.dropout = np.zeros(shape, bool)
        self.screens = bool((plan.screening_pass < 1).any())  # else everyone passes whatever the draw
        self.u_screen = np.zeros(shape) if self.screens else np.full(shape, 0.5)
        self.u_randomise = np.zeros(shape)
        self.u_belief = np.zeros(shape) if plan.belief else None  # blinding (trialsim.blinding)
        self.filled = np.zeros(len(trials), np.int64)  # patients 0..filled-1 of each trial are drawn
        if plan.visit is not None:  # untreated true pain and measurement error at the visits up to the primary one
            v = plan.visit.n_kept  # (or a later durability visit)
            self.pain_visits, self.error_visits = np.zeros(shape + (v,)), np.zeros(shape + (v,))
            self.z_nonspecific = np.zeros(shape)
            d = plan.visit.dropout
            self.dropout_draws = bool(np.any(np.asarray(d.loss_by_52_weeks) > 0) or np.any(np.asarray(d.explant_by_12_weeks) > 0))
            if self.dropout_draws:
                self.u_drop, self.u_explant = np.zeros(shape + (v,)), np.zeros(shape)
            self.trial_shift = plan.visit.trial_nonspecific_sd * rng.draws_at(
                rng.stream_key(seed, Stream.PAIN, "trial")[None], 0, self.trials, 0, normal=True)

    @property
    def n_patients(self) -> int:
        return self.plan.max_patients

    @property
    def prevalence(self) -> np.ndarray:
        return self.plan.population.prevalence

    def reach(self, rows: np.ndarray, upto: np.ndarray) -> None:
        """Make sure patients 0..upto-1 of the trials at `rows` are drawn (in blocks, from their streams).

        The cheap columns are filled in blocks of at least FILL_BLOCK patients; the visit model's (most
        of the cost) exactly up to each trial's `upto`: patients past it are read only where callers
        ignore them (arm < 0)."""
        rows = np.asarray(rows)
        need = np.broadcast_to(np.minimum(upto, self.plan.max_patients), rows.shape)
        short = need > self.filled[rows]
        if not short.any():
            return
        rows, need = rows[short], need[short]
        start = self.filled[rows]
        lo = int(start.min())
        hi = int(min(max(need.max(), lo + FILL_BLOCK), self.plan.max_patients))
        cols = slice(lo, hi)
        trials = self.trials[rows]
        pop = self.plan.population
        # a column nobody can read differently is not drawn (draws are random access: the others are unchanged)
        if len(pop.prevalence) > 1:
            self.phenotype[rows, cols] = pop.phenotype_of(rng.block(self.keys[Stream.COHORT], trials, lo, hi, column=0))
        phenotype = self.phenotype[rows, cols]
        if self.plan.visit is not None:  # the costly columns: only the patients asked for, per trial
            from .cohort_visits import fill  # numba's JIT: only processes with the visit model import it

            fill(self, rows, start, need)
        elif self.plan.pain_scores:
            u_nrs = rng.block(self.keys[Stream.COHORT], trials, lo, hi, column=1)
            self.baseline_nrs[rows, cols] = truncnorm_from_uniform(u_nrs, pop.baseline_nrs, phenotype)
        if self.plan.dropout > 0:
            self.dropout[rows, cols] = rng.block(self.keys[Stream.DROPOUT], trials, lo, hi) < self.plan.dropout
        if self.screens:
            self.u_screen[rows, cols] = rng.block(self.keys[Stream.SCREENING], trials, lo, hi)
        self.u_randomise[rows, cols] = rng.block(self.keys[Stream.RANDOMISATION], trials, lo, hi)
        if self.plan.belief:
            self.u_belief[rows, cols] = rng.block(self.keys[Stream.BLINDING], trials, lo, hi)
        self.filled[rows] = need if self.plan.visit is not None else hi

    def passed_screening(self, model: EffectModel, rows: np.ndarray, patients: np.ndarray,
                         arm: np.ndarray) -> np.ndarray:
        """Passed the arm's screening trial. Under the visit model the result may correlate with the
        patient's nonspecific responsiveness z (Gaussian copula): a more responsive patient (z < 0:
        more relief) passes more often, so passing predicts response only imperfectly (TRIAL-STIM)."""
        u = self.u_screen[rows, patients]
        if self.plan.visit is not None and self.plan.visit.screening_correlation != 0.0:
            u = screening_uniform(u, self.z_nonspecific[rows, patients], self.plan.visit.screening_correlation)
        return u < model.screening_pass[arm]

    def _response_draws(self, arrays: ArmArrays, arm: np.ndarray, t: np.ndarray,
                        patients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u_class, u_loss) per element under its arm, from the arm's outcome stream: a class draw only
        if some share is a mixture, a loss draw only if some response wanes (else constants)."""
        mixed = np.any((arrays.responder_share > 0) & (arrays.responder_share < 1))
        wanes = np.isfinite(arrays.loss_half_life_weeks).any()
        u_class = rng.draws_at(self.outcome_keys, arm, t, patients, column=1) if mixed else np.zeros(arm.shape)
        u_loss = rng.draws_at(self.outcome_keys, arm, t, patients, column=2) if wanes else np.full(arm.shape, 0.5)
        return u_class, u_loss

    def _visit_outcomes(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, at, arm: np.ndarray,
                        passed: np.ndarray, missing: str, screen_failures: str = "observed",
                        early: tuple[int, ...] = ()) -> tuple[np.ndarray, ...]:
        """(outcome, responder, no data) of the visit model at the primary visit, then, if `early` lists
        earlier visit indices, the change in NRS and `seen` (still followed) at those visits.

        `at` indexes patients with `rows` (an index array broadcasting with rows, or a slice of
        consecutive patients). Dropout follows patients.dropout under the assigned arm; `missing`
        says how the analysis treats a patient who left: complete_case (no data), locf (the last
        observed visit, baseline if none) or nonresponder (a non-response, change 0)."""
        vp, arrays = self.plan.visit, model.visit.arrays
        patients = at if not isinstance(at, slice) else np.arange(at.start, at.stop)[None, :]
        t = self.trials[rows] if not isinstance(at, slice) else self.trials[rows][:, None]
        u_class, u_loss = self._response_draws(arrays, arm, t, patients)
        phenotype, z, baseline = self.phenotype[rows, at], self.z_nonspecific[rows, at], self.baseline_nrs[rows, at]
        trial_shift = self.trial_shift[rows] if not isinstance(at, slice) else self.trial_shift[rows][:, None]
        every = self.dropout_draws or bool(early)  # earlier visits: for dropout or longitudinal interims
        weeks = vp.visits[: vp.primary + 1] if every else vp.visits[vp.primary: vp.primary + 1]
        first = vp.primary + 1 - len(weeks)
        visits = slice(first, vp.primary + 1)
        pain, error = self.pain_visits[rows, at, visits], self.error_visits[rows, at, visits]
        expectation = 1.0 if model.blinding is None else model.blinding.expectation(self.u_belief[rows, at], arm)
        drop = (vp.dropout, len(self.plan.arms), baseline, self.u_drop[rows, at, : vp.primary + 1],
                self.u_explant[rows, at]) if self.dropout_draws else ()
        from .cohort_visits import visit_scores  # numba's JIT: only processes with the visit model import it

        # element_shifts, apply_shift, measure and observed_elements in one compiled loop
        nrs, seen = visit_scores(arrays, weeks, arm, phenotype, z, u_class, u_loss, passed, trial_shift, expectation,
                                 pain, error, vp.pain.integer, *drop)
        change = nrs - baseline[..., None]
        responder = -change >= endpoint.responder_reduction * baseline[..., None]
        gone = np.zeros(arm.shape, bool)
        if self.dropout_draws:
            if missing == "complete_case":
                gone = ~seen[..., -1]
            else:  # the patient counts, with an imputed outcome
                change = analysed_change(change, seen, missing)
                responder = analysed_responder(responder, seen, missing).astype(bool)
        final, responder = change[..., -1], responder[..., -1]
        if screen_failures == "nonresponder":  # never implanted: no change, not a responder (ITT)
            final, responder = np.where(passed, final, 0.0), responder & passed
            if early:
                change = np.where(passed[..., None], change, 0.0)
        elif screen_failures == "excluded":  # implanted-only analysis
            gone = gone | ~passed
            if early:
                seen = seen & passed[..., None]
        y, responder = endpoint.visit_outcomes(final, responder)
        if early:  # complete cases only (longitudinal designs): `change` is as measured
            return y, responder, gone, change[..., list(early)], seen[..., list(early)]
        return y, responder, gone

    def sequence_outcomes(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, patients: np.ndarray,
                          arms_by_period: np.ndarray, periods: Periods, visits: tuple[int, ...]
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(change in NRS, responder, followed) at `visits` (indices into the visit model's visits, kept by
        the cohort) of patients[i] of trial rows[i] under a sequence of arms, arms_by_period (..., periods).

        The same latent pain, measurement errors, responsiveness, screening, belief and per-arm outcome
        draws as a parallel design (common random numbers): a one-period sequence gives
        `_visit_outcomes` bit for bit. The shift follows patients.sequence; dropout follows
        patients.dropout over every visit up to the last one asked, each interval under the arm of its
        period. Values are as measured (no imputation); rows and patients broadcast, patients reached."""
        vp, arrays = self.plan.visit, model.visit.arrays
        last = max(visits)
        if last >= vp.n_kept:
            raise ValueError(f"visit {last} is beyond the visits the cohort keeps ({vp.n_kept}): raise VisitPlan.kept")
        rows, patients = np.broadcast_arrays(np.asarray(rows), np.asarray(patients))
        arms = np.broadcast_to(arms_by_period, rows.shape + (periods.n_periods,))
        t = self.trials[rows]
        cols = [(*self._response_draws(arrays, a, t, patients),
                 self.passed_screening(model, rows, patients, a),
                 1.0 if model.blinding is None else model.blinding.expectation(self.u_belief[rows, patients], a))
                for a in np.moveaxis(arms, -1, 0)]
        u_class, u_loss, passed = (np.stack([c[i] for c in cols], axis=-1) for i in range(3))
        expectation = 1.0 if model.blinding is None else np.stack([c[3] for c in cols], axis=-1)
        phenotype, z, baseline = self.phenotype[rows, patients], self.z_nonspecific[rows, patients], \
            self.baseline_nrs[rows, patients]
        pain, error = self.pain_visits[rows, patients], self.error_visits[rows, patients]
        weeks = vp.visits[: last + 1]
        nrs = np.empty(rows.shape + (len(weeks),))
        for j, week in enumerate(weeks):
            shift = sequence_shift(arrays, periods, week, arms, phenotype, z, u_class, u_loss, passed,
                                   self.trial_shift[rows], expectation)
            nrs[..., j] = measure(apply_shift(pain[..., j], shift), error[..., j], vp.pain.integer)
        change = nrs - baseline[..., None]
        responder = -change >= endpoint.responder_reduction * baseline[..., None]
        seen = np.ones(nrs.shape, bool)
        if self.dropout_draws:
            # the arm of each visit's period (one period: the parallel call, bit for bit)
            arm = arms[..., 0] if periods.n_periods == 1 else arms[..., [periods.period_at(w)[0] for w in weeks]]
            seen, _ = observed_elements(vp.dropout, np.asarray(weeks), baseline, nrs, arm, len(self.plan.arms),
                                        self.u_drop[rows, patients][..., : last + 1], self.u_explant[rows, patients])
        at = list(visits)
        return change[..., at], responder[..., at], seen[..., at]

    def outcomes_block_early(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, start: int,
                             arm: np.ndarray, missing: str, visits: tuple[int, ...],
                             screen_failures: str = "observed") -> tuple[np.ndarray, ...]:
        """`outcomes_block` under the visit model, plus the change in NRS and `seen` at earlier `visits`
        (indices), from the same latent pain and draws (common random numbers); `seen` is False from
        the visit a patient left follow-up (patients.dropout under the assigned arm)."""
        cols = slice(start, start + arm.shape[1])
        safe = np.maximum(arm, 0)
        passed = self.passed_screening(model, np.asarray(rows), cols, safe)
        return self._visit_outcomes(endpoint, model, np.asarray(rows), cols, safe, passed, missing,
                                    screen_failures, visits)

    def later_visit(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, arm: np.ndarray,
                    visit: int, screen_failures: str = "observed") -> tuple[np.ndarray, np.ndarray]:
        """(outcome on the endpoint's scale, followed) at a later `visit` (index, kept by the cohort) of
        patients 0..width-1 under arm (rows, width), for a durability decision: the same patients and
        draws as the endpoint."""
        vp, arrays = self.plan.visit, model.visit.arrays
        width = arm.shape[1]
        rows = np.asarray(rows)
        self.reach(rows, np.full(len(rows), width))
        at, safe = slice(0, width), np.maximum(arm, 0)
        patients, t = np.arange(width)[None, :], self.trials[rows][:, None]
        passed = self.passed_screening(model, rows, at, safe)
        u_class, u_loss = self._response_draws(arrays, safe, t, patients)
        phenotype, z, baseline = self.phenotype[rows, at], self.z_nonspecific[rows, at], self.baseline_nrs[rows, at]
        visits = range(visit + 1) if self.dropout_draws else range(visit, visit + 1)
        nrs = np.empty(arm.shape + (len(visits),))
        expectation = 1.0 if model.blinding is None else model.blinding.expectation(self.u_belief[rows, at], safe)
        for j, v in enumerate(visits):
            shift, _ = element_shift(arrays, vp.visits[v], safe, phenotype, z, u_class, u_loss, passed,
                                     self.trial_shift[rows][:, None], expectation)
            nrs[..., j] = measure(apply_shift(self.pain_visits[rows, at, v], shift), self.error_visits[rows, at, v],
                                  vp.pain.integer)
        change = nrs[..., -1] - baseline
        seen = np.ones(arm.shape, bool)
        if self.dropout_draws:
            seen = observed_elements(vp.dropout, np.asarray(vp.visits[: visit + 1]), baseline, nrs, safe,
                                     len(self.plan.arms), self.u_drop[rows, at, : visit + 1],
                                     self.u_explant[rows, at])[0][..., -1]
        if screen_failures == "nonresponder":  # never implanted: no change (as at the primary visit)
            change = np.where(passed, change, 0.0)
        elif screen_failures == "excluded":  # implanted-only analysis
            seen = seen & passed
        responder = -change >= endpoint.responder_reduction * baseline
        return endpoint.visit_outcomes(change, responder)[0], seen

    def baseline_odi(self, rows: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Baseline ODI of patients lo..hi-1 (computed on request; not used by the outcome model)."""
        self.reach(rows, np.full(len(rows), hi))
        u = rng.block(self.keys[Stream.COHORT], self.trials[rows], lo, hi, column=2)
        return truncnorm_from_uniform(u, self.plan.population.baseline_odi, self.phenotype[rows, lo:hi])

    def outcomes(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, patients: np.ndarray,
                 arm: np.ndarray, missing: str = "complete_case") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(outcome on the endpoint's scale, responder, no data) of patients[i] of trial rows[i] under arm[i].

        Inputs broadcast together; the patients must have been reached. "No data" marks patients
        the visit model lost before the endpoint under `missing` = complete_case (the logistics
        dropout is separate: `dropout`).
        """
        rows, patients, arm = np.broadcast_arrays(rows, patients, arm)
        passed = self.passed_screening(model, rows, patients, arm)
        if model.visit is not None:
            return self._visit_outcomes(endpoint, model, rows, patients, arm, passed, missing)
        draw = rng.draws_at(self.outcome_keys, arm, self.trials[rows], patients, normal=endpoint.draw == "normal")
        y, responder = endpoint.outcomes(model, Patients(arm, self.phenotype[rows, patients],
                                                         self.baseline_nrs[rows, patients], passed, draw))
        return y, responder, np.zeros(arm.shape, bool)

    def outcomes_block(self, endpoint: Endpoint, model: EffectModel, rows: np.ndarray, start: int,
                       arm: np.ndarray, missing: str = "complete_case",
                       screen_failures: str = "observed") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`outcomes` of patients start..start+width-1 of the trials at `rows`, arm (rows, width) per patient.

        Entries with arm < 0 are computed under arm 0 with a zero draw: callers ignore them.
        """
        cols = slice(start, start + arm.shape[1])
        safe = np.maximum(arm, 0)
        if model.visit is not None:
            passed = self.passed_screening(model, np.asarray(rows), cols, safe)
            return self._visit_outcomes(endpoint, model, np.asarray(rows), cols, safe, passed, missing, screen_failures)
        passed = self.u_screen[rows, cols] < model.screening_pass[safe]
        draw = rng.per_arm_block(self.outcome_keys, arm, self.trials[rows], start, normal=endpoint.draw == "normal")
        y, responder = endpoint.outcomes(model, Patients(safe, self.phenotype[rows, cols], self.baseline_nrs[rows, cols],
                                                         passed, draw))
        return y, responder, np.zeros(arm.shape, bool)

    def adverse_events(self, rows: np.ndarray, patients: np.ndarray, arm: np.ndarray) -> np.ndarray:
        """Adverse events of each type under the assigned arm, (..., event types) booleans."""
        n_types = len(self.plan.adverse_events)
        rows, patients, arm = np.broadcast_arrays(rows, patients, arm)
        if not n_types:
            return np.zeros(rows.shape + (0,), bool)
        # one stream per event type, keyed by its name; drawn only where the arm has the event
        return rng.uniforms_below(self.event_keys, self.plan.adverse_rates[arm], self.trials[rows],
                                  patients).reshape(rows.shape + (n_types,))
