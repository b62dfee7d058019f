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
from .schema import Scenario, shown


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
    for i, part in enumerate(loc):
        if isinstance(part, int) and loc[i + 1:i + 2] != ("[key]",):  # a list index, not a numeric mapping key
            out += f"[{part}]"
        elif part == "[key]" or str(part).startswith("<") or "[" in str(part) or str(part).startswith("function-"):
            continue  # pydantic's key marker, union branch tags (<number>, ...) and validator tags
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


def _key_message(key: Any) -> str:
    """A mapping key YAML did not read as text (null, a number, a boolean)."""
    if key is None:
        return "a name is empty (YAML reads a bare null or ~ as no value); give a name such as 'no_effect'"
    kind = "a boolean" if isinstance(key, bool) else "a number" if isinstance(key, int | float) else type(key).__name__
    return f"the name {shown(key)} is read by YAML as {kind}, not text; put it in quotes (\"{key}\":)"


def _message(e: dict[str, Any]) -> str:
    """One line for one pydantic error, without internal type names, with a short echo of the input."""
    kind = e["type"]
    if kind == "extra_forbidden":
        key = str(e["loc"][-1])
        hint = closest(key, _allowed_keys(Scenario, e["loc"]))
        return f"unknown key {shown(key)}" + (f" (did you mean '{hint}'?)" if hint else "; remove it")
    if kind == "missing":
        return "required field is missing"
    if e["loc"][-1:] == ("[key]",):
        return _key_message(e["input"]) if kind == "string_type" else e["msg"].replace("Value error, ", "")
    if kind == "value_error":  # our validators' messages name the value themselves
        return e["msg"].replace("Value error, ", "")
    msg = e["msg"].replace("Input should be", "must be one of" if kind == "literal_error" else "must be")
    value = e.get("input")
    return msg + (f", got {shown(value)}" if not isinstance(value, dict | list) else "")


def _pydantic_problems(err: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for e in err.errors():
        loc = e["loc"]
        if loc[-1:] == ("[key]",) and e.get("input") is None:
            loc = loc[:-2] + ("null",)  # pydantic spells a None key 'None'; the file said null or ~
        problem = Problem(_format_loc(loc), _message(e))
        if problem not in problems:
            problems.append(problem)
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


class _Loader(yaml.SafeLoader):
    """SafeLoader whose integers too long for Python's int() are a YAML problem, not a ValueError."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"the number {shown(node.value, 20)} has {len(node.value)} digits: too large",
                node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _duplicate_keys(root: yaml.Node) -> list[Problem]:
    """Keys given twice in one mapping (YAML would keep the last silently), with their paths.

    Walks the node graph with a stack, not recursion, and visits shared (aliased) nodes once.
    """
    problems: list[Problem] = []
    stack, seen = [(root, "")], set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
                child = f"{path}.{name}" if path else str(name)
                if name is not None and name != "<<":
                    if name in first:
                        problems.append(Problem(child, f"key {shown(name)} appears twice (lines {first[name] + 1} and "
                                                       f"{key.start_mark.line + 1}); keep one"))
                    first.setdefault(name, key.start_mark.line)
                stack.append((value, child))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
    return problems


MAX_DEPTH = 64  # a scenario nests about 6 levels; YAML's composer recurses per level


def _check_depth(text: str, source: str) -> None:
    """Refuse deep nesting from the event stream (parsed without recursion), before composing."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ScenarioError(source, [Problem("", f"nested too deeply: more than {MAX_DEPTH} levels at line "
                                                         f"{event.start_mark.line + 1}")])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def read_yaml(text: str, source: str) -> Any:
    """Parse YAML text; raise `ScenarioError` for syntax errors, deep nesting and duplicate keys."""
    loader = _Loader(text)
    try:
        _check_depth(text, source)
        node = loader.get_single_node()
        duplicates = _duplicate_keys(node) if node is not None else []
        if duplicates:
            raise ScenarioError(source, duplicates)
        return loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or err
        raise ScenarioError(source, [Problem("", f"not valid YAML: {where}{shown(str(problem), 200)[1:-1]}")]) from None
    finally:
        loader.dispose()


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ScenarioError(source, [Problem("", "is a folder; give a scenario YAML file")])
    if not path.is_file():
        raise ScenarioError(source, [Problem("", "no such file")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(source, [Problem("", "not a text file")]) from None
    except OSError as err:
        raise ScenarioError(source, [Problem("", f"cannot read the file ({err.strerror or err})")]) from None
    try:
        return parse_scenario(read_yaml(text, source), source)
    except RecursionError:  # ~500 nested brackets exhaust the parser's (and pydantic's) recursion
        raise ScenarioError(source, [Problem("", "nested too deeply to be a scenario file")]) from None


def scenario_json(s: Scenario) -> str:
    """Canonical JSON of a scenario (stable key order), for provenance and hashing."""
    return json.dumps(s.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def scenario_hash(s: Scenario) -> str:
    """Hash of what is simulated: targets only judge the results, so changing them keeps the hash."""
    data = s.model_dump(mode="json", exclude={"targets"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
