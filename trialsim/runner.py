"""Many trials: chunks of trials, each simulated under every truth and design.

A chunk is the unit of work sent to an executor. It draws its trials' random
numbers from per-trial streams (cohort.trial_stream), so results do not
depend on how trials are chunked or which worker runs them: same seed, same
results, bit for bit, for any number of workers.
"""

from __future__ import annotations

import ctypes
import functools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import __version__
from .checkpoint import missing_ranges, trim
from .cohort import build_cohort, draw_raw
from .engine import DesignPlan, run_design
from .inference import quadrature
from .inference.engines import make_inference
from .records import ChunkRecords, design_records, stack_chunk, to_dataset
from .response import effect_model, true_arm_values
from .scenario import Scenario, scenario_hash, scenario_json

DEFAULT_CHUNK = 250


@dataclass(frozen=True)
class RunSettings:
    n_trials: int
    seed: int
    chunk_size: int = DEFAULT_CHUNK
    keep_history: bool = False
    engine: str | None = None  # overrides every design's analysis.engine


def max_patients(scenario: Scenario) -> int:
    return max(d.looks.n_max for d in scenario.designs.values())


@functools.cache
def _keep_freed_memory() -> None:
    """Let glibc malloc keep freed memory for reuse (once per process).

    Every look allocates and frees large numpy temporaries. Processes that
    lower the trim threshold (Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536)
    or run tasks in threads (other malloc arenas) return that memory to the
    OS and fault it back in each time, which measured 40-100% slower here.
    Only malloc's thresholds change; elsewhere than glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's largest allowed value
    libc.mallopt(m_trim_threshold, 256 * 1024 * 1024)


def simulate_chunk(scenario: Scenario, settings: RunSettings, start: int, stop: int) -> ChunkRecords:
    """Simulate trials [start, stop) under every truth and design."""
    _keep_freed_memory()
    trials = np.arange(start, stop)
    raw = draw_raw(scenario, settings.seed, trials, max_patients(scenario))
    per_cell = {}
    for tname, truth in scenario.truths.items():
        cohort = build_cohort(scenario, effect_model(scenario, truth), raw)
        for dname, design in scenario.designs.items():
            plan = DesignPlan.from_design(dname, design, scenario.arm_names)
            infer = make_inference(scenario, dname, settings.engine, settings.seed)
            result = run_design(plan, cohort, infer, scenario.logistics.endpoint_weeks)
            per_cell[(tname, dname)] = design_records(scenario, cohort, result, settings.keep_history,
                                                      infer.fit_counts(cohort.trials))
    return ChunkRecords(start, stop, stack_chunk(per_cell, list(scenario.truths), list(scenario.designs)))


def iter_chunks(scenario: Scenario, settings: RunSettings, todo: list[tuple[int, int]],
                workers: int = 1, executor: Executor | None = None) -> Iterator[ChunkRecords]:
    """Yield chunk records as they finish (order not guaranteed with several workers)."""
    workers = min(workers, len(todo))  # one chunk keeps one worker busy: never start idle processes
    if executor is None and workers <= 1:
        for lo, hi in todo:
            yield simulate_chunk(scenario, settings, lo, hi)
        return
    own = executor is None
    if own:
        quadrature.warm_up()  # forked workers inherit the loaded kernels instead of each loading them
    pool = executor or ProcessPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(simulate_chunk, scenario, settings, lo, hi) for lo, hi in todo]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        if own:
            pool.shutdown(cancel_futures=True)


def provenance(scenario: Scenario, settings: RunSettings) -> dict[str, str]:
    import importlib.metadata as md

    versions = {p: md.version(p) for p in ("numpy", "scipy", "xarray")}
    return {
        "scenario_name": scenario.name,
        "scenario_json": scenario_json(scenario),
        "scenario_hash": scenario_hash(scenario),
        "seed": str(settings.seed),
        "n_trials": str(settings.n_trials),
        "engine_override": settings.engine or "",
        "trialsim_version": __version__,
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def true_values(scenario: Scenario) -> np.ndarray:
    return np.stack([true_arm_values(scenario, effect_model(scenario, t)) for t in scenario.truths.values()])


def simulate(scenario: Scenario, n_trials: int | None = None, seed: int | None = None, workers: int = 1,
             chunk_size: int = DEFAULT_CHUNK, keep_history: bool = False, engine: str | None = None,
             executor: Executor | None = None, on_chunk: Callable[[ChunkRecords], None] | None = None,
             done: list[ChunkRecords] | None = None) -> xr.Dataset:
    """Simulate every design under every truth; the per-trial records as a Dataset.

    The Python entry point behind `trialsim run`. `executor` runs chunks
    (default: in this process for one worker, else a local process pool; a
    Dask client's `get_executor()` works too). `on_chunk` is called as each
    chunk finishes (progress, checkpoints). `done` holds chunks of an earlier
    run with the same scenario and seed: only the missing trials are simulated.
    """
    settings = RunSettings(
        n_trials=n_trials or scenario.simulation.n_trials,
        seed=scenario.simulation.seed if seed is None else seed,
        chunk_size=chunk_size, keep_history=keep_history, engine=engine,
    )
    began = time.perf_counter()
    chunks = trim(done or [], settings.n_trials)
    todo = missing_ranges(chunks, settings.n_trials, settings.chunk_size)
    for chunk in iter_chunks(scenario, settings, todo, workers, executor):
        chunks.append(chunk)
        if on_chunk:
            on_chunk(chunk)
    return finish(scenario, settings, chunks, time.perf_counter() - began)


def finish(scenario: Scenario, settings: RunSettings, chunks: list[ChunkRecords], elapsed: float) -> xr.Dataset:
    ds = to_dataset(scenario, chunks, list(scenario.truths), list(scenario.designs), true_values(scenario),
                    provenance(scenario, settings))
    ds.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ds.attrs["elapsed_seconds"] = f"{elapsed:.3f}"
    return ds
