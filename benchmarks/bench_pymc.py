"""Speed and accuracy of the PyMC engine's fast path (issue 4).

Prints, for the responder and the continuous endpoint of a 5-arm x
4-phenotype trial (sham, scs, dbs, rtms, exercise; nociceptive, neuropathic,
nociplastic, inflammatory at 0.25/0.55/0.18/0.02), with 100-600 patients:

* fits per second of the fast path, one process (median of repeats) and two
  worker processes (this machine has 2 cores);
* seconds per fit of a plain per-look ``pm.sample`` (2 chains, 1000 tune +
  1000 draws), and the ratio;
* accuracy on interim data sets: Pr(best) and Pr(better than sham) from the
  fast path vs a long NUTS reference (nutpie, 4 chains x 2000 draws): the
  share of data sets with every probability within 0.03.

Data come from a small synthetic cohort generator (below) using the
"Suggested default response model" of reference/clbp.md; half the data sets
use that table ("table"), half a null truth where every arm is the implanted
sham ("null", which puts every probability mid-range: the hardest case for
Monte Carlo agreement).

    python benchmarks/bench_pymc.py            # 200 data sets per endpoint
    python benchmarks/bench_pymc.py --quick    # 40 data sets per endpoint
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: BLAS threads only contend

import numpy as np  # noqa: E402

from trialsim.inference.base import LookData  # noqa: E402
from trialsim.inference.pymc_model import PymcEngine, PymcPrior  # noqa: E402

ARMS = ("sham", "scs", "dbs", "rtms", "exercise")
PHENOTYPES = ("nociceptive", "neuropathic", "nociplastic", "inflammatory")
PREVALENCE = np.array([0.25, 0.55, 0.18, 0.02])
# clbp.md, "Suggested default response model": mean NRS change and SD per arm
# (sham implanted, SCS 10 kHz, DBS closed-loop, rTMS, structured exercise)
TABLE_CHANGE = np.array([
    [-2.2, -2.2, -2.2, -2.2],
    [-3.0, -3.5, -2.5, -2.2],
    [-3.5, -3.5, -3.2, -2.2],
    [-1.3, -1.8, -1.6, -1.2],
    [-2.0, -1.5, -1.5, -2.0],
])
TABLE_SD = np.array([2.5, 2.5, 2.7, 2.2, 2.2])
NULL_CHANGE = np.full((5, 4), -2.2)
NULL_SD = np.full(5, 2.5)
BASELINE_MEAN, BASELINE_SD = 7.5, 1.2
TOLERANCE = 0.03


# --------------------------------------------------------------------------
# Synthetic interim data
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSets:
    binary: LookData
    continuous: LookData
    truth: np.ndarray  # (sets,) "table" or "null"
    n_total: np.ndarray


def _allocation(rng: np.random.Generator, n: int) -> np.ndarray:
    """Arm of each patient: exactly equal (half the sets) or Dirichlet-unequal."""
    if rng.random() < 0.5:
        return rng.permutation(np.arange(n) % len(ARMS))
    return rng.choice(len(ARMS), size=n, p=rng.dirichlet(np.full(len(ARMS), 2.0)))


def _cell_sums(arm, phen, x, y) -> np.ndarray:
    """(6, arms, phenotypes): n, sum_y, sum_y2, sum_x, sum_x2, sum_xy."""
    out = np.zeros((6, len(ARMS), len(PHENOTYPES)))
    cell = arm * len(PHENOTYPES) + phen
    for k, v in enumerate([np.ones_like(x), y, y * y, x, x * x, x * y]):
        out[k] = np.bincount(cell, weights=v, minlength=out[0].size).reshape(out.shape[1:])
    return out


def simulate(rng: np.random.Generator, n_sets: int) -> DataSets:
    """Interim data sets with 100-600 patients, half under the table truth, half null."""
    stats_b, stats_c, truths, totals = [], [], [], []
    for i in range(n_sets):
        truth = "table" if i % 2 == 0 else "null"
        change, sd = (TABLE_CHANGE, TABLE_SD) if truth == "table" else (NULL_CHANGE, NULL_SD)
        n = int(rng.integers(100, 601))
        arm = _allocation(rng, n)
        phen = rng.choice(len(PHENOTYPES), size=n, p=PREVALENCE)
        x = np.clip(rng.normal(BASELINE_MEAN, BASELINE_SD, n), 0, 10)
        follow = np.clip(x + change[arm, phen] + sd[arm] * rng.standard_normal(n), 0, 10)
        improvement = x - follow  # internal scale: higher is better
        responder = (improvement >= 0.5 * x).astype(float)
        stats_b.append(_cell_sums(arm, phen, x, responder))
        stats_c.append(_cell_sums(arm, phen, x, improvement))
        truths.append(truth)
        totals.append(n)

    def look(stats, binary):
        s = np.stack(stats, axis=1)  # (6, sets, arms, phenotypes)
        return LookData(*s, binary=binary, prevalence=PREVALENCE)

    return DataSets(look(stats_b, True), look(stats_c, False), np.array(truths), np.array(totals))


# --------------------------------------------------------------------------
# Decisions' probabilities
# --------------------------------------------------------------------------


def probabilities(posterior) -> np.ndarray:
    """(sets, 9): Pr(best) of every arm, Pr(better than sham) of arms 1-4."""
    n_sets = posterior.draws.shape[0]
    active = np.ones((n_sets, len(ARMS)), bool)
    best = posterior.prob_best(active)
    better = posterior.prob_better(np.zeros(n_sets, int), 0.0)[:, 1:]
    return np.concatenate([best, better], axis=1)


# --------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------


def engine(binary: bool, method: str = "fast", **kw) -> PymcEngine:
    return PymcEngine(len(ARMS), len(PHENOTYPES), binary, PymcPrior.preset("vague", binary), method, **kw)


def time_fast(eng: PymcEngine, data: LookData, repeats: int, seed: int) -> float:
    """Median fits per second over repeats of one batched call."""
    rates = []
    for r in range(repeats):
        rng = np.random.default_rng([seed, r])
        start = time.perf_counter()
        eng.fit(data, rng)
        rates.append(data.n.shape[0] / (time.perf_counter() - start))
    return float(np.median(rates))


_WORKER: dict = {}


def _worker_init(binary: bool, barrier) -> None:
    """Build the engine once per worker and warm it up (numba, caches)."""
    _WORKER["engine"] = engine(binary)
    _WORKER["barrier"] = barrier
    sets = simulate(np.random.default_rng(0), 2)
    _WORKER["engine"].fit(sets.binary if binary else sets.continuous, np.random.default_rng(0))


def _worker_ready(_) -> None:
    _WORKER["barrier"].wait()  # returns once every worker is initialised and here


def _worker_fit(args) -> int:
    data, seed = args
    _WORKER["engine"].fit(data, np.random.default_rng(seed))
    return data.n.shape[0]


def time_fast_parallel(binary: bool, data: LookData, workers: int, chunk: int) -> float:
    """Fits per second with `workers` processes, each with its engine built and warmed up first."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers)
    n = data.n.shape[0]
    tasks = [(data.take(np.arange(s, min(s + chunk, n))), s) for s in range(0, n, chunk)]
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(binary, barrier)) as pool:
        list(pool.map(_worker_ready, range(workers)))
        start = time.perf_counter()
        done = sum(pool.map(_worker_fit, tasks))
        return done / (time.perf_counter() - start)


