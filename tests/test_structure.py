"""The architecture's rules: nothing below the compile step reads the scenario schema."""

from __future__ import annotations

import ast
from pathlib import Path

import trialsim

PACKAGE = Path(trialsim.__file__).parent
# The spec and the layers that read it: the scenario package, the compile step, the API and CLI
# (they load files and apply overrides), calibration and sweeps (edit a scenario), describe (prints the spec)
ABOVE_COMPILE = {"scenario", "compile.py", "api.py", "cli.py", "calibrate.py", "sweep.py", "report/describe.py"}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the trialsim modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
    return names


def below_compile() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not any(rel == a or rel.startswith(a + "/") for a in ABOVE_COMPILE):
            out.append(path)
    return out


def test_no_module_below_the_compile_step_imports_the_scenario_schema():
    offenders = {p.relative_to(PACKAGE).as_posix(): sorted(m for m in imported_modules(p)
                                                          if m.startswith(("trialsim.scenario", "trialsim.compile")))
                 for p in below_compile()}
    assert len(offenders) > 20  # the check sees the package
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_would_catch_an_import(tmp_path):
    fake = PACKAGE / "design" / "parallel.py"
    assert "trialsim.scenario.schema" not in imported_modules(fake)
    names = imported_modules(PACKAGE / "compile.py")
    assert "trialsim.scenario.schema" in names and "trialsim.scenario" in names
