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


@click.group(cls=Commands)
@click.version_option(package_name="trialsim")
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
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def run(file: str, n_trials: int | None, seed: int | None, workers: int, scheduler: str | None, out: Path | None,
        engine: str | None, resume: bool, overwrite: bool, history: bool, quiet: bool) -> None:
    """Simulate every design under every truth; write trials.nc, oc.csv and oc.md."""
    from .api import run_to_folder
    from .io import inside

    _warm_up_in_background()
    scenario = _load(file)
    _compile(scenario, engine=engine)  # overrides are validated before anything is written
    out = out or inside(Path("results"), scenario.name)
    n = n_trials or scenario.simulation.n_trials
    bar = None

    def starting(reused: int) -> None:  # called once the output folder has been checked
        nonlocal bar
        if not quiet:
            where = f"Dask scheduler {scheduler}" if scheduler else f"{workers} worker(s)"
            resumed = f" ({reused} reused from an earlier run)" if reused else ""
            click.echo(f"Simulating {n} trials{resumed} x {len(scenario.designs)} designs x {len(scenario.truths)} "
                       f"truths on {where}...", err=True)
        bar = _progress(n, quiet)
        bar.update(reused)

    try:
        with _executor(scheduler) as executor:
            result = run_to_folder(scenario, out, n_trials=n_trials, seed=seed, workers=workers, engine=engine,
                                   keep_history=history, resume=resume, overwrite=overwrite, executor=executor,
                                   on_chunk=lambda c: bar.update(c.stop - c.start), on_resume=starting)
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
@click.option("--metric", default="prob_superior", show_default=True,
              help="OC metric to bring to the target (e.g. prob_any_effective for the family-wise error).")
@click.option("--target", type=click.FloatRange(0, 1), default=0.05, show_default=True, help="Largest acceptable value.")
@click.option("-n", "--n-trials", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Trials per evaluation (the same seed every time).")
@click.option("--seed", type=SEED, default=None, help="Root seed (default: the file's simulation.seed).")
@click.option("--range", "bounds", type=(float, float), default=(0.9, 0.99999), show_default=True,
              callback=lambda ctx, param, v: _threshold_range(v), help="Search range of the threshold.")
@click.option("--asymmetric", is_flag=True, help="Keep the inferiority threshold (default: set it to 1 - superiority).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Local worker processes.")
@click.option("--write", "write_to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the scenario with the calibrated threshold to this YAML file.")
def calibrate(file: str, design: str, truth: str, metric: str, target: float, n_trials: int, seed: int | None,
              bounds: tuple[float, float], asymmetric: bool, workers: int, write_to: Path | None) -> None:
    """Find the smallest superiority threshold keeping a metric at or below a target."""
    import yaml

    from .calibrate import calibrate as calibrate_api
    from .io import atomic_write

    scenario = _load(file)
    _check_names(file, scenario, design, truth)
    try:
        result = calibrate_api(scenario, design, truth, metric, target, n_trials, seed, bounds[0], bounds[1],
                               symmetric=not asymmetric, workers=workers)
    except ValueError as err:
        raise BadInput([f"{file}: {err}"]) from None
    inferiority = f", inferiority {result.inferiority:.7g}" if result.inferiority is not None else ""
    click.echo(f"superiority {result.threshold:.7g}{inferiority}: {metric} = {result.estimate:.4f} "
               f"(MCSE {result.mcse:.4f}) under '{truth}', {n_trials} trials, {result.evaluations} evaluations")
    if write_to:
        text = yaml.safe_dump(result.scenario.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
        try:
            atomic_write(write_to, lambda p: p.write_text(text))
        except OSError as err:
            raise InputProblem(f"cannot write {write_to} ({err.strerror or err})", "--write") from None
        click.echo(f"Wrote {write_to}", err=True)


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
    from .scenario.hints import closest

    for option, name, valid in (("--design", design, list(scenario.designs)), ("--truth", truth, list(scenario.truths))):
        if name not in valid:
            hint = closest(name, valid)
            raise BadInput([f"{option}: no {option[2:]} {shown(name)} in {file}"
                            + (f" (did you mean '{hint}'?)" if hint else f"; choose from {', '.join(valid)}")])


def _warm_up_in_background() -> None:
    """Load the compiled kernels while the scenario is read and checked (they release the GIL
    in LLVM), so that the first trial does not wait for numba's cold start."""
    import threading

    from .run.runner import warm_up_kernels

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
