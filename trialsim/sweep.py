"""A grid of scenarios over dotted paths (`designs.adaptive.looks.at_patients`), each run like `run`.

Every grid point is a full scenario, validated as a file would be, and run
with the same seed into its own folder (`OUT/points/<scenario hash>_<seed>`, with
checkpoints, so an interrupted sweep resumes and a repeated point is reused).
Every draw is keyed by trial and patient (rng.py), so grid points that leave
the population, arms and truths alone simulate the same patients: common
random numbers, and `trialsim compare` pairs their folders. `sweep.csv` stacks
the OC tables with one column per swept path.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .scenario import Scenario, parse_scenario, scenario_hash


class SweepError(ValueError):
    """A --set that cannot be applied (unknown path, unparsable values)."""


@dataclass(frozen=True)
class Setting:
    path: str
    values: tuple[Any, ...]


def split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets and braces: '[1,2],[3]' -> ['[1,2]', '[3]']."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current]


def parse_setting(text: str) -> Setting:
    """'PATH=V1,V2,...' with YAML values: 0.99 / [200, 500] / {threshold: 0.1} / "null"."""
    path, sep, values = text.partition("=")
    if not sep or not path.strip() or not values.strip():
        raise SweepError(f"'{text}': expected PATH=V1,V2,... (e.g. designs.adaptive.decisions.superiority=0.98,0.99)")
    try:
        parsed = tuple(yaml.safe_load(v) for v in split_top_level(values))
    except yaml.YAMLError as err:
        raise SweepError(f"'{text}': a value is not valid YAML ({err})") from None
    return Setting(path.strip(), parsed)


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set data[a][b][c] for path 'a.b.c' (integers index lists); the path must exist."""
    from .scenario.hints import closest

    keys = path.split(".")
    node: Any = data
    for depth, key in enumerate(keys):
        where = ".".join(keys[:depth]) or "the scenario"
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise SweepError(f"{path}: {where} is a list of {len(node)}; use an index 0-{len(node) - 1}")
            key = int(key)
        elif not isinstance(node, dict) or key not in node:
            valid = list(node) if isinstance(node, dict) else []
            hint = closest(key, valid)
            raise SweepError(f"{path}: no '{key}' in {where}" + (f" (did you mean '{hint}'?)" if hint else
                                                                 f"; choose from {', '.join(valid)}" if valid else ""))
        if depth == len(keys) - 1:
            node[key] = value
        else:
            node = node[key]


def grid(base: Scenario, settings: Sequence[Setting]) -> list[tuple[dict[str, Any], Scenario]]:
    """Every combination of the settings' values: (values by path, validated scenario)."""
    points = []
    for combo in itertools.product(*(s.values for s in settings)):
        data = base.model_dump(mode="json")
        values = {}
        for s, v in zip(settings, combo):
            set_path(data, s.path, v)
            values[s.path] = v
        points.append((values, parse_scenario(data, source=", ".join(f"{k}={json.dumps(v)}" for k, v in values.items()))))
    return points


def sweep(base: Scenario, settings: Sequence[Setting], out: Path, n_trials: int | None = None, seed: int | None = None,
          workers: int = 1, on_point: Callable[[int, int, dict[str, Any]], None] | None = None) -> pd.DataFrame:
    """Run every grid point into OUT/points/<scenario hash>_<seed>; write and return OUT/sweep.csv.

    Columns: one per swept path (values as JSON), then design, truth, metric, estimate, mcse, point.
    """
    from .api import run_to_folder
    from .io import write_oc_csv

    from .summarise.targets import check_targets

    out = Path(out)
    points = grid(base, settings)
    frames, checks = [], []
    for k, (values, scenario) in enumerate(points):
        if on_point:
            on_point(k, len(points), values)
        point_seed = scenario.simulation.seed if seed is None else seed
        folder = out / "points" / f"{scenario_hash(scenario)}_{point_seed}"
        result = run_to_folder(scenario, folder, n_trials=n_trials, seed=point_seed, workers=workers, resume=True)
        oc = result.oc.copy()
        for path, v in reversed(values.items()):
            oc.insert(0, path, json.dumps(v))
        oc["point"] = folder.name
        frames.append(oc)
        judged = check_targets(result.oc, result.trials)
        for path, v in reversed(values.items()):
            judged.insert(0, path, json.dumps(v))
        checks.append(judged)
    table = pd.concat(frames, ignore_index=True)
    write_oc_csv(table, out / "sweep.csv")
    if any(len(c) for c in checks):
        write_oc_csv(pd.concat(checks, ignore_index=True), out / "sweep_targets.csv")
    return table


def smallest_meeting_targets(checks: pd.DataFrame, path: str) -> pd.DataFrame:
    """Per design (and values of the other swept paths), the smallest value of `path` at which every
    target is met; non-numeric values (look schedules) count in the order they were given.

    `checks` is sweep_targets.csv's frame. A point counts only if every verdict is "met" (clear of
    the bound by 2 MCSE); a design that meets the targets nowhere gets no row.
    """
    others = [c for c in checks.columns[: list(checks.columns).index("target")] if c != path]
    rows = []
    for key, part in checks.groupby(["design", *others], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        all_met = part.groupby(path, sort=False)["verdict"].agg(lambda v: bool((v == "met").all()))
        meeting = [json.loads(v) for v in all_met.index[all_met.to_numpy(bool)]]
        if meeting:
            numeric = all(isinstance(v, int | float) for v in meeting)
            rows.append((*key, json.dumps(min(meeting) if numeric else meeting[0])))
    return pd.DataFrame.from_records(rows, columns=["design", *others, path])