def time_pm_sample(binary: bool, data: LookData, fits: int, seed: int) -> tuple[float, float]:
    """Seconds per plain per-look pm.sample (2 chains, 1000 tune + 1000 draws), median of
    `fits` looks: (wall time of the call, its sampling time alone without compilation)."""
    import pymc as pm

    from trialsim.inference.pymc_model import model_data

    eng = engine(binary)
    arrays = model_data(data, eng.prior)
    wall, sampling = [], []
    for i in range(fits):
        with eng.model:
            pm.set_data({k: v[i : i + 1] for k, v in arrays.items()})
            start = time.perf_counter()
            idata = pm.sample(draws=1000, tune=1000, chains=2, cores=2, random_seed=seed + i, progressbar=False,
                              compute_convergence_checks=False)
            wall.append(time.perf_counter() - start)
            sampling.append(idata.posterior.attrs["sampling_time"])
    return float(np.median(wall)), float(np.median(sampling))


# --------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------


def accuracy(binary: bool, data: LookData, truth: np.ndarray, seed: int, ref_draws: int) -> dict:
    fast_engine = engine(binary)
    fast = fast_engine.fit(data, np.random.default_rng([seed, 1]))
    nuts = engine(binary, "nuts", nuts_chains=4, nuts_draws=ref_draws, nuts_tune=1000, nuts_target_accept=0.99)
    start = time.perf_counter()
    ref = nuts.fit(data, np.random.default_rng([seed, 2]))
    ref_seconds = time.perf_counter() - start
    diff = np.abs(probabilities(fast.posterior) - probabilities(ref.posterior))
    worst = diff.max(axis=1)
    ok = worst <= TOLERANCE
    clean = ~ref.diagnostics["problem"]
    return {
        "share": ok.mean(),
        "by_truth": {t: ok[truth == t].mean() for t in ("table", "null")},
        "share_clean_ref": ok[clean].mean() if clean.any() else np.nan,
        "n_clean_ref": int(clean.sum()),
        "worst": worst,
        "fast_problem": fast.diagnostics["problem"].mean(),
        "fast_k_max": np.nanmax(fast.diagnostics["pareto_k"]),
        "fast_ess_median": np.median(fast.diagnostics["ess_min"]),
        "fast_sizes": (int(fast_engine._fast.proposal_factor * fast_engine.draws), fast_engine.draws),
        "ref_problem": ref.diagnostics["problem"].mean(),
        "ref_divergent": (ref.diagnostics["divergences"] > 0).mean(),
        "ref_ess_median": np.median(ref.diagnostics["ess_min"]),
        "ref_seconds": ref_seconds / data.n.shape[0],
    }


