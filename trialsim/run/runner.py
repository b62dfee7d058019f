"""Many trials: chunks of trials, each simulated under every truth and design.

A chunk is the unit of work sent to an executor. Its trials' random numbers
come from named streams indexed by trial (rng.py), so results do not depend
on how trials are chunked or which worker runs them: same seed, same results,
bit for bit, for any number of workers.
"""

from __future__ import annotations

import ctypes
import functools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

from .. import __version__
from ..cohort import Cohort
from ..plan import TrialPlan
from ..design.families import run_any
from ..inference.engines import make_inference
from .checkpoint import missing_ranges, trim
from .records import ChunkRecords, design_records, stack_chunk, to_dataset

if TYPE_CHECKING:
    import xarray as xr

DEFAULT_CHUNK = 500  # trials per chunk: larger chunks spread the per-look overhead (+6% over 250)


@dataclass(frozen=True)
class RunSettings:
    chunk_size: int = DEFAULT_CHUNK
    keep_history: bool = False


def warm_up_kernels(plan: TrialPlan | None = None) -> None:
    """Load the compiled kernels (random streams, quadrature, ...): ahead-of-time ones load at once,
    numba's JIT costs most of a second. The visit model's kernels (JIT only) are loaded if the plan has
    the visit model (or no plan is given)."""
    from .. import blinding, rng
    from ..design import allocation, observe
    from ..inference import quadrature

    rng.warm_up()
    blinding.warm_up()
    quadrature.warm_up()
    observe.warm_up()
    allocation.warm_up()
    if plan is None or plan.cohort.visit is not None:
        from .. import cohort_visits
        from ..design import longitudinal

        cohort_visits.warm_up()
        longitudinal.warm_up()


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


def simulate_chunk(plan: TrialPlan, settings: RunSettings, start: int, stop: int) -> ChunkRecords:
    """Simulate trials [start, stop) under every truth and design (the same patients for all)."""
    _keep_freed_memory()
    cohort = Cohort(plan.cohort, plan.seed, np.arange(start, stop))
    per_cell = {}
    for tname, truth in plan.truths.items():
        for dname, design in plan.designs.items():
            infer = make_inference(design.analysis, plan.seed, dname)
            result = run_any(design, cohort, truth, infer)
            blinded = None
            if truth.blinded is not None:  # the same design, patients and truth under perfect blinding
                blinded = run_any(design, cohort, truth.blinded, make_inference(design.analysis, plan.seed, dname))
            per_cell[(tname, dname)] = design_records(plan, cohort, result, settings.keep_history,
                                                      infer.fit_counts(cohort.trials), truth.model.blinding, blinded)
    return ChunkRecords(start, stop, stack_chunk(per_cell, list(plan.truths), list(plan.designs)))


def iter_chunks(plan: TrialPlan, settings: RunSettings, todo: list[tuple[int, int]],
                workers: int = 1, executor: Executor | None = None) -> Iterator[ChunkRecords]:
    """Yield chunk records as they finish (order not guaranteed with several workers)."""
    workers = min(workers, len(todo))  # one chunk keeps one worker busy: never start idle processes
    if executor is None and workers <= 1:
        for lo, hi in todo:
            yield simulate_chunk(plan, settings, lo, hi)
        return
    own = executor is None
    if own:
        from concurrent.futures import ProcessPoolExecutor  # multiprocessing: ~25 ms, for several workers only

        warm_up_kernels(plan)  # forked workers inherit the loaded kernels instead of each loading them
    pool = executor or ProcessPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(simulate_chunk, plan, settings, lo, hi) for lo, hi in todo]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        if own:
            pool.shutdown(cancel_futures=True)


def provenance(plan: TrialPlan) -> dict[str, str]:
    import importlib.metadata as md

    versions = {p: md.version(p) for p in ("numpy", "scipy", "xarray")}
    return {
        "scenario_name": plan.name,
        "scenario_json": plan.scenario_json,
        "scenario_hash": plan.scenario_hash,
        "seed": str(plan.seed),
        "n_trials": str(plan.n_trials),
        "engine_override": plan.engine_override,
        "endpoint": plan.endpoint.name,
        "higher_is_better": str(int(plan.endpoint.higher_is_better)),
        "trialsim_version": __version__,
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def simulate(plan: TrialPlan, workers: int = 1, chunk_size: int = DEFAULT_CHUNK, keep_history: bool = False,
             executor: Executor | None = None, on_chunk: Callable[[ChunkRecords], None] | None = None,
             done: list[ChunkRecords] | None = None) -> xr.Dataset:
    """Simulate every design under every truth of a compiled plan; the per-trial records as a Dataset.

    The Python entry point behind `trialsim run`. `executor` runs chunks
    (default: in this process for one worker, else a local process pool; a
    Dask client's `get_executor()` works too). `on_chunk` is called as each
    chunk finishes (progress, checkpoints). `done` holds chunks of an earlier
    run with the same scenario and seed: only the missing trials are simulated.
    """
    settings = RunSettings(chunk_size=chunk_size, keep_history=keep_history)
    began = time.perf_counter()
    chunks = trim(done or [], plan.n_trials)
    todo = missing_ranges(chunks, plan.n_trials, settings.chunk_size)
    for chunk in iter_chunks(plan, settings, todo, workers, executor):
        chunks.append(chunk)
        if on_chunk:
            on_chunk(chunk)
    ds = to_dataset(plan, chunks, provenance(plan))
    ds.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ds.attrs["elapsed_seconds"] = f"{time.perf_counter() - began:.3f}"
    return ds
