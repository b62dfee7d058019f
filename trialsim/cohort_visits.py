"""The cohort's visit-model draws as one compiled loop (what `Cohort.reach` needs of each patient).

`patients.pain.draw_latent_pain` and `patients.draws.patient_draws` over `visits.StreamDraws`
define the model: entry by rejection among candidates, latent pain and measurement error at
the visits, responsiveness, the observed phenotype and the dropout uniforms. They work on
whole arrays and spend most of their time on index arrays and temporaries. `fill` computes the
same numbers patient by patient, straight into the cohort's arrays, with the same operations
in the same order (the streams' Philox words and Box-Muller arithmetic from rng.py; scipy's own
compiled special functions; libm's exp and log, which numpy calls for float64 on this
machine), so the values are bit for bit those of the array code (tests/test_cohort_visits.py).
It draws only the normals of a quad that are used (two visits per quad; patient draws up to
the last one needed); the others are never read, so nothing else changes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

from . import kernels, rng
from .patients.draws import ATTEMPT_COLUMNS, ATTEMPTS_BASE, MAX_ATTEMPTS, PATIENT_QUADS, VISIT_BASE
from .patients.pain import PainModel, _ar1_steps, screening_sampler
from .patients.scale import NRS_MAX

kernels.use_numba()  # rng's helpers (counter_words, ...) are compiled into this module's kernels

# scipy.special's scalar kernels (the ufuncs' own), called by symbol name so that the kernels cache
_SPECIAL = {"ndtr": "__pyx_fuse_1ndtr", "expit": "__pyx_fuse_0expit", "logit": "__pyx_fuse_0logit"}
_f8 = types.float64(types.float64)
ndtr, expit, logit = (types.ExternalFunction(f"trialsim_{n}", _f8) for n in _SPECIAL)


@functools.cache
def _link_special() -> None:
    """Give the symbols their functions, before a kernel is compiled or loaded (on first use: importing
    scipy.special.cython_special takes most of a second, which processes without visits never pay)."""
    for name, cython in _SPECIAL.items():
        llvm.add_symbol(f"trialsim_{name}", get_cython_function_address("scipy.special.cython_special", cython))

ENTRY = {"baseline": 0, "screening": 1, "both": 2}


@dataclass(frozen=True)
class PainConstants:
    """PainModel's scalars as draw_latent_pain computes them (the same float64 values)."""

    entry: int
    cut: float  # entry: measured score (not rounded) >= cut
    trait_b1: float  # trait | screening level: mean slope and the SD of the rest
    trait_b2: float
    occ_b: float  # baseline fluctuation: AR(1) step from screening, its innovation's SD
    r0: float
    steps: np.ndarray  # AR(1) correlations from baseline to each visit, then the innovations' SDs
    sds: np.ndarray
    quantiles: np.ndarray  # the screening level's quantile table (patients.pain.ScreeningSampler)


@functools.lru_cache(maxsize=64)
def pain_constants(model: PainModel, visit_weeks: tuple[float, ...]) -> PainConstants:
    weeks = np.concatenate([[model.screening_week, 0.0], np.asarray(visit_weeks, dtype=float)])
    if np.any(np.diff(weeks) <= 0):
        raise ValueError(f"visit weeks must be positive and increasing, got {list(visit_weeks)}")
    steps = _ar1_steps(weeks, model.occasion_rho12)
    cut = model.threshold - 0.5 if model.integer else model.threshold
    var_x = model.trait_sd ** 2 + model.occasion_sd ** 2
    r0 = steps[0]
    return PainConstants(
        entry=ENTRY[model.entry_on], cut=cut, trait_b1=model.trait_sd ** 2 / var_x,
        trait_b2=float(model.trait_sd * model.occasion_sd / np.sqrt(var_x)),
        occ_b=float(model.occasion_sd * np.sqrt(1 - r0 * r0)), r0=float(r0), steps=steps[1:],
        sds=np.array([model.occasion_sd * np.sqrt(1.0 - r * r) for r in steps[1:]]),
        quantiles=screening_sampler(model).quantiles if model.entry_on != "baseline" else np.zeros(2))


