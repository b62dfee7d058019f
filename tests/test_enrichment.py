"""Phenotype-adaptive designs: arms closed to a phenotype receive none of its later patients."""

from __future__ import annotations

import numpy as np
import xarray as xr

from trialsim.api import plan_for
from trialsim.cohort import Cohort
from trialsim.design.parallel import run_design
from trialsim.design.schedule import look_schedule
from trialsim.inference.engines import make_inference
from trialsim.run.runner import simulate
from trialsim.scenario import load_scenario, parse_scenario

from .conftest import SCENARIOS


def exact_only():
    data = load_scenario(SCENARIOS / "clbp_enrichment.yaml").model_dump(mode="json")
    data["designs"] = {"independent_exact": data["designs"]["independent_exact"]}
    return parse_scenario(data)


def test_closed_arms_get_no_more_patients_of_that_phenotype():
    full = plan_for(exact_only(), seed=5)
    plan = full.designs["independent_exact"]
    cohort = Cohort(full.cohort, full.seed, np.arange(150))
    closed_at: dict[tuple[int, int, int], int] = {}  # (trial, phenotype, arm) -> look index

    def observe(rec):
        for row, t in enumerate(rec.trials):
            for p, k in zip(*np.nonzero(rec.state.closed[t])):
                closed_at.setdefault((int(t), int(p), int(k)), rec.look)

    infer = make_inference(plan.analysis, full.seed, "independent_exact")
    result = run_design(plan, cohort, full.truths["neuropathic_scs"], infer, observer=observe)
    schedule = look_schedule(plan.looks, cohort.arrival_week, full.cohort.endpoint_weeks)
    assert closed_at, "the scenario should close some arm to some phenotype"
    for (t, p, k), look in closed_at.items():
        later = np.arange(plan.n_max) >= schedule.randomised[t, look]
        assigned = (result.observed.arm[t] == k) & (cohort.phenotype[t, : plan.n_max] == p) & later
        assert not assigned.any(), (t, p, k, look)


def test_enrichment_closes_where_the_arm_does_not_work():
    ds = simulate(plan_for(exact_only(), n_trials=300, seed=2))
    closed = ds.closed.sel(design="independent_exact", truth="neuropathic_scs", arm="scs").mean("trial")
    assert float(closed.sel(phenotype="nociceptive")) > float(closed.sel(phenotype="neuropathic")) + 0.05


def test_pymc_runs_are_reproducible_and_chunk_independent():
    scenario = load_scenario(SCENARIOS / "clbp_enrichment.yaml")
    data = scenario.model_dump(mode="json")
    data["designs"] = {"hierarchical": data["designs"]["hierarchical"]}
    data["truths"] = {"neuropathic_scs": data["truths"]["neuropathic_scs"]}
    scenario = parse_scenario(data)
    a = simulate(plan_for(scenario, n_trials=4, seed=8), chunk_size=1)
    b = simulate(plan_for(scenario, n_trials=4, seed=8), chunk_size=4)
    for ds in (a, b):
        ds.attrs.pop("created"), ds.attrs.pop("elapsed_seconds")
    xr.testing.assert_identical(a, b)
    assert int(a.fits.sum()) > 0
