"""The `trialsim` command: a thin shell over trialsim.api."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from .errors import InputProblem, OutputFolderError
from .scenario import ScenarioError, load_scenario
from .scenario.schema import shown


class BadInput(click.ClickException):
    """Bad input: one line per problem on stderr, exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(self.format_message(), file=sys.stderr)  # the stderr of now, not a cached wrapper


def _option_name(err: click.UsageError) -> str | None:
    """The option (or argument) a click error is about: its longest spelling."""
    param = getattr(err, "param", None)
    if param is None:
        return None
    if isinstance(param, click.Argument):
        return param.human_readable_name
    return max(param.opts, key=len)


def _one_line(err: click.UsageError) -> str:
    """click's usage error (three lines with usage text) as `--option: problem`."""
    where = _option_name(err)
    message = err.message if isinstance(err, click.BadParameter) else err.format_message()
    if isinstance(err, click.MissingParameter):
        message = "required; give a value"
    if isinstance(err, click.NoSuchOption):
        where, hints = err.option_name, sorted(err.possibilities or [])
        message = "no such option" + (f" (did you mean {' or '.join(hints)}?)" if hints else "; see --help")
    message = re.sub(r"\S{61,}", lambda m: m.group()[:60] + "...", " ".join(message.split()))  # echoed values cut
    return f"{where}: {message}" if where else message


