"""Frequentist comparators: boundaries against published tables, tests against scipy, and the
simulated error rates and power of fixed-sample and group-sequential designs against their
analytic values within Monte Carlo error."""

from __future__ import annotations

import csv
from fractions import Fraction
from functools import cache

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize, stats

from trialsim.api import run
from trialsim.cli import main
from trialsim.compile import Overrides, compile_scenario
from trialsim.design import boundaries as gs
from trialsim.inference.base import LookData
from trialsim.inference.frequentist import PValuePosterior
from trialsim.scenario import ScenarioError, load_scenario, parse_scenario

from .conftest import ROOT, SCENARIOS, scenario_dict

PUBLISHED = ROOT / "tests" / "data" / "gs_published.csv"
TWO_ARM = SCENARIOS / "validation" / "frequentist_two_arm.yaml"


def _published() -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    with PUBLISHED.open() as f:
        for row in csv.DictReader(f):
            groups.setdefault((row["case"], row["kind"]), []).append(row)
    return groups


def _fractions(text: str) -> np.ndarray:
    return np.array([float(Fraction(x)) for x in text.split(";")])


@cache
def _computed(case: str, kind: str) -> np.ndarray:
    """Our value of every published quantity of one (case, kind), look by look."""
    r = _published()[(case, kind)][0]
    alpha, spending = float(r["alpha"]), r["spending"]
    param = float(r["param"]) if r["param"] else None
    if kind == "dunnett":
        return np.array([gs.dunnett_critical(alpha, gs.dunnett_correlation(np.ones(int(r["arms"])), 1.0))])
    t = _fractions(r["fractions"])
    if kind.startswith("classic"):
        return gs.classic_bounds(t, alpha, param)
    if r["fut_spending"]:  # gsDesign's full-length design: the futility rows list the interim looks only
        t = _fractions(_published()[(case, "efficacy")][0]["fractions"])
    efficacy = gs.efficacy_bounds(t, alpha, spending, param)
    if kind in ("efficacy",):
        return efficacy
    if kind == "cum_alpha":
        return np.cumsum(gs.crossing(t, efficacy)[0])
    if kind == "cum_power":  # gsDesign sizes the design for power 1 - beta: solve the drift the same way
        theta = optimize.brentq(lambda x: gs.power(t, efficacy, x) - (1 - float(r["beta"])), 0.1, 10.0, xtol=1e-12)
        return np.cumsum(gs.crossing(t, efficacy, None, theta)[0])
    theta = float(r["delta"]) * np.sqrt(float(r["information"]))
    futility = gs.futility_bounds(t, efficacy, theta, float(r["beta"]), r["fut_spending"], float(r["fut_param"]))
    if kind == "futility":
        return futility
    drift = 0.0 if kind in ("cum_alpha_with_futility", "cum_futility_h0") else theta
    up, down = gs.crossing(t, efficacy, futility, drift)
    return np.cumsum(down if kind.startswith("cum_futility") else up)


@pytest.mark.parametrize("case,kind", sorted(_published()))
def test_boundaries_match_published_tables(case: str, kind: str):
    """Every published number to the digits printed (tolerance: half a unit of the last digit)."""
    for row in _published()[(case, kind)]:
        ours = _computed(case, kind)[int(row["look"]) - 1]
        assert abs(ours - float(row["published"])) <= float(row["tolerance"]) + 1e-12, (row["source"], row["look"], ours)


def test_spending_functions_spend_alpha_by_the_end():
    t = np.linspace(0.01, 1, 50)
    for name, param in (("obf", None), ("pocock", None), ("hsd", -4.0), ("hsd", 1.0), ("hsd", 0.0), ("power", 2.0)):
        spent = gs.spending(name, 0.025, t, param)
        assert np.all(np.diff(spent) > 0) and spent[-1] == pytest.approx(0.025, abs=1e-15), name
    # O'Brien-Fleming-type spends far less early than Pocock-type
    assert gs.spending("obf", 0.025, 0.25) < 0.1 * gs.spending("pocock", 0.025, 0.25)


def test_attained_alpha_equals_the_spent_alpha():
    t = np.array([0.3, 0.55, 0.8, 1.0])  # unequal spacing
    for name, param in (("obf", None), ("pocock", None), ("hsd", -2.0)):
        efficacy = gs.efficacy_bounds(t, 0.025, name, param)
        np.testing.assert_allclose(np.cumsum(gs.crossing(t, efficacy)[0]), gs.spending(name, 0.025, t, param),
                                   atol=1e-9)


