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


def write_outputs(result: RunResult, out: Path) -> list[Path]:
    from .io import write_netcdf, write_oc_csv, write_oc_markdown

    paths = [out / name for name in OUTPUT_FILES]
    write_netcdf(result.trials, paths[0])
    write_oc_csv(result.oc, paths[1])
    write_oc_markdown(result.oc, paths[2], result.trials)
    return paths


def subset_text(designs: list[str] | None, truths: list[str] | None) -> str:
    """'' for a full run, else which designs and truths were run (provenance, checkpoint identity)."""
    parts = [f"{kind} {', '.join(sorted(names))}" for kind, names in (("designs", designs), ("truths", truths)) if names]
    return "; ".join(parts)


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
                                    ds.attrs.get("engine_override", ""), "look" in ds.dims and ds.sizes["look"] > 0,
                                    ds.attrs.get("subset", ""))
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
                  on_resume: Callable[[int], None] | None = None, command: str | None = None,
                  designs: list[str] | None = None, truths: list[str] | None = None) -> RunResult:
    """Simulate with checkpoints in `out/.chunks` and write trials.nc, oc.csv, oc.md atomically.

    With `resume`, chunks saved by an earlier run of the same scenario, seed and
    engine are reused (an interrupted run finishes; asking for more trials grows
    the result). A folder holding another scenario's or seed's results is
    refused unless `overwrite`. `on_resume` receives the number of trials reused.
    `command` (the command line) is recorded in trials.nc's attrs for the reports.
    `designs` and `truths` run a subset of the scenario (the same patients as a full run).
    """
    out = Path(out)
    plan = plan_for(scenario, n_trials, seed, engine).restricted(truths, designs)
    subset = subset_text(designs, truths)
    identity = RunIdentity(plan.scenario_hash, plan.seed, plan.engine_override, keep_history, subset)
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
    trials.attrs["subset"] = subset
    if command:
        trials.attrs["command"] = command
    from .summarise.oc import oc_table

    result = RunResult(trials, oc_table(trials))
    write_outputs(result, out)
    return result


def _saved_chunks(store: ChunkStore) -> list[ChunkRecords]:
    """The chunks of an earlier run; a damaged one is refused rather than silently recomputed."""
    try:
        return store.load()
    except UNREADABLE:
        raise OutputFolderError(f"a saved chunk in {store.dir} is damaged; run without --resume to start again "
                                "(the finished results in the folder are kept until the new run replaces them)") from None


def compare_folders(folders: list[str | Path], reference: str | None = None, out: str | Path | None = None) -> pd.DataFrame:
    """Compare the designs of result folders (paired when they share scenario and seed);
    write compare.csv and compare.md to `out` (default: the first folder)."""
    from .io import write_oc_csv, write_text
    from .report.tables import compare_markdown
    from .summarise.compare import compare, open_results, target_checks

    results = open_results([str(f) for f in folders])
    table = compare(results, reference)
    out = Path(out or folders[0])
    write_oc_csv(table, out / "compare.csv")
    write_text(compare_markdown(table, [name for name, _ in results], target_checks(results)), out / "compare.md")
    return table


def report_folder(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the self-contained report.html of a results folder (default: folder/report.html).

    Uses the folder's oc.csv and, when present, its compare.csv; otherwise the
    designs of the run are compared with its first design.
    """
    import pandas as pd
    import xarray as xr

    from .io import write_text
    from .report.describe import describe
    from .report.html import report_html
    from .scenario import parse_scenario
    from .summarise.compare import compare
    from .summarise.info import ordered_scenario

    folder = Path(folder)
    trials = xr.load_dataset(folder / "trials.nc", engine="h5netcdf")
    oc = pd.read_csv(folder / "oc.csv", keep_default_na=False, na_values=[""])
    if (folder / "compare.csv").is_file():
        comparison = pd.read_csv(folder / "compare.csv", keep_default_na=False, na_values=[""])
    else:
        comparison = compare([(folder.name, trials)]) if trials.sizes["design"] > 1 else None
    out = Path(out or folder / "report.html")
    description = describe(parse_scenario(ordered_scenario(trials)))
    write_text(report_html(trials, oc, comparison, description), out)
    return out
