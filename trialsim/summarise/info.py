"""What a results Dataset (trials.nc) says about its run, read from the Dataset alone.

The scenario travels in `attrs["scenario_json"]`, the codes of stop reasons and
arm fates in the variables' attrs; nothing here imports the scenario schema, so
summaries and reports work on any saved trials.nc.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import xarray as xr


def codes(ds: xr.Dataset, variable: str) -> dict[str, int]:
    """'0=running, 1=superiority' in a variable's attrs -> {'running': 0, 'superiority': 1}."""
    pairs = (item.strip().split("=", 1) for item in ds[variable].attrs["codes"].split(","))
    return {name: int(value) for value, name in pairs}


@dataclass(frozen=True)
class RunInfo:
    """Provenance and scenario facts of one results Dataset."""

    attrs: dict[str, Any]

    @classmethod
    def of(cls, ds: xr.Dataset) -> "RunInfo":
        return cls(dict(ds.attrs))

    @cached_property
    def scenario(self) -> dict[str, Any]:
        return json.loads(self.attrs.get("scenario_json", "{}"))

    @property
    def name(self) -> str:
        return str(self.attrs.get("scenario_name", self.scenario.get("name", "?")))

    @property
    def scenario_hash(self) -> str:
        return str(self.attrs.get("scenario_hash", "?"))

    @property
    def seed(self) -> str:
        return str(self.attrs.get("seed", "?"))

    @property
    def lower_is_better(self) -> bool:
        if "higher_is_better" in self.attrs:  # written by the runner since the endpoint plug-ins
            return not int(self.attrs["higher_is_better"])
        endpoint = self.scenario.get("endpoint", {})
        kind = endpoint.get("type", "nrs_change")
        return kind == "nrs_change" or (kind == "binary" and endpoint.get("higher_is_better") is False)

    @property
    def endpoint_unit(self) -> str:
        kind = self.scenario.get("endpoint", {}).get("type", "nrs_change")
        return "NRS points" if kind == "nrs_change" else "rate"

    def n_looks(self, design: str) -> int:
        looks = self.scenario["designs"][design]["looks"]
        return len(looks["at_patients"]) if looks.get("at_patients") else len(looks["at_weeks"]) + 1

    def design_engine(self, design: str) -> str:
        return self.attrs.get("engine_override") or self.scenario["designs"][design].get("analysis", {}).get("engine", "exact")

    @property
    def targets(self) -> dict[str, dict[str, Any]]:
        return self.scenario.get("targets") or {}

    def patients_key(self, truth: str) -> str:
        """What decides trial i's patients and their outcomes under `truth`: the seed, population,
        logistics, arms, endpoint and the truth itself. Designs only decide who gets what, from
        per-patient draws (rng.py: every draw keyed by stream, trial and patient), so runs with the
        same key share their patients: common random numbers across scenarios and sweep points."""
        s = self.scenario
        parts = {k: s.get(k) for k in ("population", "logistics", "arms", "endpoint")}
        truth_spec = dict(s.get("truths", {}).get(truth) or {})
        truth_spec.pop("description", None)
        return json.dumps(parts | {"truth": truth_spec, "seed": self.seed}, sort_keys=True)

    def provenance(self) -> dict[str, str]:
        """The facts a reader needs to reproduce the run, in display order."""
        engines = sorted({self.design_engine(d) for d in self.scenario.get("designs", {})})
        return {
            "scenario": self.name,
            "scenario hash": self.scenario_hash,
            "trialsim version": str(self.attrs.get("trialsim_version", "?")),
            "seed": self.seed,
            "trials per design and truth": str(self.attrs.get("n_trials", "?")),
            "engine": ", ".join(engines) or "?",
            "command": str(self.attrs.get("command", "")) or "(not recorded)",
            "created": str(self.attrs.get("created", "?")),
            "packages": str(self.attrs.get("versions", "")),
        }


def ordered_scenario(ds: xr.Dataset) -> dict[str, Any]:
    """The run's scenario as a dict, with phenotypes, truths and designs in the file's order.

    The canonical JSON in the attrs sorts keys; the Dataset's coordinates keep the order.
    """
    data = RunInfo.of(ds).scenario

    def order(mapping: dict[str, Any], dim: str) -> dict[str, Any]:
        names = [str(v) for v in ds[dim].values] if dim in ds.coords else []
        return {n: mapping[n] for n in names if n in mapping} | mapping

    data["population"]["phenotypes"] = order(data["population"]["phenotypes"], "phenotype")
    data["truths"] = order(data["truths"], "truth")
    data["designs"] = order(data["designs"], "design")
    return data
