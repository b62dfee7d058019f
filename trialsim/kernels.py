"""Compiled kernels from one Python source: ahead of time (AOT) when built, else numba's JIT.

numba's JIT costs a new process most of a second before its first kernel runs (importing numba,
then its typing and lowering registries, which import scipy.linalg), even with its disk cache.
So the kernels the exact engine needs are also compiled ahead of time, from the same functions,
by numba's `pycc` into one extension module per source (`python -m trialsim.kernels build`); a
process that finds the module built for the current source runs those kernels without importing
numba at all.

- `@jit(*signatures, **options)`: a kernel called from Python. Each numba signature given is
  exported ahead of time; a call whose arguments match one of them (dtype, dimensions, layout,
  writeable; pycc's wrappers check nothing) runs the AOT function, any other call runs numba's
  JIT dispatcher, created on first use with `options` (and cached on disk as before).
- `@inner(**options)`: a helper called only from compiled kernels (compiled into them).

The module is looked up by a key of the kernels' source files, numpy's and Python's versions and
the CPU (it is compiled for the host CPU, as the JIT is), in `cache_dir()`. If it is missing or
stale, the JIT is used, `status()` says why, `trialsim --version` shows it and `trialsim run`
prints a one-line note (and builds the module in the background for the next run). A call that
matches no exported signature prints a note once per kernel and runs under the JIT.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = Path(__file__).resolve().parent
# The modules whose kernels are compiled ahead of time (their files make the module's key)
AOT_MODULES = ("trialsim.rng", "trialsim.inference.quadrature", "trialsim.design.observe",
               "trialsim.design.allocation", "trialsim.blinding")
_KEY_FILES = ("kernels.py", *(m.removeprefix("trialsim.").replace(".", "/") + ".py" for m in AOT_MODULES))

_kernels: list[Kernel] = []
_inners: list[Inner] = []
_numba_ready = False  # True once helpers are numba dispatchers (the first JIT use in the process)


class Inner:
    """A helper of compiled kernels: a numba dispatcher once numba is used; until then a stand-in
    (numba can type it through `_numba_type_`, e.g. in a user's own njit function)."""

    def __init__(self, py_func: Callable, options: dict[str, Any]):
        self.py_func, self.options = py_func, options
        self._dispatcher = None
        functools.update_wrapper(self, py_func)

    def dispatcher(self):  # noqa: ANN201 - a numba dispatcher
        if self._dispatcher is None:
            self._dispatcher = _numba().njit(**self.options)(self.py_func)
        return self._dispatcher

    @property
    def _numba_type_(self):  # noqa: ANN202 - numba's hook for typing an object
        use_numba()
        return _numba().typeof(self.dispatcher())

    def __call__(self, *args):
        use_numba()
        return self.dispatcher()(*args)


class Kernel(Inner):
    """A kernel called from Python: the AOT function whose signature matches the arguments, else JIT."""

    def __init__(self, py_func: Callable, options: dict[str, Any], signatures: tuple[str, ...]):
        super().__init__(py_func, options)
        self.signatures = signatures
        self.name = f"{py_func.__module__}.{py_func.__qualname__}"
        self._aot: list[tuple[list, Callable]] | None = None
        self._noted = False

    def __call__(self, *args):
        if self._aot is None:
            self._aot = library().entries(self.name)
        for specs, function in self._aot:
            if len(specs) == len(args) and all(map(_fits, specs, args)):
                return function(*args)
        if self._aot and not self._noted:  # built, but not for these arguments: say so once
            self._noted = True
            print(f"trialsim: no ahead-of-time kernel {self.name} for arguments "
                  f"({', '.join(_describe(a) for a in args)}); using numba's JIT", file=sys.stderr)
        use_numba()
        return self.dispatcher()(*args)


# numba options of every kernel and helper: cached on disk, and the GIL released (worker threads)
DEFAULT_OPTIONS = {"cache": True, "nogil": True}


def jit(*signatures: str, **options: Any) -> Callable[[Callable], Kernel]:
    """A kernel called from Python; `signatures` (numba's syntax) are compiled ahead of time; `options`
    add to DEFAULT_OPTIONS for numba's JIT."""
    def make(py_func: Callable) -> Kernel:
        kernel = Kernel(py_func, DEFAULT_OPTIONS | options, signatures)
        _kernels.append(kernel)
        return kernel
    return make


def inner(**options: Any) -> Callable[[Callable], Inner]:
    """A helper called only from compiled kernels (e.g. `inline="always"`), with DEFAULT_OPTIONS."""
    def make(py_func: Callable) -> Inner:
        helper = Inner(py_func, DEFAULT_OPTIONS | options)
        _inners.append(helper)
        return helper.dispatcher() if _numba_ready else helper  # numba in use: no stand-in needed
    return make


def _numba():  # noqa: ANN202 - the numba module, imported only when the JIT is used
    import numba

    return numba


def use_numba() -> None:
    """Make every helper a numba dispatcher in the modules that use it, so that kernels compiled by
    numba (JIT or pycc) call and inline them as if they had been decorated with numba.njit."""
    global _numba_ready
    if not _numba_ready:
        _numba_ready = True
        _replace_stand_ins()


def _replace_stand_ins() -> None:
    """Put each helper's dispatcher wherever a kernel's module holds its stand-in (by name, or as an
    attribute of a module it imported, e.g. `rng.counter_words`: rng's own namespace)."""
    stand_ins = {id(h): h for h in _inners}
    for namespace in {id(f.py_func.__globals__): f.py_func.__globals__ for f in [*_kernels, *_inners]}.values():
        for name, value in list(namespace.items()):
            if id(value) in stand_ins:
                namespace[name] = value.dispatcher()


# --- the ahead-of-time module: where it lives, its key, loading ---------------------------------

def cache_dir() -> Path:
    """TRIALSIM_KERNEL_DIR, else the package's __pycache__ when writable (as numba's cache), else the
    user's cache folder."""
    if os.environ.get("TRIALSIM_KERNEL_DIR"):
        return Path(os.environ["TRIALSIM_KERNEL_DIR"])
    here = PACKAGE / "__pycache__"
    if os.access(here if here.exists() else PACKAGE, os.W_OK):
        return here / "kernels"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trialsim" / "kernels"


def _cpu() -> bytes:
    """What the host CPU can run (the module is compiled for it): model name and flags on Linux."""
    try:
        with open("/proc/cpuinfo", "rb") as fh:
            text = fh.read(1 << 16)
        return b"\n".join(line for line in text.split(b"\n\n")[0].splitlines()
                          if line.startswith((b"model name", b"flags")))
    except OSError:
        import platform

        return platform.processor().encode() + platform.machine().encode()


@functools.cache
def source_key() -> str:
    """The key of the AOT module that matches this source, numpy, Python and CPU."""
    digest = hashlib.sha256()
    for name in _KEY_FILES:
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
    digest.update(f"{np.__version__} {sys.version} {sysconfig.get_config_var('EXT_SUFFIX')}".encode())
    digest.update(_cpu())
    return digest.hexdigest()[:16]


def _paths(key: str) -> tuple[str, Path, Path]:
    name = f"_trialsim_kernels_{key}"
    folder = cache_dir()
    return name, folder / (name + sysconfig.get_config_var("EXT_SUFFIX")), folder / (name + ".json")


class Library:
    """The loaded AOT module: per kernel, (argument specs, function) of each exported signature."""

    def __init__(self, module: Any = None, manifest: dict | None = None, reason: str = "", path: Path | None = None):
        self.module, self.manifest, self.reason, self.path = module, manifest or {}, reason, path

    def entries(self, name: str) -> list[tuple[list, Callable]]:
        return [(specs, getattr(self.module, export)) for export, specs in self.manifest.get(name, [])]


@functools.cache
def library() -> Library:
    """The AOT module of this source if it is built (else an empty Library with the reason)."""
    if os.environ.get("TRIALSIM_JIT") == "1":
        return Library(reason="TRIALSIM_JIT=1 asks for numba's JIT")
    key = source_key()
    name, so, manifest = _paths(key)
    if not so.exists() or not manifest.exists():
        return Library(reason=f"not built for this source (key {key}; `python -m trialsim.kernels build`)")
    try:
        spec = importlib.util.spec_from_file_location(name, so)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return Library(module, json.loads(manifest.read_text()), path=so)
    except (ImportError, OSError, ValueError) as err:
        return Library(reason=f"{so} could not be loaded ({err})")


def status() -> str:
    """How kernels run in this process: ahead of time (the module) or numba's JIT (and why)."""
    lib = library()
    return f"ahead of time ({lib.path})" if lib.module is not None else f"numba JIT: {lib.reason}"


def ensure_built() -> None:
    """Build the AOT module now (in a new process: this one stays free of numba) if it is missing, unless
    TRIALSIM_JIT=1. Call it before any kernel runs (the first call decides how kernels run)."""
    if os.environ.get("TRIALSIM_JIT") == "1" or all(p.exists() for p in _paths(source_key())[1:]):
        return
    import subprocess

    # cwd: `-m` puts it first on sys.path, so the child builds this very package (checkout or install)
    subprocess.run([sys.executable, "-m", "trialsim.kernels", "build"], check=True, cwd=PACKAGE.parent)
    library.cache_clear()


def build_in_background() -> bool:
    """Start building the AOT module in a detached process unless it exists or a build is under way;
    whether one was started. Its output goes to a log file beside the module."""
    if library().module is not None or os.environ.get("TRIALSIM_JIT") == "1":
        return False
    _, so, _ = _paths(source_key())
    so.parent.mkdir(parents=True, exist_ok=True)
    lock = so.with_suffix(".lock")
    try:
        if time.time() - lock.stat().st_mtime < 900:  # a build started less than 15 minutes ago
            return False
        lock.unlink()
    except FileNotFoundError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    import subprocess

    with open(so.with_suffix(".log"), "ab") as log:
        subprocess.Popen([sys.executable, "-m", "trialsim.kernels", "build", "--lock", str(lock)],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                         cwd=PACKAGE.parent)
    return True


# --- matching arguments to exported signatures without numba -------------------------------------

def _fits(spec: list, arg: Any) -> bool:
    """Whether numba would type `arg` as `spec` (or, for 'A' layout and read-only specs, accept it)."""
    if spec[0] == "array":
        _, dtype, ndim, layout, mutable = spec
        if type(arg) is not np.ndarray or arg.ndim != ndim or arg.dtype.str != dtype:
            return False
        flags = arg.flags
        return (flags.aligned and (flags.writeable or not mutable)
                and (layout == "A" or (flags.c_contiguous if layout == "C" else flags.f_contiguous)))
    if isinstance(arg, (bool, np.bool_)):
        return spec[1] == "|b1"
    if isinstance(arg, int):
        return spec[1] == "<i8"
    if isinstance(arg, float):
        return spec[1] == "<f8"
    return isinstance(arg, np.generic) and arg.dtype.str == spec[1]


def _describe(arg: Any) -> str:
    if isinstance(arg, np.ndarray):
        return f"{arg.dtype}[{arg.ndim}d{'' if arg.flags.c_contiguous else ', strided'}" \
               f"{'' if arg.flags.writeable else ', read-only'}]"
    return type(arg).__name__


def _spec(numba_type) -> list:  # noqa: ANN001 - a numba type
    from numba import types
    from numba.np.numpy_support import as_dtype

    if isinstance(numba_type, types.Array):
        return ["array", as_dtype(numba_type.dtype).str, numba_type.ndim, numba_type.layout, numba_type.mutable]
    if isinstance(numba_type, (types.Integer, types.Float, types.Boolean)):
        return ["scalar", as_dtype(numba_type).str]
    raise TypeError(f"cannot export an argument of type {numba_type} ahead of time")


# --- building ----------------------------------------------------------------------------------

def build(verbose: bool = False) -> Path:
    """Compile every AOT_MODULES kernel's signatures into the extension module for this source."""
    import shutil
    import tempfile

    from numba.core import sigutils
    from numba.pycc import CC

    for module in AOT_MODULES:
        importlib.import_module(module)
    use_numba()
    name, so, manifest_path = _paths(source_key())
    so.parent.mkdir(parents=True, exist_ok=True)
    cc = CC(name)
    cc.target_cpu = "host"  # as the JIT compiles: same code, same speed
    cc.verbose = verbose
    manifest: dict[str, list] = {}
    for kernel in _kernels:
        if kernel.py_func.__module__ not in AOT_MODULES:
            continue
        for i, signature in enumerate(kernel.signatures):
            export = f"{kernel.name.replace('.', '_')}_{i}"
            parsed = sigutils.normalize_signature(signature)[0]
            cc.export(export, signature)(kernel.py_func)
            manifest.setdefault(kernel.name, []).append([export, [_spec(t) for t in parsed]])
    with tempfile.TemporaryDirectory(dir=so.parent) as tmp:
        cc.output_dir = tmp
        cc.compile()
        shutil.move(Path(tmp) / Path(cc.output_file).name, so)  # a whole file appears or none (same file system)
        Path(tmp, "manifest.json").write_text(json.dumps(manifest))
        os.replace(Path(tmp, "manifest.json"), manifest_path)
    return so


def write_bytecode() -> None:
    """The package's .pyc files, as `pip install` writes them: a new process then does not compile
    trialsim's modules (~0.15 s), even where PYTHONDONTWRITEBYTECODE keeps imports from writing them."""
    import compileall

    compileall.compile_dir(str(PACKAGE), quiet=1)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m trialsim.kernels", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "status"],
                        help="build: the AOT module for this source (unless built; --force: again) and the "
                             "package's bytecode; status: how kernels run")
    parser.add_argument("--force", action="store_true", help="build the module even if it exists")
    parser.add_argument("--lock", type=Path, help=argparse.SUPPRESS)  # removed when the build ends
    args = parser.parse_args(argv)
    if args.command == "status":
        print(status())
        return 0
    try:
        if args.force or library().module is None:
            began = time.perf_counter()
            print(f"built {build()} in {time.perf_counter() - began:.0f} s")
        write_bytecode()
        library.cache_clear()
        print(f"compiled kernels: {status()}")
    finally:
        if args.lock:
            args.lock.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":  # run as the package's module, not as __main__ (whose registry would be empty)
    from trialsim.kernels import main as package_main

    sys.exit(package_main())