@numba.njit(cache=True, nogil=True, inline="always")
def _measure(pain, error, integer):
    score = pain * math.exp(error)
    if integer:
        score = np.rint(score)
    return score if score < NRS_MAX else NRS_MAX  # np.minimum(score, 10)


@numba.njit(cache=True, nogil=True)
def _fill(key, trials, rows, start, stop, entry, cut, b1, b2, occ_b, r0, steps, sds, quantiles,
          logit_mean, trait_sd, occasion_sd, error_sd, integer, phenotype, cdf, with_dropout,
          baseline_nrs, pain_visits, error_visits, z_nonspecific, observed_phenotype, u_drop, u_explant):
    """Patients start[b]..stop[b]-1 of trials[b] (cohort row rows[b]); returns those without an entered candidate."""
    k0, k1 = key[0], key[1]
    n_visits = pain_visits.shape[2]
    m = quantiles.size - 1
    misclassified = cdf.shape[0] > 0
    # patient normals needed: responsiveness, then the observed phenotype's, explant's and dropout's
    needed = 3 + n_visits if with_dropout else (2 if misclassified else 1)
    normals = np.empty(needed + 3)
    failed = 0
    for b in range(trials.size):
        t, row = trials[b], rows[b]
        for i in range(start[b], stop[b]):
            entered = False
            trait = occ_bl = err_b = 0.0
            for attempt in range(MAX_ATTEMPTS):  # the first of the patient's candidates to meet the entry rule
                base = ATTEMPTS_BASE + ATTEMPT_COLUMNS * attempt
                w0, w1, w2, w3 = rng.counter_words(k0, k1, t, i, base)
                z0, z1 = rng.quad_pair(w0, w1)
                z2, z3 = rng.quad_pair(w2, w3)
                if entry != 0:  # patients.pain._screened_candidates
                    pos = ndtr(z0) * m
                    j = min(int(pos), m - 1)
                    x = quantiles[j] + (pos - j) * (quantiles[j + 1] - quantiles[j])
                    # (the screening score's error is not kept: the cohort never reads it)
                    trait = logit_mean + b1 * (x - logit_mean) + b2 * z2
                    occ_s = x - trait
                else:
                    trait = logit_mean + trait_sd * z0
                    occ_s = occasion_sd * z1
                occ_bl = r0 * occ_s + occ_b * z3
                w0, w1, w2, w3 = rng.counter_words(k0, k1, t, i, base + 1)
                err_b = error_sd * rng.normal_of_words(w0, w1, w2, w3)
                if entry == 1 or _measure(NRS_MAX * expit(trait + occ_bl), err_b, False) >= cut:
                    entered = True
                    break
            if not entered:
                failed += 1
                continue
            baseline_nrs[row, i] = _measure(NRS_MAX * expit(trait + occ_bl), err_b, integer)
            occ = occ_bl
            for v in range(0, n_visits, 2):  # (fluctuation, error) of two visits per counter
                w0, w1, w2, w3 = rng.counter_words(k0, k1, t, i, VISIT_BASE + v // 2)
                for h in range(v, min(v + 2, n_visits)):
                    zf, ze = rng.quad_pair(w0, w1) if h == v else rng.quad_pair(w2, w3)
                    occ = steps[h] * occ + sds[h] * zf
                    pain_visits[row, i, h] = NRS_MAX * expit(trait + occ)
                    error_visits[row, i, h] = error_sd * ze
            for q in range(0, needed, 4):
                w0, w1, w2, w3 = rng.counter_words(k0, k1, t, i, PATIENT_QUADS + q // 4)
                normals[q], normals[q + 1] = rng.quad_pair(w0, w1)
                if q + 2 < needed:
                    normals[q + 2], normals[q + 3] = rng.quad_pair(w2, w3)
            z_nonspecific[row, i] = normals[0]
            if misclassified:  # patients.phenotype.misclassify
                u = ndtr(normals[1])
                c = cdf[phenotype[row, i]]
                count = 0
                for level in c:
                    if u >= level:
                        count += 1
                observed_phenotype[row, i] = min(count, c.size - 1)
            if with_dropout:  # patients.dropout.dropout_exposures
                u_explant[row, i] = -math.log(ndtr(normals[2]))
                for v in range(n_visits):
                    u_drop[row, i, v] = logit(ndtr(normals[3 + v]))
    return failed


def fill(cohort, rows: np.ndarray, start: np.ndarray, stop: np.ndarray) -> None:
    """Draw patients start[i]..stop[i]-1 of the cohort's trials at rows[i] into its visit arrays (Cohort.reach)."""
    _link_special()
    vp = cohort.plan.visit
    model = vp.pain
    rows = np.asarray(rows, np.int64)
    c = pain_constants(model, tuple(vp.visits[: vp.n_kept]))
    cdf = np.zeros((0, 0)) if vp.confusion is None else np.cumsum(np.asarray(vp.confusion), axis=1)
    drop = cohort.dropout_draws
    empty = np.zeros((0, 0))
    start, stop = (np.require(np.broadcast_to(a, rows.shape), np.int64, 'CW') for a in (start, stop))  # one signature
    failed = _fill(rng.stream_key(cohort.seed, rng.Stream.PAIN), cohort.trials[rows], rows, start, stop, c.entry,
                   c.cut, c.trait_b1, c.trait_b2, c.occ_b, c.r0, c.steps, c.sds, c.quantiles, model.logit_mean, model.trait_sd, model.occasion_sd, model.error_sd, model.integer,
                   cohort.phenotype, cdf, drop, cohort.baseline_nrs, cohort.pain_visits, cohort.error_visits,
                   cohort.z_nonspecific, cohort.observed_phenotype, cohort.u_drop if drop else empty[..., None],
                   cohort.u_explant if drop else empty)
    if failed:
        raise ValueError(f"{failed} patients found no candidate meeting the entry rule in {MAX_ATTEMPTS} tries")


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _scores(weeks, course, nonspecific, nonspecific_sd, share, responder_effect, nonresponder_effect, onset_weeks,
            loss_half_life, arm, phenotype, z, u_class, u_loss, passed, trial_shift, expectation, pain, error, integer,
            dropout, logit_q, log_or, pain_centre, mnar, explant_hazard, baseline, logit_u_drop, explant_exposure,
            nrs, seen):
    """Measured NRS and follow-up at `weeks` of elements each under its own arm (flat; visit axis last)."""
    for e in range(arm.size):
        a, ph = arm[e], phenotype[e]
        # patients.effects.element_shifts: the week-free parts
        base = nonspecific[a] * expectation[e] + trial_shift[e] + nonspecific_sd[a] * z[e]
        responder = u_class[e] < share[a, ph]
        onset = onset_weeks[a]
        lost = onset - loss_half_life[a] * math.log2(u_loss[e])
        positive = onset > 0
        safe_onset = onset if positive else 1.0
        got = 1.0 if passed[e] else 0.0
        explant_week = explant_exposure[e] / explant_hazard[a] if dropout else 0.0
        gone = False
        for j in range(weeks.size):
            week = weeks[j]
            effect = responder_effect[a, ph] if (responder and week < lost) else nonresponder_effect[a, ph]
            if positive:
                ramp = min(max(week / safe_onset, 0.0), 1.0)
            else:
                ramp = 1.0 if week >= 0 else 0.0
            shift = base * course[j, a] + effect * got * ramp
            p = pain[e, j]
            if shift > 0:  # patients.scale.apply_shift: odds where pain gets worse
                true = NRS_MAX * expit(logit(p / NRS_MAX) + shift)
            else:
                true = p * math.exp(min(shift, 0.0))
            score = _measure(true, error[e, j], integer)
            nrs[e, j] = score
            if dropout:  # patients.dropout.observed_elements
                log_odds = logit_q[a, j]
                if log_or != 0.0:
                    before = score if mnar else (baseline[e] if j == 0 else nrs[e, j - 1])
                    log_odds = log_odds + log_or * (before - pain_centre)
                gone = gone or logit_u_drop[e, j] < log_odds or explant_week < week
            seen[e, j] = not gone


def visit_scores(arrays, weeks: tuple[float, ...], arm: np.ndarray, phenotype: np.ndarray, z: np.ndarray,
                 u_class: np.ndarray, u_loss: np.ndarray, passed: np.ndarray, trial_shift, expectation,
                 pain: np.ndarray, error: np.ndarray, integer: bool, dropout=None, n_arms: int = 0,
                 baseline: np.ndarray | None = None, logit_u_drop: np.ndarray | None = None,
                 explant_exposure: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(measured NRS, followed) at `weeks` (..., weeks) of elements under their arms: what
    patients.effects.element_shifts, patients.scale.apply_shift / measure and, given a DropoutModel,
    patients.dropout.observed_elements make of the same inputs, bit for bit, without their temporaries.

    Element inputs broadcast to arm's shape; pain, error and logit_u_drop have the weeks last."""
    from .patients.dropout import dropout_tables
    from .patients.effects import _course_weights

    _link_special()
    shape = arm.shape
    flat = lambda a, dtype=float: np.require(np.broadcast_to(a, shape), dtype, 'CW').ravel()  # noqa: E731 (one signature)
    visits = lambda a: np.require(a, float, 'CW').reshape(-1, len(weeks))  # noqa: E731
    course = np.stack([_course_weights(arrays.courses, float(w)) for w in weeks])
    none = np.zeros((1, 1))
    if dropout is not None:
        logit_q, hazard = dropout_tables(dropout, np.asarray(weeks, float), n_arms)
        log_or = float(np.log(dropout.odds_ratio_per_point)) if dropout.odds_ratio_per_point != 1.0 else 0.0
        extra = (logit_q, log_or, dropout.pain_centre, dropout.mechanism == "mnar", hazard, flat(baseline),
                 visits(logit_u_drop), flat(explant_exposure))
    else:
        extra = (none, 0.0, 0.0, False, np.zeros(1), np.zeros(1), none, np.zeros(1))
    n = int(np.prod(shape))
    nrs, seen = np.empty((n, len(weeks))), np.empty((n, len(weeks)), bool)
    _scores(np.asarray(weeks, float), course, arrays.nonspecific, arrays.nonspecific_sd, arrays.responder_share,
            arrays.responder_effect, arrays.nonresponder_effect, arrays.specific_onset_weeks,
            arrays.loss_half_life_weeks, flat(arm, np.int64), flat(phenotype, np.int64), flat(z), flat(u_class),
            flat(u_loss), flat(passed, bool), flat(trial_shift), flat(expectation), visits(pain), visits(error),
            integer, dropout is not None, *extra, nrs, seen)
    return nrs.reshape(shape + (len(weeks),)), seen.reshape(shape + (len(weeks),))


def warm_up() -> None:
    """Load both kernels now (before forking workers that inherit them), with the argument types the cohort
    passes and no patient to draw."""
    _link_special()
    one, i8 = np.zeros(1), np.zeros(1, np.int64)
    p2, p3 = np.zeros((1, 1)), np.zeros((1, 1, 1))
    _fill(np.zeros(2, np.uint32), i8, i8, i8, i8, 2, 5.5, 0.5, 0.5, 0.1, 0.5, one, one, one, 0.0, 1.0, 0.2, 0.1, True,
          np.zeros((1, 1), np.int16), p2, True, p2, p3, p3, p2, np.zeros((1, 1), np.int16), p3, p2)
    flat = np.zeros(0)
    _scores(one, p2, one, one, p2, p2, p2, one, one, np.zeros(0, np.int64), np.zeros(0, np.int64), flat, flat, flat,
            np.zeros(0, bool), flat, flat, np.zeros((0, 1)), np.zeros((0, 1)), True, True, p2, 0.1, 5.0, False, one,
            flat, np.zeros((0, 1)), flat, np.zeros((0, 1)), np.zeros((0, 1), bool))