def test_crossing_probabilities_match_a_direct_simulation_of_the_canonical_distribution():
    """The recursion against brute force: Brownian increments, 200,000 paths (MCSE ~ 1e-3)."""
    rng = np.random.default_rng(14)
    t, theta = np.array([0.25, 0.5, 0.75, 1.0]), 2.5
    efficacy = gs.efficacy_bounds(t, 0.025, "pocock")
    futility = np.array([-0.5, 0.3, 1.0, -np.inf])
    steps = rng.standard_normal((200_000, 4)) * np.sqrt(np.diff(t, prepend=0)) + theta * np.diff(t, prepend=0)
    z = np.cumsum(steps, axis=1) / np.sqrt(t)
    up_first = np.zeros(4)
    alive = np.ones(len(z), bool)
    for k in range(4):
        up_first[k] = (alive & (z[:, k] >= efficacy[k])).mean()
        alive &= (z[:, k] < efficacy[k]) & (z[:, k] >= futility[k])
    up, _ = gs.crossing(t, efficacy, futility, theta)
    np.testing.assert_allclose(up, up_first, atol=4 * np.sqrt(0.25 / len(z)))


def test_dunnett_one_look_matches_the_multivariate_normal():
    corr = gs.dunnett_correlation(np.array([2.0, 1.0, 1.0]), 2.0)  # unequal shares: product structure
    c = gs.dunnett_critical(0.025, corr)
    mvn = stats.multivariate_normal(np.zeros(3), corr, seed=1, abseps=1e-8, releps=0)
    assert 1 - mvn.cdf(np.full(3, c)) == pytest.approx(0.025, abs=2e-6)
    # between the unadjusted and the Bonferroni critical values
    assert stats.norm.isf(0.025) < c < stats.norm.isf(0.025 / 3)


def test_dunnett_group_sequential_reduces_to_its_special_cases():
    t = np.array([0.5, 1.0])
    corr = gs.dunnett_correlation(np.ones(2), 1.0)
    np.testing.assert_allclose(gs.dunnett_group_sequential(t, 0.025, corr[:1, :1]), gs.efficacy_bounds(t, 0.025))
    assert gs.dunnett_group_sequential(np.array([1.0]), 0.025, corr)[0] == pytest.approx(gs.dunnett_critical(0.025, corr))
    dunnett = gs.dunnett_group_sequential(t, 0.025, corr)
    assert np.all(dunnett < gs.efficacy_bounds(t, 0.0125))  # Dunnett uses the correlation: below Bonferroni
    assert np.all(dunnett > gs.efficacy_bounds(t, 0.025))


def _look(n: list[int], y: list[float], y2: list[float], binary: bool) -> LookData:
    shape = (1, len(n), 1)
    arr = [np.array(v, float).reshape(shape) for v in (n, y, y2)]
    zeros = np.zeros(shape)
    return LookData(*arr, zeros, zeros, zeros, binary, np.ones(1))


@pytest.mark.parametrize("pooled", [True, False])
def test_t_tests_match_scipy(pooled: bool):
    rng = np.random.default_rng(7)
    control, arm = rng.normal(0, 1, 31), rng.normal(0.4, 1.7, 45)
    data = _look([31, 45], [control.sum(), arm.sum()], [(control**2).sum(), (arm**2).sum()], False)
    p = PValuePosterior.from_data(data, None, pooled).prob_better(np.array([0]), 0.0)[0, 1]
    expected = stats.ttest_ind(arm, control, equal_var=pooled, alternative="greater").pvalue
    assert 1 - p == pytest.approx(expected, rel=1e-9)


def test_proportions_z_test_is_the_chi_square_test():
    data = _look([120, 118], [30, 45], [30, 45], True)
    p = PValuePosterior.from_data(data, None, True).prob_better(np.array([0]), 0.0)[0, 1]
    table = np.array([[45, 118 - 45], [30, 120 - 30]])
    chi2 = stats.chi2_contingency(table, correction=False)[1]
    assert 2 * (1 - p) == pytest.approx(chi2, rel=1e-9)  # one-sided p = half the two-sided chi-square p (z > 0)


def test_compiled_thresholds_are_the_boundaries():
    plan = compile_scenario(parse_scenario(scenario_dict("validation/frequentist_two_arm.yaml")))
    design = plan.designs["gs_obf"]
    np.testing.assert_allclose(design.boundaries.efficacy, gs.efficacy_bounds(np.arange(1, 5) / 4, 0.025))
    np.testing.assert_allclose(design.decisions.superiority, stats.norm.cdf(design.boundaries.efficacy))
    assert plan.designs["fixed_t"].boundaries.efficacy[0] == pytest.approx(stats.norm.isf(0.025))


@pytest.mark.parametrize("change,path", [
    (lambda d: d["analysis"].update(engine="exact"), "analysis.engine"),
    (lambda d: d["decisions"].update(superiority=0.99), "decisions.superiority"),
    (lambda d: d.update(looks={"at_weeks": [10, 20], "max_patients": 400}), "looks"),
    (lambda d: d.update(allocation={"rule": "pr_best"}), "allocation.rule"),
    (lambda d: d["decisions"]["boundaries"].update(parameter=-2), "decisions.boundaries.parameter"),
])
def test_bad_frequentist_designs_are_refused(change, path):
    data = scenario_dict("validation/frequentist_two_arm.yaml")
    change(data["designs"]["gs_obf"])
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert f"designs.gs_obf.{path}" in str(err.value)


