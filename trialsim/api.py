"""The Python API behind the CLI: load, simulate, summarise, write, resume."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from .checkpoint import ChunkStore, RunIdentity
from .io import write_netcdf, write_oc_csv, write_oc_markdown
from .oc import oc_table
from .records import ChunkRecords
from .runner import simulate
from .scenario import Scenario, load_scenario, scenario_hash

OUTPUT_FILES = ("trials.nc", "oc.csv", "oc.md")


@dataclass(frozen=True)
class RunResult:
    trials: xr.Dataset
    oc: pd.DataFrame


class OutputConflict(Exception):
    """The output folder holds results of another scenario or seed."""


def run(scenario: Scenario | str | Path, **kwargs) -> RunResult:
    """Simulate a scenario (object or YAML path) and compute its OC table.

    Keyword arguments go to `runner.simulate` (n_trials, seed, workers, ...).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    trials = simulate(scenario, **kwargs)
    return RunResult(trials, oc_table(scenario, trials))


def write_outputs(result: RunResult, out: Path) -> list[Path]:
    paths = [out / name for name in OUTPUT_FILES]
    write_netcdf(result.trials, paths[0])
    write_oc_csv(result.oc, paths[1])
    write_oc_markdown(result.oc, paths[2], result.trials)
    return paths


def _identity_in(out: Path, store: ChunkStore) -> RunIdentity | None:
    """The identity of results already in `out` (checkpoint manifest, else trials.nc), if any."""
    found = store.identity()
    if found is None and (out / "trials.nc").is_file():
        with xr.open_dataset(out / "trials.nc", engine="h5netcdf") as ds:
            found = RunIdentity(ds.attrs.get("scenario_hash", "?"), int(ds.attrs.get("seed", -1)),
                                ds.attrs.get("engine_override", ""), "look" in ds.dims and ds.sizes["look"] > 0,
                                ds.attrs.get("subset", ""))
    return found


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
    from .runner import RunSettings, subset_text

    out = Path(out)
    seed = scenario.simulation.seed if seed is None else seed
    subset = subset_text(RunSettings(0, seed, designs=tuple(designs) if designs else None,
                                     truths=tuple(truths) if truths else None))
    identity = RunIdentity(scenario_hash(scenario), seed, engine or "", keep_history, subset)
    store = ChunkStore(out)
    existing = _identity_in(out, store)
    if existing and (existing.scenario_hash, existing.seed) != (identity.scenario_hash, identity.seed) and not overwrite:
        raise OutputConflict(f"{out} holds results of another run ({existing.describe()}); this run has "
                             f"{identity.describe()}. Choose another --out, or pass --overwrite to replace them")
    done = store.load() if resume and store.identity() == identity else []
    if not done:
        store.start(identity)
    if on_resume:
        on_resume(sum(c.stop - c.start for c in done))

    def checkpoint(chunk: ChunkRecords) -> None:
        store.save(chunk)
        if on_chunk:
            on_chunk(chunk)

    trials = simulate(scenario, n_trials=n_trials, seed=seed, workers=workers, engine=engine,
                      keep_history=keep_history, executor=executor, on_chunk=checkpoint, done=done,
                      designs=designs, truths=truths)
    if command:
        trials.attrs["command"] = command
    result = RunResult(trials, oc_table(scenario, trials))
    write_outputs(result, out)
    return result


def compare_folders(folders: list[str | Path], reference: str | None = None, out: str | Path | None = None) -> pd.DataFrame:
    """Compare the designs of result folders (paired when they share scenario and seed);
    write compare.csv and compare.md to `out` (default: the first folder)."""
    from .io import write_text
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
    from .describe import describe
    from .io import write_text
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