def report(name: str, one: float, two: float, plain: tuple[float, float], acc: dict, n_sets: int) -> None:
    wall, sampling = plain
    print(f"\n[{name}]")
    print(f"  fast path, 1 process  : {one:7.1f} fits/s (median of 3 repeats, 100 fits per call)")
    print(f"  fast path, 2 processes: {two:7.1f} fits/s")
    print(f"  plain pm.sample       : {wall:7.2f} s/fit wall, {sampling:.2f} s of it sampling "
          f"(2 chains, 1000 tune + 1000 draws, cores=2)")
    print(f"  speed-up vs pm.sample : {one * sampling:7.0f}x (1 process, vs sampling time alone), "
          f"{one * wall:.0f}x vs wall time; {two * sampling:.0f}x with 2 processes")
    print(f"  accuracy: all 9 probabilities within {TOLERANCE} of NUTS on {acc['share']:.1%} of {n_sets} data sets"
          f" (table {acc['by_truth']['table']:.1%}, null {acc['by_truth']['null']:.1%})")
    print(f"    excluding reference fits with problems: {acc['share_clean_ref']:.1%} of {acc['n_clean_ref']}")
    print(f"    largest |difference| per data set: median {np.median(acc['worst']):.4f}, 95th pct "
          f"{np.quantile(acc['worst'], 0.95):.4f}, max {acc['worst'].max():.4f}")
    print(f"    fast path: problem flagged {acc['fast_problem']:.1%}, max Pareto k {acc['fast_k_max']:.2f}, "
          f"median ESS {acc['fast_ess_median']:.0f} (of {acc['fast_sizes'][0]} proposals; "
          f"{acc['fast_sizes'][1]} draws kept)")
    print(f"    NUTS reference (nutpie 4 x 2000, target_accept 0.99): problem {acc['ref_problem']:.1%} "
          f"(divergent {acc['ref_divergent']:.1%}), median min bulk ESS {acc['ref_ess_median']:.0f}, "
          f"{acc['ref_seconds']:.2f} s/fit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 data sets per endpoint instead of 200")
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    began = time.perf_counter()
    n_sets = 40 if args.quick else 200
    sets = simulate(np.random.default_rng(args.seed), max(n_sets, 100))
    print(f"5 arms x 4 phenotypes, 100-600 patients; {n_sets} accuracy data sets per endpoint; {os.cpu_count()} cores")
    results = {}
    for name, binary in (("responder", True), ("continuous", False)):
        data = sets.binary if binary else sets.continuous
        eng = engine(binary)
        eng.fit(data.take(np.arange(2)), np.random.default_rng(0))  # warm up (numba, caches)
        one = time_fast(eng, data.take(np.arange(100)), repeats=3, seed=args.seed)
        two = time_fast_parallel(binary, data.take(np.arange(100)), workers=2, chunk=25)
        plain = time_pm_sample(binary, data, fits=3, seed=args.seed)
        acc = accuracy(binary, data.take(np.arange(n_sets)), sets.truth[:n_sets], args.seed, ref_draws=2000)
        results[name] = (one, two, plain, acc)
        report(name, one, two, plain, acc, n_sets)
    print("\nsummary (targets: >= 20 fits/s, 60x pm.sample; >= 95% of data sets within 0.03)")
    for name, (one, two, plain, acc) in results.items():
        print(f"  {name:10s}: {one:5.1f} fits/s (1 process), {two:5.1f} (2 processes); {one * plain[1]:4.0f}x "
              f"pm.sample sampling time; accuracy {acc['share']:.1%}")
    print(f"benchmark time: {(time.perf_counter() - began) / 60:.1f} min")


if __name__ == "__main__":
    main()
