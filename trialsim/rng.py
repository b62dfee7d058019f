"""Named random streams, one value per (trial, patient): counter-based and random-access.

Every random number of a trial is a pure function of (root seed, stream,
stream key, trial, patient, column), computed with the Philox4x32-10
counter-based generator (Salmon et al. 2011, "Parallel random numbers: as easy
as 1, 2, 3"; the generator of Random123, cuRAND and JAX). The stream and its
key (an arm's or adverse event's name) select the Philox key; the trial,
patient and column are the counter. Hence:

- trial i is identical whatever the chunking, workers, designs or truths
  (common random numbers), as with one SeedSequence child per trial;
- streams are independent by purpose: adding an arm or an adverse-event type
  changes no other draw, because outcomes and events are keyed by name;
- any patient's draw can be computed on its own, so outcomes are drawn only
  for the patients a trial reaches, under the arm they were given.

Posterior sampling (PyMC engine) keeps classic generators: `trial_stream`.
"""

from __future__ import annotations

import math
import zlib
from enum import IntEnum

import numpy as np

from . import kernels


class Stream(IntEnum):
    COHORT = 1  # columns: phenotype, baseline NRS, baseline ODI
    ARRIVAL = 2
    SCREENING = 3
    OUTCOMES = 4  # keyed by arm name
    DROPOUT = 5
    RANDOMISATION = 6
    ADVERSE_EVENTS = 7  # keyed by event name
    INFERENCE = 8  # posterior sampling, keyed by design (a Generator per trial)
    PAIN = 9  # the visit model: entry candidates, pain over visits, secondary outcomes (patients/draws.py columns)
    BLINDING = 10  # columns: belief of being on active treatment (shared by every arm), "don't know" at the end


def name_key(name: str) -> int:
    """A stable integer for a name (the same in every process and run)."""
    return zlib.crc32(name.encode())


def stream_key(seed: int, stream: Stream, name: str = "") -> np.ndarray:
    """The Philox key (2 x uint32) of a named stream under a root seed."""
    return np.random.SeedSequence(seed, spawn_key=(int(stream), name_key(name))).generate_state(2, np.uint32)


def trial_stream(seed: int, trial: int, stream: Stream, *extra: int) -> np.random.Generator:
    """A classic generator for one trial's stream (posterior sampling, where draws are sequential)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(trial, int(stream), *extra))))


_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)


@kernels.inner(inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of a counter (c0..c3) under a key (k0, k1); four uint32 words as uint64."""
    for r in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK
        c0, c1, c2, c3 = (hi1 ^ c1 ^ k0) & _MASK, lo1, (hi0 ^ c3 ^ k1) & _MASK, lo0
        if r < 9:
            k0 = (k0 + np.uint64(_W0)) & _MASK
            k1 = (k1 + np.uint64(_W1)) & _MASK
    return c0, c1, c2, c3


