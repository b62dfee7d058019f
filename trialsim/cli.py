"""The `trialsim` command: a thin shell over trialsim.api."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .scenario import ScenarioError, load_scenario


class BadInput(click.ClickException):
    """Bad input: one line per problem on stderr, exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(self.format_message(), err=True)


def _load(path: str):
    try:
        return load_scenario(path)
    except ScenarioError as err:
        raise BadInput([f"{err.source}: {p}" for p in err.problems]) from None


scenario_argument = click.argument("file", type=click.Path(dir_okay=False, path_type=str))


@click.group()
@click.version_option(package_name="trialsim")
def main() -> None:
    """Simulate Bayesian adaptive clinical trials and their operating characteristics."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
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
    from .describe import describe as describe_text

    click.echo(describe_text(_load(file)))


@main.command()
@scenario_argument
@click.option("-n", "--n-trials", type=click.IntRange(min=1), default=None,
              help="Trials per design and truth (default: the file's simulation.n_trials).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Root seed (default: the file's simulation.seed).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: results/<scenario name>).")
@click.option("--engine", type=click.Choice(["exact", "pymc"]), default=None,
              help="Inference engine for every design (default: each design's analysis.engine).")
@click.option("--history", is_flag=True, help="Keep allocation probabilities at every look in trials.nc.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def run(file: str, n_trials: int | None, seed: int | None, workers: int, out: Path | None,
        engine: str | None, history: bool, quiet: bool) -> None:
    """Simulate every design under every truth; write trials.nc, oc.csv and oc.md."""
    from .api import run as run_api
    from .api import write_outputs

    scenario = _load(file)
    out = out or Path("results") / scenario.name
    n = n_trials or scenario.simulation.n_trials
    if not quiet:
        click.echo(f"Simulating {n} trials x {len(scenario.designs)} designs x {len(scenario.truths)} truths "
                   f"with {workers} worker(s)...", err=True)
    result = run_api(scenario, n_trials=n_trials, seed=seed, workers=workers, engine=engine, keep_history=history)
    paths = write_outputs(result, out, scenario.name)
    if not quiet:
        click.echo(f"Done in {float(result.trials.attrs['elapsed_seconds']):.1f} s. Wrote " + ", ".join(map(str, paths)), err=True)


if __name__ == "__main__":
    sys.exit(main())