class Commands(click.Group):
    """The command group with the one error path: every known kind of bad input becomes
    `WHERE: problem` lines on stderr and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except ScenarioError as err:
            raise BadInput([f"{err.source}: {p}" for p in err.problems]) from None
        except InputProblem as err:
            raise BadInput([f"{err.where or ctx.meta.get('scenario_file', 'input')}: {err}"]) from None
        except click.UsageError as err:
            if err.ctx is not None and err.ctx.resilient_parsing:
                raise
            raise BadInput([_one_line(err)]) from None


def _load(path: str):
    click.get_current_context().meta["scenario_file"] = path  # where problems of the run itself are reported
    return load_scenario(path)  # a ScenarioError becomes bad input in Commands.invoke


def _compile(scenario, **overrides):
    """The compiled plan; an override the scenario cannot take is a ScenarioError (bad input in Commands.invoke)."""
    from .compile import Overrides, compile_scenario

    return compile_scenario(scenario, Overrides(**overrides))


scenario_argument = click.argument("file", type=str)
SEED = click.IntRange(0, 2**63 - 1)  # as simulation.seed in the file


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """The version, and how the compiled kernels run (ahead of time, or numba's JIT and why)."""
    if value and not ctx.resilient_parsing:
        from . import __version__, kernels

        click.echo(f"trialsim, version {__version__}\ncompiled kernels: {kernels.status()}")
        ctx.exit()


@click.group(cls=Commands)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and how the compiled kernels run, and exit.")
def main() -> None:
    """Simulate Bayesian adaptive clinical trials and their operating characteristics."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=str)
def validate(files: tuple[str, ...]) -> None:
    """Check scenario files; exit 0 if all are valid, 2 otherwise."""
    problems: list[str] = []
    for f in files:
        try:
            load_scenario(f)
            click.echo(f"{f}: valid")
        except ScenarioError as err:
            problems += [f"{err.source}: {p}" for p in err.problems]
    if problems:
        raise BadInput(problems)


@main.command()
@scenario_argument
def describe(file: str) -> None:
    """Print the designs, arms and truths of a scenario in plain words."""
    from .report.describe import describe as describe_text

    click.echo(describe_text(_load(file)))


@main.command()
@scenario_argument
@click.option("-n", "--n-trials", type=click.IntRange(min=1), default=None,
              help="Trials per design and truth (default: the file's simulation.n_trials).")
@click.option("--seed", type=SEED, default=None, help="Root seed (default: the file's simulation.seed).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes.")
@click.option("--scheduler", default=None, metavar="ADDRESS", callback=lambda ctx, param, v: _scheduler_address(v),
              help="Run on an existing Dask cluster (e.g. tcp://host:8786) instead of local processes.")
@click.option("--out", type=Path, default=None, help="Output folder (default: results/<scenario name>).")
@click.option("--engine", type=click.Choice(["exact", "pymc"]), default=None,
              help="Inference engine for every design (default: each design's analysis.engine).")
@click.option("--resume", is_flag=True, help="Reuse the chunks an earlier run saved in the output folder.")
@click.option("--overwrite", is_flag=True, help="Replace results of another scenario or seed in the output folder.")
@click.option("--history", is_flag=True, help="Keep allocation probabilities at every look in trials.nc.")
@click.option("--design", "designs", multiple=True, metavar="D",
              help="Run only this design (repeatable; default: every design). Same patients as a full run.")
@click.option("--truth", "truths", multiple=True, metavar="T", help="Run only under this truth (repeatable; default: every truth).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def run(file: str, n_trials: int | None, seed: int | None, workers: int, scheduler: str | None, out: Path | None,
        engine: str | None, resume: bool, overwrite: bool, history: bool, designs: tuple[str, ...],
        truths: tuple[str, ...], quiet: bool) -> None:
    """Simulate every design under every truth; write trials.nc, oc.csv and oc.md."""
    from .api import run_to_folder
    from .io import inside

    _warm_up_in_background()
    scenario = _load(file)
    _check_choices(file, "--design", designs, list(scenario.designs))
    _check_choices(file, "--truth", truths, list(scenario.truths))
    designs, truths = tuple(dict.fromkeys(designs)), tuple(dict.fromkeys(truths))
    _compile(scenario, engine=engine)  # overrides are validated before anything is written
    out = out or inside(Path("results"), scenario.name)
    n = n_trials or scenario.simulation.n_trials
    bar = None

    def starting(reused: int) -> None:  # called once the output folder has been checked
        nonlocal bar
        if not quiet:
            where = f"Dask scheduler {scheduler}" if scheduler else f"{workers} worker(s)"
            resumed = f" ({reused} reused from an earlier run)" if reused else ""
            click.echo(f"Simulating {n} trials{resumed} x {len(designs or scenario.designs)} designs x "
                       f"{len(truths or scenario.truths)} "
                       f"truths on {where}...", err=True)
        bar = _progress(n, quiet)
        bar.update(reused)

    try:
        with _executor(scheduler) as executor:
            result = run_to_folder(scenario, out, n_trials=n_trials, seed=seed, workers=workers, engine=engine,
                                   keep_history=history, resume=resume, overwrite=overwrite, executor=executor,
                                   on_chunk=lambda c: bar.update(c.stop - c.start), on_resume=starting,
                                   command=_command_line(), designs=list(designs) or None, truths=list(truths) or None)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        click.echo(f"\nInterrupted. Finished chunks are saved in {out / '.chunks'}; "
                   "run the same command with --resume to finish.", err=True)
        sys.exit(130)
    bar.close()
    if not quiet:
        click.echo(f"Done in {float(result.trials.attrs['elapsed_seconds']):.1f} s. Wrote "
                   + ", ".join(str(out / f) for f in ("oc.md", "oc.csv", "trials.nc")), err=True)


@main.command()
@scenario_argument
@click.option("--design", required=True, help="Design name in the file.")
@click.option("--truth", required=True, help="Truth name in the file.")
@click.option("--trial", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True, help="Trial index (0-based).")
@click.option("--seed", type=SEED, default=None, help="Root seed (default: the file's simulation.seed).")
@click.option("--engine", type=click.Choice(["exact", "pymc"]), default=None,
              help="Inference engine (default: the design's analysis.engine).")
@click.option("--out", type=Path, default=None,
              help="Folder for each look's posterior as netCDF (default: results/<name>/trace_<design>_<truth>_<trial>).")
def trace(file: str, design: str, truth: str, trial: int, seed: int | None, engine: str | None, out: Path | None) -> None:
    """Show how one simulated trial unfolded, look by look, and save each look's posterior."""
    from dataclasses import replace

    from .api import check_output_folder
    from .io import inside
    from .limits import check_fits
    from .report.trace import format_trace, save_posteriors, trace_trial

    scenario = _load(file)
    _check_names(file, scenario, design, truth)
    folder = out or inside(Path("results"), scenario.name, f"trace_{design}_{truth}_{trial}")
    check_output_folder(folder)
    plan = _compile(scenario, seed=seed, engine=engine)
    check_fits(replace(plan, n_trials=1), chunk_size=1)
    result = trace_trial(plan, design, truth, trial)
    click.echo(format_trace(result))
    try:
        paths = save_posteriors(result, folder)
    except OSError as err:
        raise OutputFolderError(f"cannot write in {folder} ({err.strerror or err}); choose another folder") from None
    click.echo(f"\nSaved {len(paths)} posteriors (ArviZ netCDF) in {folder}", err=True)


@main.command()
@scenario_argument
@click.option("--design", required=True, help="Design whose superiority threshold is calibrated.")
@click.option("--truth", required=True, help="Truth to calibrate under (usually a null truth).")
@click.option("--metric", default="fwer", show_default=True,
              help="OC metric to bring to the target; fwer means prob_any_effective with a control, else prob_superior.")
@click.option("--target", type=click.FloatRange(0, 1), default=0.05, show_default=True, help="Largest acceptable value.")
@click.option("-n", "--n-trials", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Trials per evaluation (the same seed every time).")
@click.option("--seed", type=SEED, default=None, help="Root seed (default: the file's simulation.seed).")
@click.option("--range", "bounds", type=(float, float), default=(0.9, 0.99999), show_default=True,
              callback=lambda ctx, param, v: _threshold_range(v), help="Search range of the threshold.")
@click.option("--asymmetric", is_flag=True, help="Keep the inferiority threshold (default: set it to 1 - superiority).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Local worker processes.")
@click.option("--shape", type=click.Choice(["constant", "obf"]), default="constant", show_default=True,
              help="Thresholds over looks: constant, or O'Brien-Fleming-like (stricter early; the last look's is calibrated).")
@click.option("--write", "write_to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the scenario with the calibrated threshold to this YAML file.")
def calibrate(file: str, design: str, truth: str, metric: str, target: float, n_trials: int, seed: int | None,
              bounds: tuple[float, float], asymmetric: bool, workers: int, shape: str, write_to: Path | None) -> None:
    """Find the smallest superiority threshold keeping a metric at or below a target."""
    from .calibrate import calibrate as calibrate_api
    from .calibrate import write_calibrated

    scenario = _load(file)
    _check_names(file, scenario, design, truth)
    try:
        result = calibrate_api(scenario, design, truth, metric, target, n_trials, seed, bounds[0], bounds[1],
                               symmetric=not asymmetric, workers=workers, shape=shape)
    except ValueError as err:
        raise BadInput([f"{file}: {err}"]) from None
    metric = result.metric
    inferiority = f", inferiority {result.inferiority:.7g}" if result.inferiority is not None else ""
    click.echo(f"superiority {result.threshold:.7g}{inferiority}: {metric} = {result.estimate:.4f} "
               f"(MCSE {result.mcse:.4f}) under '{truth}', {n_trials} trials, {result.evaluations} evaluations")
    thresholds = result.scenario.designs[design].decisions.superiority
    if isinstance(thresholds, list):
        click.echo("per look: " + ", ".join(f"{v:.6g}" for v in thresholds))
    for other, (estimate, mcse) in (result.others or {}).items():
        click.echo(f"  under '{other}': {metric} = {estimate:.4f} (MCSE {mcse:.4f})")
    span = result.uncertain_span(target)
    if span and span[1] - span[0] > result.tolerance:
        click.echo(f"Warning: thresholds from {span[0]:.6g} to {span[1]:.6g} give {metric} within 2 MCSE of {target:g}; "
                   f"Monte Carlo error cannot tell them apart. Rerun with more trials (e.g. -n {4 * n_trials}) "
                   "to narrow the answer.", err=True)
    if write_to:
        try:
            written = write_calibrated(Path(file), write_to, design, truth, metric, target, result, n_trials,
                                       scenario.simulation.seed if seed is None else seed)
        except OSError as err:
            raise InputProblem(f"cannot write {write_to} ({err.strerror or err})", "--write") from None
        click.echo(f"Wrote {write_to} (superiority {written:g}, rounded up to the search resolution)", err=True)


@main.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--reference", default=None, metavar="DESIGN",
              help="Design the others are compared with (default: the first design of the first folder).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for compare.csv and compare.md (default: the first RESULTS folder).")
def compare(results: tuple[Path, ...], reference: str | None, out: Path | None) -> None:
    """Compare designs across result folders: paired differences with their MCSE."""
    from .api import compare_folders

    missing = [f"{r}: no trials.nc here (run `trialsim run` first)" for r in results if not (r / "trials.nc").is_file()]
    if missing:
        raise BadInput(missing)
    try:
        table = compare_folders(list(results), reference, out)
    except ValueError as err:
        raise BadInput([f"--reference: {err}"]) from None
    folder = out or results[0]
    paired = "paired" if table["paired"].all() else "partly unpaired" if table["paired"].any() else "unpaired"
    click.echo(f"Compared {table['design'].nunique() + 1} designs ({paired}). Wrote {folder / 'compare.md'}, "
               f"{folder / 'compare.csv'}", err=True)


@main.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file to write (default: RESULTS/report.html).")
def report(results: Path, out: Path | None) -> None:
    """Write one self-contained report.html of a results folder (tables, comparisons, figures, glossary)."""
    from .api import report_folder

    missing = [f"{results}: no {name} here (run `trialsim run` first)" for name in ("trials.nc", "oc.csv")
               if not (results / name).is_file()]
    if missing:
        raise BadInput(missing)
    click.echo(f"Wrote {report_folder(results, out)}", err=True)


@main.command()
@scenario_argument
@click.option("--set", "sets", multiple=True, required=True, metavar="PATH=V1,V2",
              help="A scenario field by its dotted path and the values to try, as YAML "
                   "(e.g. designs.adaptive.looks.at_patients=[250,500],[200,300,400,500]); repeat for a grid.")
@click.option("-n", "--n-trials", type=click.IntRange(min=1), default=None,
              help="Trials per design, truth and grid point (default: the file's simulation.n_trials).")
@click.option("--seed", type=SEED, default=None, help="Root seed (default: the file's simulation.seed).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Local worker processes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: results/<scenario name>/sweep).")
@click.option("--target", "find_target", is_flag=True,
              help="Report the smallest value of the first --set path meeting every target of the scenario.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def sweep(file: str, sets: tuple[str, ...], n_trials: int | None, seed: int | None, workers: int, out: Path | None,
          find_target: bool, quiet: bool) -> None:
    """Run a grid of scenarios over dotted paths; write sweep.csv (resumes like run)."""
    from .scenario import ScenarioError
    from .io import inside
    from .sweep import SweepError, grid, parse_setting, sweep as sweep_api

    scenario = _load(file)
    try:
        settings = [parse_setting(s) for s in sets]
        grid(scenario, settings)  # every point validated before anything runs
    except SweepError as err:
        raise BadInput([f"--set: {err}"]) from None
    except ScenarioError as err:
        raise BadInput([f"--set {err.source}: {p}" for p in err.problems]) from None
    out = out or inside(Path("results"), scenario.name, "sweep")

    def progress(k: int, total: int, values: dict) -> None:
        if not quiet:
            click.echo(f"[{k + 1}/{total}] " + ", ".join(f"{p}={v}" for p, v in values.items()), err=True)

    if find_target and not scenario.targets:
        raise BadInput([f"--target: {file} has no targets: block to meet"])
    sweep_api(scenario, settings, out, n_trials, seed, workers, on_point=progress)
    click.echo(f"Wrote {out / 'sweep.csv'}", err=True)
    if find_target:
        import pandas as pd

        from .sweep import smallest_meeting_targets

        checks = pd.read_csv(out / "sweep_targets.csv", keep_default_na=False, na_values=[""], dtype=str)
        found = smallest_meeting_targets(checks, settings[0].path)
        met = set(found["design"])
        click.echo(found.to_string(index=False) if len(found) else "No grid point meets every target.")
        for design in (d for d in scenario.designs if d not in met):
            click.echo(f"{design}: no grid point meets every target (see {out / 'sweep_targets.csv'})")


def _command_line() -> str:
    """The command as typed, for the provenance of the outputs."""
    import shlex

    return shlex.join(["trialsim", *sys.argv[1:]])


@main.command()
@scenario_argument
@click.option("--truth", required=True, help="Truth name in the file.")
@click.option("-n", "--n-patients", type=click.IntRange(min=1), default=None,
              help="Patients per trial (default: the largest design's maximum sample size).")
@click.option("--trials", type=click.IntRange(min=1), default=1, show_default=True, help="Trials 0..T-1.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Root seed (default: the file's simulation.seed).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file: .csv, or .parquet (needs pyarrow).")
def patients(file: str, truth: str, n_patients: int | None, trials: int, seed: int | None, out: Path) -> None:
    """Write the virtual patients of a few trials: one row per patient x arm x visit (potential outcomes).

    The scenario's `patients` block sets the visit model; without one, its defaults are used."""
    import time

    from .io import atomic_write
    from .report.patients import patients_table, summary, with_default_visits
    from .scenario import parse_scenario

    scenario = _load(file)
    _check_names(file, scenario, next(iter(scenario.designs)), truth)
    if out.suffix not in (".csv", ".parquet"):
        raise BadInput([f"--out: {out} must end in .csv or .parquet"])
    try:
        scenario = parse_scenario(with_default_visits(scenario.model_dump(mode="json", exclude_none=True)), source=file)
    except ScenarioError as err:
        raise BadInput([f"{err.source}: {p}" for p in err.problems]) from None
    plan = _compile(scenario, seed=seed)
    began = time.perf_counter()
    table = patients_table(plan, truth, n_patients, trials)
    seconds = time.perf_counter() - began
    write = (lambda p: table.to_parquet(p, index=False)) if out.suffix == ".parquet" else (
        lambda p: table.to_csv(p, index=False, float_format="%.6g"))
    atomic_write(out, write)
    click.echo(summary(table, scenario.logistics.endpoint_weeks).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    click.echo(f"Wrote {len(table)} rows ({table['patient'].nunique() * trials} patients) to {out} in {seconds:.1f} s",
               err=True)


@main.command()
@click.argument("results", type=click.Path(exists=True, path_type=Path))
@click.option("--selection", "selections", multiple=True, metavar="DESIGN=STRATEGY[,STRATEGY...]",
              help="Selection strategies for a design (repeatable), e.g. 'adaptive=best,final control'; "
                   "the first gets the plain metric names.")
@click.option("--write", "out", type=click.Path(path_type=Path), help="Write the table as CSV here instead of printing it.")
def summarise(results: Path, selections: tuple[str, ...], out: Path | None) -> None:
    """Recompute the OC table of a finished run (its trials.nc), under other selection strategies."""
    import xarray as xr

    from .io import write_oc_csv
    from .scenario.schema import SELECTION_STRATEGIES
    from .summarise.oc import oc_table

    from .api import UNREADABLE

    path = results / "trials.nc" if results.is_dir() else results
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except UNREADABLE:
        raise InputProblem(f"{path} is not a trialsim result (not readable as netCDF)", str(results)) from None
    with ds:
        designs = [str(d) for d in ds["design"].values]
        strategies: dict[str, list[str]] = {}
        problems = []
        for item in selections:
            design, _, names = item.partition("=")
            chosen = [n.strip() for n in names.split(",") if n.strip()]
            if design not in designs:
                problems.append(f"--selection {item}: unknown design '{design}'; valid: {', '.join(designs)}")
            for name in chosen:
                if name not in SELECTION_STRATEGIES:
                    problems.append(f"--selection {item}: unknown strategy '{name}'; valid: {', '.join(SELECTION_STRATEGIES)}")
            if not chosen:
                problems.append(f"--selection {item}: give at least one strategy after '='")
            strategies[design] = chosen
        if problems:
            raise BadInput(problems)
        try:
            table = oc_table(ds.load(), strategies)
        except ValueError as err:  # e.g. a strategy that needs a control on a design without one
            raise BadInput([f"--selection: {err}"]) from None
    if out is not None:
        try:
            write_oc_csv(table, out)
        except OSError as err:
            raise InputProblem(f"cannot write {out} ({err.strerror or err})", "--write") from None
        click.echo(f"wrote {out}")
    else:
        click.echo(table.to_csv(index=False))


def _threshold_range(bounds: tuple[float, float]) -> tuple[float, float]:
    lower, upper = bounds
    if not 0 < lower < upper < 1:
        raise click.BadParameter(f"the thresholds are probabilities: give 0 < LOWER < UPPER < 1, got {lower:g} {upper:g}")
    return bounds


# Dask scheduler addresses: tcp://host:8786, tls://..., or host:port (tcp)
SCHEDULER = re.compile(r"^((tcp|tls|ucx|ws|wss|inproc)://)?[A-Za-z0-9_.\-\[\]:]*[A-Za-z0-9\]]:\d{1,5}/?$")


def _scheduler_address(address: str | None) -> str | None:
    if address is not None and not SCHEDULER.match(address):
        raise click.BadParameter(f"{shown(address)} is not a Dask scheduler address; give one such as tcp://host:8786")
    return address


def _check_names(file: str, scenario, design: str, truth: str) -> None:
    """--design and --truth must name entries of the file."""
    _check_choices(file, "--design", [design], list(scenario.designs))
    _check_choices(file, "--truth", [truth], list(scenario.truths))


def _check_choices(file: str, option: str, names: tuple[str, ...] | list[str], valid: list[str]) -> None:
    """Every name given to `option` must be an entry of the file."""
    from .scenario.hints import closest

    problems = []
    for name in names:
        if name not in valid:
            hint = closest(name, valid)
            problems.append(f"{option}: no {option[2:]} {shown(name)} in {file}"
                            + (f" (did you mean '{hint}'?)" if hint else f"; choose from {', '.join(valid)}"))
    if problems:
        raise BadInput(problems)


def _warm_up_in_background() -> None:
    """Without the ahead-of-time kernels (kernels.py): say so, build them in the background for the
    next run, and load numba's JIT kernels while the scenario is read and checked (they release the GIL
    in LLVM), so that the first trial does not wait for numba's cold start."""
    import threading

    from . import kernels
    from .run.runner import warm_up_kernels

    if kernels.library().module is not None:
        return  # ahead-of-time kernels load at once
    building = kernels.build_in_background()
    click.echo(f"note: compiled kernels run under {kernels.status()}"
               + ("; building them in the background for the next run" if building else ""), err=True)

    threading.Thread(target=warm_up_kernels, daemon=True, name="warm-up").start()


def _progress(total: int, quiet: bool):
    """A progress bar (trials done, rate, time left) on a terminal; silent otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, unit="trial", disable=quiet or not sys.stderr.isatty(), file=sys.stderr,
                desc="trials", dynamic_ncols=True)


@contextmanager
def _executor(scheduler: str | None):
    """A Dask client's executor when a scheduler address is given, else None (local processes)."""
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise BadInput(["--scheduler: needs the 'distributed' package (pip install distributed)"]) from None
    try:
        client = Client(scheduler, timeout="5s")
    except (OSError, TimeoutError, ValueError) as err:
        reason = " ".join(str(err).split())
        raise BadInput([f"--scheduler: cannot reach a Dask scheduler at {scheduler} ({shown(reason, 120)[1:-1]})"]) from None
    try:
        yield client.get_executor()
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
