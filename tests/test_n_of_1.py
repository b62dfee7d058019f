"""N-of-1 series (design/n_of_1.py) and bad input to the within-patient designs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from trialsim.cli import main
from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.design.families import run_any
from trialsim.design.n_of_1 import BlockData, block_differences, normal_posterior
from trialsim.scenario import parse_scenario

from .conftest import SCENARIOS, scenario_dict


def _plan(designs: list[str], n_trials: int | None = None):
    data = scenario_dict("clbp_crossover.yaml")
    data["designs"] = {k: v for k, v in data["designs"].items() if k in designs}
    return compile_scenario(parse_scenario(data))


def test_blocks_hold_every_treatment_once_in_an_order_of_the_patient_own():
    plan = _plan(["n_of_1_normal"])
    fam = plan.designs["n_of_1_normal"].family
    a = fam.orders(Cohort(plan.cohort, plan.seed, np.array([3, 4])), 40)
    b = fam.orders(Cohort(plan.cohort, plan.seed, np.array([4])), 40)
    np.testing.assert_array_equal(a[1], b[0])  # a patient's orders do not depend on the chunk
    assert (np.sort(a, axis=-1) == np.arange(3)).all()  # each block is a permutation
    orders = {tuple(row) for row in a.reshape(-1, 3)}
    assert len(orders) == 6  # every order occurs


def test_block_differences_pair_each_treatment_with_the_control_of_its_block():
    position = np.array([[[[2, 0, 1], [0, 1, 2]]]])  # block 1: A, B, control; block 2: control, A, B
    y = np.array([[[10.0, 20.0, 30.0, 1.0, 2.0, 3.0]]])
    d = block_differences(y, position, np.ones((1, 1), bool))
    np.testing.assert_allclose(d.mean[0, 0], [((10 - 30) + (2 - 1)) / 2, ((20 - 30) + (3 - 1)) / 2])
    np.testing.assert_allclose(d.ss[0, 0], [2 * 10.5 ** 2, 2 * 6.0 ** 2])


def test_population_effect_is_the_t_posterior_of_the_patients_mean_differences():
    g = np.random.default_rng(3)
    mean = g.normal(0.5, 1.0, (1, 15, 2))
    data = BlockData(mean, g.gamma(2.0, 1.0, (1, 15, 2)), np.ones((1, 15), bool), 2)
    post, own = normal_posterior(data, (0, 1, 2), 3, np.zeros(1))
    x = mean[0, :, 1]
    p = stats.t.cdf(x.mean() / (x.std(ddof=1) / np.sqrt(15)), 14)
    assert post.prob_better(np.zeros(1, int), 0.0)[0, 2] == pytest.approx(p, rel=1e-10)
    assert own.shape == (1, 15, 2) and ((own >= 0) & (own <= 1)).all()


def test_type_one_error_of_the_series_is_near_nominal():
    """Population decisions under no effect: each arm declared better than sham at about 2.5%."""
    plan = _plan(["n_of_1_normal"])
    trials = 3000
    result = run_any(plan.designs["n_of_1_normal"], Cohort(plan.cohort, plan.seed, np.arange(trials)),
                     plan.truths["no_effect"], None)
    se = np.sqrt(0.025 * 0.975 / trials)
    for arm in (2, 3):
        assert abs((result.state.fate[:, arm] == 1).mean() - 0.025) < 4 * se


@pytest.mark.slow
def test_pymc_hierarchical_model_agrees_with_its_normal_approximation():
    """The PyMC fit and the normal approximation see the same patients: population estimates agree."""
    plan = _plan(["n_of_1", "n_of_1_normal"])
    cohort = Cohort(plan.cohort, plan.seed, np.arange(6))
    truth = plan.truths["sham_anchored"]
    from trialsim.inference.engines import make_inference

    infer = make_inference(plan.designs["n_of_1"].analysis, 1, "x")
    pymc = run_any(plan.designs["n_of_1"], cohort, truth, infer)
    normal = run_any(plan.designs["n_of_1_normal"], cohort, truth, None)
    diff = pymc.estimate[:, 2:] - normal.estimate[:, 2:]
    assert np.abs(diff).max() < 0.5  # NRS points; priors and shrinkage differ a little
    assert np.isfinite(pymc.detected_share[:, 2:]).all()
    fits, flagged = infer.fit_counts(cohort.trials)  # every NUTS fit reaches the records' diagnostics
    assert (fits >= 1).all() and (flagged <= fits).all()


# --- bad input -------------------------------------------------------------------------------------------

def _case(edit) -> dict:
    data = scenario_dict("clbp_crossover.yaml")
    edit(data)
    return data


BAD = [
    ("ab_ba with four treatments", lambda d: d["designs"]["ab_ba"]["crossover"].pop("treatments"), "'ab_ba' takes two"),
    ("sequences with different treatments",
     lambda d: d["designs"]["four_period"]["crossover"].update(sequences=[["sham", "scs", "scs", "scs"],
                                                                          ["scs", "sham", "sham", "scs"]]),
     "same treatments as often"),
    ("period end not a visit", lambda d: d["designs"]["ab_ba"]["crossover"].update(period_weeks=10),
     "add 10, 20 to patients.visits"),
    ("crossover with the pymc engine", lambda d: d["designs"]["ab_ba"].update(analysis={"engine": "pymc"}),
     "engine exact"),
    ("unknown arm in a sequence",
     lambda d: d["designs"]["four_period"]["crossover"].update(sequences=[["sham", "scz", "scs", "sham"],
                                                                          ["scs", "sham", "sham", "scs"]]),
     "unknown arm 'scz'"),
    ("one N-of-1 block", lambda d: d["designs"]["n_of_1_normal"]["n_of_1"].update(blocks=1), "greater than or equal to 2"),
    ("crossover and N-of-1 together",
     lambda d: d["designs"]["ab_ba"].update(n_of_1={"treatments": ["sham", "scs"]}), "either crossover or n_of_1"),
    ("carry-over share above 1", lambda d: d["truths"]["carryover"]["arms"]["scs"]["carryover"].update(share=1.5),
     "less than or equal to 1"),
]


@pytest.mark.parametrize("label, edit, expect", BAD, ids=[b[0] for b in BAD])
def test_bad_within_patient_input_is_one_clear_line(tmp_path, label, edit, expect):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_case(edit)))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expect in lines[0], result.output


def test_bundled_scenario_validates_and_describes_its_designs_in_words():
    runner = CliRunner()
    path = str(SCENARIOS / "clbp_crossover.yaml")
    assert runner.invoke(main, ["validate", path]).exit_code == 0
    words = runner.invoke(main, ["describe", path]).output
    assert "crossover (AB/BA sequences" in words and "sham-scs-scs-sham" in words and "N-of-1 series: 2 blocks" in words