@kernels.inner(inline="always")
def _unit(hi, lo):
    """A uniform in (0, 1) from 53 bits of two words (never 0 or 1)."""
    return ((((hi << np.uint64(32)) | lo) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@kernels.jit("f8[::1](u4[:, ::1], i8[::1], i8[::1], i8[::1], i8, b1)")
def _draw(keys, key_index, trial, patient, column, normal):
    out = np.empty(trial.size)
    for i in range(trial.size):
        k = key_index[i]
        t = np.uint64(trial[i])
        w0, w1, w2, w3 = philox4x32(np.uint64(patient[i]), np.uint64(column), t & _MASK, t >> np.uint64(32),
                                    np.uint64(keys[k, 0]), np.uint64(keys[k, 1]))
        u = _unit(w0, w1)
        if normal:  # Box-Muller from the counter's two uniforms
            out[i] = math.sqrt(-2.0 * math.log(u)) * math.cos(2.0 * math.pi * _unit(w2, w3))
        else:
            out[i] = u
    return out


def draws_at(keys: np.ndarray, key_index: np.ndarray, trial: np.ndarray, patient: np.ndarray, column: int = 0,
             normal: bool = False) -> np.ndarray:
    """One uniform (or standard normal) per element: trial[i]'s patient[i] under key keys[key_index[i]].

    Inputs broadcast together; the result has their shape.
    """
    return _elementwise(_draw, keys, key_index, trial, patient, column, normal)


def _elementwise(kernel, keys: np.ndarray, key_index, trial, patient, *args) -> np.ndarray:
    """Call a per-element kernel on broadcast (key index, trial, patient); its output takes their shape
    (plus the kernel's trailing axis, if any)."""
    shape = np.broadcast_shapes(np.shape(key_index), np.shape(trial), np.shape(patient))
    flat = (_flat_int64(a, shape) for a in (key_index, trial, patient))
    out = kernel(np.asarray(keys, np.uint32).reshape(-1, 2), *flat, *args)
    return out.reshape(shape + out.shape[1:])


def _flat_int64(values, shape: tuple[int, ...]) -> np.ndarray:
    """`values` broadcast to `shape`, flattened, as a writeable int64 array: numba would warn about (and
    compile apart) read-only broadcast views."""
    return np.require(np.broadcast_to(np.asarray(values, np.int64), shape), np.int64, "CW").ravel()


@kernels.jit("f8[:, ::1](u4[:, ::1], i8[::1], i8[::1], i8[::1], i8)")
def _draw_pair(keys, key_index, trial, patient, column):
    out = np.empty((trial.size, 2))
    for i in range(trial.size):
        k = key_index[i]
        t = np.uint64(trial[i])
        w0, w1, w2, w3 = philox4x32(np.uint64(patient[i]), np.uint64(column), t & _MASK, t >> np.uint64(32),
                                    np.uint64(keys[k, 0]), np.uint64(keys[k, 1]))
        r = math.sqrt(-2.0 * math.log(_unit(w0, w1)))
        angle = 2.0 * math.pi * _unit(w2, w3)
        out[i, 0] = r * math.cos(angle)  # the same value draws_at(normal=True) gives for this counter
        out[i, 1] = r * math.sin(angle)  # Box-Muller's second normal, independent of the first
    return out


@kernels.jit("f8[:, ::1](u4[:, ::1], i8[::1], i8[::1], i8[::1], i8)")
def _draw_quad(keys, key_index, trial, patient, column):
    out = np.empty((trial.size, 4))
    scale = 1.0 / 4294967296.0
    for i in range(trial.size):
        k = key_index[i]
        t = np.uint64(trial[i])
        w = philox4x32(np.uint64(patient[i]), np.uint64(column), t & _MASK, t >> np.uint64(32),
                       np.uint64(keys[k, 0]), np.uint64(keys[k, 1]))
        for j in range(2):  # Box-Muller on two 32-bit uniforms per pair of normals
            r = math.sqrt(-2.0 * math.log((np.float64(w[2 * j]) + 0.5) * scale))
            angle = 2.0 * math.pi * (np.float64(w[2 * j + 1]) + 0.5) * scale
            out[i, 2 * j] = r * math.cos(angle)
            out[i, 2 * j + 1] = r * math.sin(angle)
    return out


def normal_quads_at(keys: np.ndarray, key_index: np.ndarray, trial: np.ndarray, patient: np.ndarray,
                    column: int = 0) -> np.ndarray:
    """Four independent standard normals per element from one counter (32-bit uniforms), shape (..., 4)."""
    return _elementwise(_draw_quad, keys, key_index, trial, patient, column)


def normal_pairs_at(keys: np.ndarray, key_index: np.ndarray, trial: np.ndarray, patient: np.ndarray,
                    column: int = 0) -> np.ndarray:
    """Two independent standard normals per element from one counter, shape (..., 2): half the cost of two columns."""
    return _elementwise(_draw_pair, keys, key_index, trial, patient, column)


@kernels.jit("f8[:, ::1](u4[::1], i8[::1], i8, i8, i8, b1)")
def _block(key, trials, lo, hi, column, normal):
    out = np.empty((trials.size, hi - lo))
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for b in range(trials.size):
        t = np.uint64(trials[b])
        for i in range(lo, hi):
            w0, w1, w2, w3 = philox4x32(np.uint64(i), np.uint64(column), t & _MASK, t >> np.uint64(32), k0, k1)
            u = _unit(w0, w1)
            if normal:
                out[b, i - lo] = math.sqrt(-2.0 * math.log(u)) * math.cos(2.0 * math.pi * _unit(w2, w3))
            else:
                out[b, i - lo] = u
    return out


@kernels.jit("f8[:, ::1](u4[::1], i8[::1], i8)")
def _exponential_sums(key, trials, n):
    out = np.empty((trials.size, n))
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for b in range(trials.size):
        t = np.uint64(trials[b])
        # the draws first, then the sum: without the sum's serial dependence the Philox loop vectorises
        for i in range(n):
            w0, w1, _, _ = philox4x32(np.uint64(i), np.uint64(0), t & _MASK, t >> np.uint64(32), k0, k1)
            out[b, i] = _unit(w0, w1)
        total = 0.0
        for i in range(n):
            total -= math.log1p(-out[b, i])
            out[b, i] = total
    return out


def exponential_sums(key: np.ndarray, trials: np.ndarray, n: int) -> np.ndarray:
    """Cumulative sums of standard exponentials -log(1 - u) of patients 0..n-1 (u as `block` draws them)."""
    return _exponential_sums(np.asarray(key, np.uint32), np.asarray(trials, np.int64), int(n))


@kernels.jit("f8[:, ::1](u4[:, ::1], i8[:, ::1], i8[::1], i8, b1)")
def _per_arm_block(keys, arm, trials, start, normal):
    out = np.zeros(arm.shape)
    for b in range(trials.size):
        t = np.uint64(trials[b])
        for j in range(arm.shape[1]):
            k = arm[b, j]
            if k < 0:
                continue
            w0, w1, w2, w3 = philox4x32(np.uint64(start + j), np.uint64(0), t & _MASK, t >> np.uint64(32),
                                        np.uint64(keys[k, 0]), np.uint64(keys[k, 1]))
            u = _unit(w0, w1)
            out[b, j] = math.sqrt(-2.0 * math.log(u)) * math.cos(2.0 * math.pi * _unit(w2, w3)) if normal else u
    return out


def per_arm_block(keys: np.ndarray, arm: np.ndarray, trials: np.ndarray, start: int, normal: bool = False) -> np.ndarray:
    """Draws of patients start.. of each trial under the arm each was given (keys[arm]); 0 where arm < 0.

    Equal to `draws_at(keys, arm, trials[:, None], start + column)` without building index arrays.
    """
    return _per_arm_block(np.asarray(keys, np.uint32).reshape(-1, 2), np.ascontiguousarray(arm, np.int64),
                          np.asarray(trials, np.int64), int(start), normal)


def block(key: np.ndarray, trials: np.ndarray, lo: int, hi: int, column: int = 0, normal: bool = False) -> np.ndarray:
    """Draws of patients lo..hi-1 of each trial in one stream, (trials, hi - lo).

    Equal to `draws_at` for the same elements (one kernel loop without index arrays).
    """
    return _block(np.asarray(key, np.uint32), np.asarray(trials, np.int64), int(lo), int(max(hi, lo)), column, normal)


# Scalar pieces of the kernels above for compiled callers that draw several columns per element
# (cohort_visits.py): the same counter layout and arithmetic, hence the same values.
@kernels.inner(inline="always")
def counter_words(k0, k1, trial, patient, column):
    """Philox words of (trial, patient, column) under key (k0, k1), as every kernel here lays out the counter."""
    t = np.uint64(trial)
    return philox4x32(np.uint64(patient), np.uint64(column), t & _MASK, t >> np.uint64(32), np.uint64(k0), np.uint64(k1))


@kernels.inner(inline="always")
def quad_pair(a, b):
    """Two normals of one Box-Muller pair of `normal_quads_at` from its two words (a, b)."""
    scale = 1.0 / 4294967296.0
    r = math.sqrt(-2.0 * math.log((np.float64(a) + 0.5) * scale))
    angle = 2.0 * math.pi * (np.float64(b) + 0.5) * scale
    return r * math.cos(angle), r * math.sin(angle)


@kernels.inner(inline="always")
def uniform_of_words(w0, w1):
    """The uniform `draws_at` makes of a counter's first two words."""
    return _unit(w0, w1)


@kernels.inner(inline="always")
def normal_of_words(w0, w1, w2, w3):
    """The standard normal `draws_at(normal=True)` makes of a counter's words."""
    return math.sqrt(-2.0 * math.log(_unit(w0, w1))) * math.cos(2.0 * math.pi * _unit(w2, w3))


@kernels.jit("b1[:, ::1](u4[:, ::1], f8[:, ::1], i8[::1], i8[::1])")
def _below(keys, rates, trial, patient):
    out = np.zeros(rates.shape, np.bool_)
    for i in range(trial.size):
        for k in range(rates.shape[1]):
            if rates[i, k] > 0:  # a uniform is never below 0: drawn only where it can be
                w0, w1, _, _ = counter_words(keys[k, 0], keys[k, 1], trial[i], patient[i], 0)
                out[i, k] = _unit(w0, w1) < rates[i, k]
    return out


def uniforms_below(keys: np.ndarray, rates: np.ndarray, trial: np.ndarray, patient: np.ndarray) -> np.ndarray:
    """Whether trial[i]'s patient[i] draws below rates[i, k] under key keys[k] (column 0, as `draws_at`):
    (elements, keys) booleans, one kernel pass over every key (adverse events by type)."""
    shape = np.broadcast_shapes(np.shape(trial), np.shape(patient))
    trial, patient = _flat_int64(trial, shape), _flat_int64(patient, shape)
    return _below(np.asarray(keys, np.uint32).reshape(-1, 2), np.require(rates, float, "CW").reshape(trial.size, -1),
                  trial, patient)


def warm_up() -> None:
    """Load every kernel now (the JIT's first call costs most of a second), e.g. in a background thread."""
    key, trials = stream_key(0, Stream.COHORT), np.arange(2)
    block(key, trials, 0, 2)
    exponential_sums(key, trials, 2)
    per_arm_block(np.stack([key, key]), np.zeros((2, 2), np.int64), trials, 0, normal=True)
    draws_at(key, 0, trials, trials)
    uniforms_below(np.stack([key]), np.zeros((2, 1)), trials, trials)
