"""The Python API behind the CLI: load, simulate, summarise, write, resume."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .compile import Overrides, compile_scenario
from .errors import OutputFolderError
from .limits import check_fits
from .plan import TrialPlan
from .run.checkpoint import ChunkStore, RunIdentity
from .run.records import ChunkRecords
from .run.runner import DEFAULT_CHUNK, simulate
from .scenario import Scenario, load_scenario

if TYPE_CHECKING:  # heavy imports wait until results exist: time to the first trial
    import pandas as pd
    import xarray as xr

OUTPUT_FILES = ("trials.nc", "oc.csv", "oc.md")


@dataclass(frozen=True)
class RunResult:
    trials: xr.Dataset
    oc: pd.DataFrame


class OutputConflict(OutputFolderError):
    """The output folder holds results of another scenario or seed."""


# what reading a damaged checkpoint or trials.nc raises (json, numpy's npz, h5netcdf)
UNREADABLE = (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile)


def plan_for(scenario: Scenario | str | Path, n_trials: int | None = None, seed: int | None = None,
             engine: str | None = None) -> TrialPlan:
    """The compiled plan of a scenario (object or YAML path) with overrides (validated like the file)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return compile_scenario(scenario, Overrides(engine=engine, n_trials=n_trials, seed=seed))


def run(scenario: Scenario | str | Path, n_trials: int | None = None, seed: int | None = None,
        engine: str | None = None, **kwargs) -> RunResult:
    """Simulate a scenario (object or YAML path) and compute its OC table.

    Other keyword arguments go to `run.runner.simulate` (workers, chunk_size, keep_history, executor, ...).
    """
    from .summarise.oc import oc_table

    plan = plan_for(scenario, n_trials, seed, engine)
    check_fits(plan, kwargs.get("chunk_size", DEFAULT_CHUNK), kwargs.get("workers", 1), kwargs.get("keep_history", False))
    trials = simulate(plan, **kwargs)
    return RunResult(trials, oc_table(trials))


def write_outputs(result: RunResult, out: Path, title: str) -> list[Path]:
    from .io import write_netcdf, write_oc_csv, write_oc_markdown

    paths = [out / name for name in OUTPUT_FILES]
    write_netcdf(result.trials, paths[0])
    write_oc_csv(result.oc, paths[1])
    write_oc_markdown(result.oc, paths[2], title)
    return paths


def _identity_in(out: Path, store: ChunkStore, overwrite: bool) -> RunIdentity | None:
    """The identity of results already in `out` (checkpoint manifest, else trials.nc), if any.

    Unreadable results are refused (they may be someone's only copy) unless `overwrite`.
    """
    try:
        found = store.identity()
    except UNREADABLE:
        if overwrite:
            return None
        raise OutputFolderError(f"{store.manifest} is damaged or incomplete; pass --overwrite to start afresh "
                                "in this folder, or choose another --out") from None
    if found is None and (out / "trials.nc").is_file():
        import xarray as xr

        try:
            with xr.open_dataset(out / "trials.nc", engine="h5netcdf") as ds:
                found = RunIdentity(ds.attrs.get("scenario_hash", "?"), int(ds.attrs.get("seed", -1)),
                                    ds.attrs.get("engine_override", ""), "look" in ds.dims and ds.sizes["look"] > 0)
        except UNREADABLE:
            if overwrite:
                return None
            raise OutputFolderError(f"{out / 'trials.nc'} is not a trialsim result (not readable as netCDF); pass "
                                    "--overwrite to replace it, or choose another --out") from None
    return found


def check_output_folder(out: Path) -> None:
    """Refuse an output folder that cannot be created or written, before anything is written."""
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out} is a file; give a folder")
    existing = out
    while not existing.exists():  # the nearest ancestor that exists decides
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise OutputFolderError(f"{existing} is a file, so {out} cannot be created; choose another folder")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError(f"{existing} is not writable; choose another folder")


def _make_folder(out: Path) -> list[Path]:
    """Create `out` and missing parents; the folders created, so a refused run can remove them."""
    missing = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _remove_empty(missing)
        raise OutputFolderError(f"cannot create {out} ({err.strerror or err}); choose another folder") from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            pass


def run_to_folder(scenario: Scenario, out: Path, *, n_trials: int | None = None, seed: int | None = None,
                  workers: int = 1, engine: str | None = None, keep_history: bool = False, resume: bool = False,
                  overwrite: bool = False, executor: Executor | None = None,
                  on_chunk: Callable[[ChunkRecords], None] | None = None,
                  on_resume: Callable[[int], None] | None = None) -> RunResult:
    """Simulate with checkpoints in `out/.chunks` and write trials.nc, oc.csv, oc.md atomically.

    With `resume`, chunks saved by an earlier run of the same scenario, seed and
    engine are reused (an interrupted run finishes; asking for more trials grows
    the result). A folder holding another scenario's or seed's results is
    refused unless `overwrite`. `on_resume` receives the number of trials reused.
    """
    out = Path(out)
    plan = plan_for(scenario, n_trials, seed, engine)
    identity = RunIdentity(plan.scenario_hash, plan.seed, plan.engine_override, keep_history)
    check_output_folder(out)
    store = ChunkStore(out)
    existing = _identity_in(out, store, overwrite)
    if existing and (existing.scenario_hash, existing.seed) != (identity.scenario_hash, identity.seed) and not overwrite:
        raise OutputConflict(f"{out} holds results of another run ({existing.describe()}); this run has "
                             f"{identity.describe()}. Choose another --out, or pass --overwrite to replace them")
    check_fits(plan, DEFAULT_CHUNK, 1 if executor is not None else workers, keep_history)
    done = _saved_chunks(store) if resume and existing == identity else []
    created = _make_folder(out)
    try:
        if not done:
            store.start(identity)
    except OSError as err:
        _remove_empty([store.dir, *created])
        raise OutputFolderError(f"cannot write in {out} ({err.strerror or err}); choose another folder") from None
    if on_resume:
        on_resume(sum(c.stop - c.start for c in done))

    def checkpoint(chunk: ChunkRecords) -> None:
        store.save(chunk)
        if on_chunk:
            on_chunk(chunk)

    trials = simulate(plan, workers=workers, keep_history=keep_history, executor=executor, on_chunk=checkpoint,
                      done=done)
    from .summarise.oc import oc_table

    result = RunResult(trials, oc_table(trials))
    write_outputs(result, out, plan.name)
    return result


def _saved_chunks(store: ChunkStore) -> list[ChunkRecords]:
    """The chunks of an earlier run; a damaged one is refused rather than silently recomputed."""
    try:
        return store.load()
    except UNREADABLE:
        raise OutputFolderError(f"a saved chunk in {store.dir} is damaged; run without --resume to start again "
                                "(the finished results in the folder are kept until the new run replaces them)") from None
