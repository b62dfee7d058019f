"""YAML file -> validated `Scenario`, or every problem with its path."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .hints import closest
from .rules import check_scenario
from .schema import Scenario


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(Exception):
    """A scenario that cannot be used, with every problem found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "union") or "[" in str(part):
            continue  # pydantic's internal union/validator tags
        else:
            out += ("." if out else "") + str(part)
    return out


def _allowed_keys(model: type, loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at `loc` (for 'did you mean' on unknown keys)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        if part in fields:
            current = _model_of(fields[part].annotation)
        # dict keys (user names such as an arm) keep the value model
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as `dict[str, Arm] | None`."""
    import typing

    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _pydantic_problems(err: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for e in err.errors():
        path = _format_loc(e["loc"])
        if e["type"] == "extra_forbidden":
            key = str(e["loc"][-1])
            hint = closest(key, _allowed_keys(Scenario, e["loc"]))
            msg = f"unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else "; remove it")
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "literal_error":
            msg = e["msg"].replace("Input should be", "must be one of") + f", got {e.get('input')!r}"
        elif e["type"] == "string_type" and e["loc"][-1:] == ("[key]",):
            msg = f"the name {e['input']!r} is read by YAML as {type(e['input']).__name__}, not text; put it in quotes (\"null\":)"
        else:
            msg = e["msg"].replace("Value error, ", "") + (f" (got {e['input']!r})" if "input" in e and not isinstance(e["input"], dict | list) else "")
        if (path, msg) not in seen:  # unions report the same problem per branch
            seen.add((path, msg))
            problems.append(Problem(path, msg))
    return problems


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a parsed YAML document; raise `ScenarioError` with every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [Problem("", "the file must hold a YAML mapping (name:, arms:, truths:, designs:, ...)")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(source, _pydantic_problems(err)) from None
    problems = [Problem(p, m) for p, m in check_scenario(scenario)]
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ScenarioError(source, [Problem("", "no such file")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(source, [Problem("", f"not valid YAML: {where}{getattr(err, 'problem', err)}")]) from None
    except UnicodeDecodeError:
        raise ScenarioError(source, [Problem("", "not a text file")]) from None
    return parse_scenario(data, source)


def scenario_json(s: Scenario) -> str:
    """Canonical JSON of a scenario (stable key order), for provenance and hashing."""
    return json.dumps(s.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def scenario_hash(s: Scenario) -> str:
    """Hash of what is simulated: targets only judge the results, so changing them keeps the hash."""
    data = s.model_dump(mode="json", exclude={"targets"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
