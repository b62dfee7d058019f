"""The Python API behind the CLI: load, simulate, summarise, write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from .io import write_netcdf, write_oc_csv, write_oc_markdown
from .oc import oc_table
from .runner import simulate
from .scenario import Scenario, load_scenario


@dataclass(frozen=True)
class RunResult:
    trials: xr.Dataset
    oc: pd.DataFrame


def run(scenario: Scenario | str | Path, **kwargs) -> RunResult:
    """Simulate a scenario (object or YAML path) and compute its OC table.

    Keyword arguments go to `runner.simulate` (n_trials, seed, workers, ...).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    trials = simulate(scenario, **kwargs)
    return RunResult(trials, oc_table(scenario, trials))


def write_outputs(result: RunResult, out: Path, title: str) -> list[Path]:
    paths = [out / "trials.nc", out / "oc.csv", out / "oc.md"]
    write_netcdf(result.trials, paths[0])
    write_oc_csv(result.oc, paths[1])
    write_oc_markdown(result.oc, paths[2], title)
    return paths
