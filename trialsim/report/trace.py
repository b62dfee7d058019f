"""One simulated trial, look by look: what `trialsim trace` prints and saves.

Trial k is re-simulated on its own; because every trial has its own random
stream and its computations do not depend on other trials, it is exactly the
trial k of a full run with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cohort import Cohort
from ..design.decisions import against_own
from ..design.families import run_any
from ..design.parallel import LookRecord
from ..design.state import ArmFate, Stop
from ..inference.engines import make_inference
from ..plan import TrialPlan
from ..rng import Stream, trial_stream

N_DRAWS = 4000


@dataclass
class LookTrace:
    look: int
    analysed: int
    randomised: int
    n: np.ndarray  # patients with outcome per arm
    mean: np.ndarray  # posterior mean, endpoint scale
    pr_best: np.ndarray
    pr_better: np.ndarray | None  # vs the control after this look's decisions
    control: int  # the control after this look's decisions (new_control may replace it), -1 if none
    fate: np.ndarray
    allocation: np.ndarray
    stop: int
    posterior_draws: np.ndarray  # (draws, arms), endpoint scale


@dataclass
class TrialTrace:
    plan: TrialPlan
    design: str
    truth: str
    trial: int
    seed: int
    looks: list[LookTrace] = field(default_factory=list)
    size: int = 0
    selected: int = -1
    true_values: np.ndarray | None = None


def trace_trial(plan: TrialPlan, design: str, truth: str, trial: int) -> TrialTrace:
    """Re-simulate one trial of one design under one truth, recording every look."""
    seed = plan.seed
    design_plan, truth_plan = plan.designs[design], plan.truths[truth]
    cohort = Cohort(plan.cohort, seed, np.array([trial]))
    infer = make_inference(design_plan.analysis, seed, design)
    rng = trial_stream(seed, trial, Stream.INFERENCE, 1)  # draws for saving only; never feeds back
    endpoint = plan.endpoint
    out = TrialTrace(plan, design, truth, trial, seed, true_values=endpoint.true_values(truth_plan.model, plan.cohort.population))

    def observe(rec: LookRecord) -> None:
        if rec.trials.size == 0:
            return
        post, state = rec.posterior, rec.state
        control = int(state.control[rec.trials[0]])
        rule = design_plan.decisions
        if rule.matched:  # each arm against its own control
            better = against_own(post.prob_better, rule.comparator, 1, 0.0)[0]
            better = np.where(rule.comparator >= 0, better, np.nan)
        else:
            better = None if control < 0 else post.prob_better(np.array([control]), 0.0)[0]
        out.looks.append(LookTrace(
            look=rec.look, analysed=int(rec.analysed[0]), randomised=int(rec.randomised[0]),
            n=rec.n[0].astype(int), mean=endpoint.from_internal(post.mean()[0]),
            pr_best=rec.pr_best[0], pr_better=better, control=control, fate=state.fate[rec.trials[0]].copy(),
            allocation=rec.allocation[0].copy(), stop=int(state.stop[rec.trials[0]]),
            posterior_draws=endpoint.from_internal(post.sample(rng, N_DRAWS)[0]),
        ))

    result = run_any(design_plan, cohort, truth_plan, infer, observer=observe)
    out.size, out.selected = int(result.size[0]), int(result.selected[0])
    return out


def format_trace(t: TrialTrace) -> str:
    """The trial's story in a table per look."""
    arms = t.plan.arms
    control = t.plan.designs[t.design].control
    lines = [f"Trial {t.trial} of design '{t.design}' under truth '{t.truth}' (seed {t.seed})",
             "true values: " + ", ".join(f"{a} {v:.3g}" for a, v in zip(arms, t.true_values)), ""]
    for lk in t.looks:
        lines.append(f"Look {lk.look + 1}: {lk.analysed} patients with the endpoint, {lk.randomised} randomised")
        header = f"  {'arm':12s} {'n':>5s} {'mean':>8s} {'Pr(best)':>9s}"
        header += f" {'Pr(>ctrl)':>10s}" if control else ""
        lines.append(header + f" {'next alloc':>10s}  status")
        for k, arm in enumerate(arms):
            fate = ArmFate(lk.fate[k])
            # an arm that left the trial has no Pr(best) among the active arms: say why instead of 0
            left = {ArmFate.ACTIVE: "", ArmFate.EFFECTIVE: "graduated", ArmFate.EXCLUDED: "-"}.get(fate, "dropped")
            row = f"  {arm:12s} {lk.n[k]:5d} {lk.mean[k]:8.3f} " + (f"{left:>9s}" if left else f"{lk.pr_best[k]:9.4f}")
            if control:
                row += "          -" if k == lk.control or np.isnan(lk.pr_better[k]) else f" {lk.pr_better[k]:10.4f}"
            alloc = "-" if np.isnan(lk.allocation[k]) else f"{lk.allocation[k]:.3f}"
            is_control = k == lk.control or k in t.plan.designs[t.design].decisions.comparators(len(arms))
            status = "control" if is_control and fate == ArmFate.ACTIVE else fate.name.lower()
            lines.append(row + f" {alloc:>10s}  {status}" + (f" ({left})" if left not in ("", "-") else ""))
        if lk.stop:
            lines.append(f"  -> trial stops: {Stop(lk.stop).name.lower()}")
        lines.append("")
    chosen = "none" if t.selected < 0 else arms[t.selected]
    lines.append(f"Final analysis with {t.size} randomised; selected arm: {chosen}")
    return "\n".join(lines)


def save_posteriors(t: TrialTrace, folder: Path) -> list[Path]:
    """Each look's posterior of the arm parameters as ArviZ-readable netCDF (posterior group)."""
    import arviz as az

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for lk in t.looks:
        chains = lk.posterior_draws.reshape(4, -1, lk.posterior_draws.shape[-1])  # independent draws as 4 chains
        idata = az.from_dict(posterior={"theta": chains}, coords={"arm": list(t.plan.arms)},
                             dims={"theta": ["arm"]},
                             attrs={"design": t.design, "truth": t.truth, "trial": t.trial, "look": lk.look + 1,
                                    "seed": t.seed, "scale": t.plan.endpoint.name})
        path = folder / f"look_{lk.look + 1:02d}.nc"
        idata.to_netcdf(str(path))
        paths.append(path)
    return paths

