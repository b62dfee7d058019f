"""Where the time to a first trial goes: each stage of a new process, timed in order.

    python benchmarks/ttf_breakdown.py [--repeats 5]

Stages (each timed after the ones before, in one new process per repeat; medians): the imports
of numpy, scipy.special's ufuncs (trialsim/ufuncs.py), the scenario schema (pydantic) and the rest
of the API; loading and compiling scenarios/validation/adaptr_overview_alt.yaml; the first kernel
call (loading the ahead-of-time kernels, or numba's cold start: see trialsim/kernels.py); the other
kernels; and simulating 10 trials. Python's own start-up is the process's wall time minus the
stages' sum. The last line says how the kernels ran and which heavy modules were imported. First,
`python -m trialsim.kernels build` puts a second run's caches in place (kernels, bytecode).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
stages = []
def mark(name, began=[time.perf_counter()]):
    now = time.perf_counter()
    stages.append((name, now - began[0]))
    began[0] = now
import numpy; mark("import numpy")
import trialsim.kernels, trialsim.ufuncs; mark("import scipy.special's ufuncs")
import trialsim.scenario; mark("import the scenario schema (pydantic)")
import trialsim.api, trialsim.run.runner; mark("import the rest of the API")
from trialsim.scenario import load_scenario
scenario = load_scenario(sys.argv[1]); mark("load and validate the scenario")
plan = trialsim.api.plan_for(scenario, n_trials=10); mark("compile the plan")
from trialsim import rng
rng.block(rng.stream_key(0, rng.Stream.COHORT), numpy.arange(2), 0, 2); mark("the first kernel call")
trialsim.run.runner.warm_up_kernels(plan); mark("the other kernels")
trialsim.run.runner.simulate_chunk(plan, trialsim.run.runner.RunSettings(), 0, 10); mark("simulate 10 trials")
heavy = [m for m in ("numba", "scipy.special", "scipy.stats", "xarray", "pandas") if m in sys.modules]
print(json.dumps([stages, trialsim.kernels.status(), heavy]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    scenario = ROOT / "scenarios" / "validation" / "adaptr_overview_alt.yaml"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    # the caches of a second run: the ahead-of-time kernels and the package's bytecode
    subprocess.run([sys.executable, "-m", "trialsim.kernels", "build"], cwd=ROOT, check=True, capture_output=True)
    runs, walls = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(scenario)], env=env, capture_output=True, text=True,
                             check=True, cwd=ROOT)
        walls.append(time.perf_counter() - began)
        stages, kernels, heavy = json.loads(out.stdout.strip().splitlines()[-1])
        runs.append(stages)
    print(f"load average: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; median of {args.repeats} new processes")
    total = 0.0
    for i, (name, _) in enumerate(runs[0]):
        took = statistics.median(run[i][1] for run in runs)
        total += took
        print(f"  {name:40s} {took:6.3f} s   (cumulative {total:6.3f} s)")
    wall = statistics.median(walls)
    print(f"  {'Python start-up and exit (the rest)':40s} {wall - total:6.3f} s")
    print(f"  {'whole process':40s} {wall:6.3f} s")
    print(f"kernels: {kernels}\nimported before the first trial: {', '.join(heavy) or 'none of numba, scipy.special, scipy.stats, xarray, pandas'}")


if __name__ == "__main__":
    main()