def _check_error_and_power(n_trials: int) -> None:
    """Simulated Pr(reject) against 0.025 (null) and the analytic power (drift 3), within MCSE."""
    oc = run(TWO_ARM, n_trials=n_trials).oc.set_index(["design", "truth", "metric"])
    t = np.arange(1, 5) / 4
    expected = {
        ("fixed_t", "no_difference"): 0.025, ("gs_obf", "no_difference"): 0.025,
        ("gs_pocock", "no_difference"): 0.025,
        ("fixed_t", "difference"): float(stats.norm.sf(1.96 - 3.0)),
        ("gs_obf", "difference"): gs.power(t, gs.efficacy_bounds(t, 0.025, "obf"), 3.0),
        ("gs_pocock", "difference"): gs.power(t, gs.efficacy_bounds(t, 0.025, "pocock"), 3.0),
    }
    for (design, truth), p in expected.items():
        est = oc.loc[(design, truth, "prob_effective_treatment"), "estimate"]
        # binomial MCSE at the expected value; t tests vs normal theory add < 0.003 at these sizes
        assert abs(est - p) < 3.5 * np.sqrt(p * (1 - p) / n_trials) + 0.003, (design, truth, est, p)
    for design, spending in (("gs_obf", "obf"), ("gs_pocock", "pocock")):
        asn = 400 * gs.expected_fraction(t, gs.efficacy_bounds(t, 0.025, spending), 3.0)
        est, se = oc.loc[(design, "difference", "size_mean"), ["estimate", "mcse"]]
        assert abs(est - asn) < 4 * se + 2.0, (design, est, asn)


def test_error_and_power_of_frequentist_designs():
    _check_error_and_power(2000)


@pytest.mark.slow
def test_error_and_power_of_frequentist_designs_10000():
    _check_error_and_power(10_000)


def _check_multiarm(n_trials: int) -> None:
    """Family-wise error of three arms vs a control: Dunnett at 0.025, Bonferroni at its exact level."""
    oc = run(SCENARIOS / "validation" / "frequentist_multiarm.yaml", n_trials=n_trials).oc
    oc = oc.set_index(["design", "truth", "metric"])
    corr = gs.dunnett_correlation(np.ones(3), 1.0)
    bonferroni = gs.familywise_error(stats.norm.isf(0.025 / 3), corr)
    assert 0.0215 < bonferroni < 0.0235  # Bonferroni wastes a little of the 2.5% (0.0223 with rho = 1/2)
    for design, p in (("dunnett_fixed", 0.025), ("bonferroni_fixed", bonferroni), ("dunnett_gs", 0.025)):
        est = oc.loc[(design, "no_difference", "prob_any_effective"), "estimate"]
        assert abs(est - p) < 3.5 * np.sqrt(p * (1 - p) / n_trials) + 0.002, (design, est, p)


def test_family_wise_error_of_multi_arm_designs():
    _check_multiarm(1000)


@pytest.mark.slow
def test_family_wise_error_of_multi_arm_designs_10000():
    _check_multiarm(10_000)


BUNDLED = SCENARIOS / "clbp_group_sequential.yaml"


def test_describe_prints_the_boundaries():
    result = CliRunner().invoke(main, ["describe", str(BUNDLED)])
    assert result.exit_code == 0, result.output
    assert "t test of the difference in means, pooled SE; O'Brien-Fleming-type alpha spending" in result.output
    assert "         1       120  0.33      3.7103   0.000104" in result.output  # gsDesign's sfLDOF at 1/3, 2/3, 1
    assert "     -0.3122" in result.output  # the futility boundary column


def test_engine_override_leaves_frequentist_designs_alone():
    plan = compile_scenario(load_scenario(BUNDLED), Overrides(engine="pymc"))
    engines = {name: d.analysis.engine for name, d in plan.designs.items()}
    assert engines.pop("bayes_adaptive") == "pymc" and set(engines.values()) == {"frequentist"}


def test_calibrating_a_frequentist_design_is_bad_input():
    result = CliRunner().invoke(main, ["calibrate", str(BUNDLED), "--design", "gs_obf", "--truth", "no_effect"])
    assert result.exit_code == 2 and "is frequentist" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_type_one_error_of_the_proportions_z_test_10000():
    """Binary endpoint (rate 0.3 in both arms, 200 per arm): the pooled z test (the chi-square
    test) at one-sided 2.5%, fixed and O'Brien-Fleming group-sequential; the discrete
    distribution moves the exact size by well under 0.003 at this size."""
    data = scenario_dict("validation/frequentist_two_arm.yaml")
    data["endpoint"] = {"type": "binary", "higher_is_better": True}
    data["truths"] = {"no_effect": {"arms": {"control": {"rate": 0.3}, "treatment": {"rate": 0.3}}}}
    data["designs"] = {k: v for k, v in data["designs"].items() if k in ("fixed_t", "gs_obf")}
    oc = run(parse_scenario(data), n_trials=10_000).oc.set_index(["design", "metric"])
    for design in ("fixed_t", "gs_obf"):
        est = oc.loc[(design, "prob_effective_treatment"), "estimate"]
        assert abs(est - 0.025) < 3.5 * np.sqrt(0.025 * 0.975 / 10_000) + 0.003, (design, est)
