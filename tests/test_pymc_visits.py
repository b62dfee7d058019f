"""The PyMC engine's visit-level models at longitudinal interims (inference/pymc_visits.py, issue 13).

Fast tests share one compiled engine per model (visit_engine is cached per process); NUTS and coverage
over hundreds of replicates are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytest
import yaml
from click.testing import CliRunner

from trialsim.cli import main
from trialsim.design.longitudinal import Pending, combine
from trialsim.inference.base import LookData
from trialsim.inference.engines import AnalysisPlan, PymcInference, pymc_engine
from trialsim.inference.exact import ArmPosteriors
from trialsim.inference.pymc_visits import visit_engine
from trialsim.inference.visit_data import visit_stats

from .test_longitudinal import RECORDS, longitudinal_scenario, mvn_trials, run, visit_trials

WEEKS = (4.0, 8.0, 12.0)
MEAN = np.array([-1.0, -1.5, -2.0])


def correlated(rho: float, sds=(2.0, 2.2, 2.5)) -> np.ndarray:
    corr = np.array([[1, rho, rho**2 * 0.9], [rho, 1, rho], [rho**2 * 0.9, rho, 1]])
    return corr * np.outer(sds, sds)


def one_arm(trials, mode: str = "mvn", weeks=None, n_arms: int = 1, n_phenotypes: int = 1):
    """(the exact engine's combined statistics, the same look with the visits) of one-arm replicates,
    or of trials whose arms are consecutive replicates (`n_arms`), every patient in phenotype 0."""
    if n_arms > 1:
        trials = as_arms(trials, n_arms, n_phenotypes)
    data, arm, completer, y, early, pending = trials
    phenotype = np.zeros(arm.shape, np.int16)
    out, _ = combine(data, mode, arm, completer, y, early, pending, phenotype, np.ones(arm.shape, bool), weeks=weeks)
    stats = visit_stats(arm, completer, y, early, pending.reached, phenotype, np.full(arm.shape, 7.0), n_arms,
                        n_phenotypes, WEEKS)
    return out, out.with_visits(stats)


def as_arms(trials, k: int, n_phenotypes: int):
    """One-arm replicates (k b of them) as b trials of k arms (replicates k i .. k i + k - 1)."""
    data, arm, completer, y, early, pending = trials
    b, n = arm.shape[0] // k, arm.shape[1]
    flat = lambda a: a.reshape(b, k * n, *a.shape[2:])  # noqa: E731
    arm = np.broadcast_to(np.repeat(np.arange(k, dtype=np.int16), n), (b, k * n)).copy()
    cells = lambda v: np.pad(v.reshape(b, k, 1), ((0, 0), (0, 0), (0, n_phenotypes - 1)))  # noqa: E731
    data = LookData(*(cells(v) for v in (data.n, data.sum_y, data.sum_y2, data.sum_x, data.sum_x2, data.sum_xy)),
                    False, np.r_[1.0, np.zeros(n_phenotypes - 1)])
    pending = Pending(flat(pending.mask), flat(pending.x), flat(pending.visit), flat(pending.reached))
    return data, arm, flat(completer), flat(y), flat(early), pending


def exact_moments(out) -> tuple[np.ndarray, np.ndarray]:
    """The exact engine's posterior mean and SD of the arm means (t posteriors), (trials, arms)."""
    post = ArmPosteriors.from_data(out)
    df, loc = post.a
    return loc, post.b * np.sqrt(df / (df - 2))


ARMS, PHENOTYPES = 5, 4  # the `trialsim run` test's scenario: its compiled engines serve every fast test


def test_visit_posterior_agrees_with_the_exact_mvn():
    """Known multivariate normal, per arm 150 completers and 120 pending patients (half at 4 weeks, half
    at 8), 2 trials x 5 arms: the flat-prior visit-level posterior of each final-visit mean has the exact
    engine's mean and SD within 4 Monte Carlo SE of the draws (SE from the fit's effective sample size);
    and the early visits narrow it (vs completers alone)."""
    trials = mvn_trials(np.random.default_rng(5), 2 * ARMS, 150, 120, MEAN, correlated(0.8))
    out, look = one_arm(trials, n_arms=ARMS, n_phenotypes=PHENOTYPES)
    fit = visit_engine("mvn", ARMS, PHENOTYPES, WEEKS, "exact").fit(look, [np.random.default_rng(i) for i in range(2)])
    assert not fit.diagnostics["problem"].any()
    ess = fit.diagnostics["ess_min"][:, None]
    draws = fit.posterior.draws
    loc, sd = exact_moments(out)
    assert (np.abs(draws.mean(1) - loc) < 4 * sd / np.sqrt(ess)).all()
    # SD of a sample SD: ~ sd / sqrt(2 ESS)
    assert (np.abs(draws.std(1) / sd - 1) < 4 / np.sqrt(2 * ess)).all()
    alone = exact_moments(as_arms(trials, ARMS, PHENOTYPES)[0])[1]
    assert (draws.std(1) < alone).all()


def test_visit_model_with_completers_only_is_todays_posterior():
    """Without pending patients the visit-level model (flat priors) gives each arm mean the posterior of
    today's model (the t posterior of the completers' endpoints) within Monte Carlo error. (Its posterior
    SD is wider by O(V / n): the flat priors of the visits' extra parameters; with 80 completers about 2%,
    hence 300 here; the engine sends such looks to today's model anyway.)"""
    trials = mvn_trials(np.random.default_rng(8), 2 * ARMS, 300, 0, MEAN, correlated(0.6))
    _, look = one_arm(trials, n_arms=ARMS, n_phenotypes=PHENOTYPES)
    assert look.visits.n[..., :-1].sum() == 0
    fit = visit_engine("mvn", ARMS, PHENOTYPES, WEEKS, "exact").fit(look, [np.random.default_rng(i) for i in range(2)])
    ess = fit.diagnostics["ess_min"][:, None]
    loc, sd = exact_moments(look)
    assert (np.abs(fit.posterior.draws.mean(1) - loc) < 4 * sd / np.sqrt(ess)).all()
    assert (np.abs(fit.posterior.draws.std(1) / sd - 1) < 4 / np.sqrt(2 * ess)).all()


def test_trialsim_run_with_pymc_and_a_longitudinal_model(tmp_path):
    """`trialsim run` of a small scenario whose design uses the PyMC engine (vague preset: partial pooling
    across phenotypes, baseline slope) with the mvn visit-level model; `describe` says so."""
    from .conftest import scenario_dict

    data = scenario_dict()
    data["patients"]["visits"] = [4, 8, 12, 26, 52]
    data["truths"] = {"industry": data["truths"]["industry"]}
    data.pop("targets", None)  # they name the other truths
    design = data["designs"]["adaptive"]
    design["analysis"] = {"engine": "pymc", "longitudinal": "mvn", "prior": "vague"}
    data["designs"] = {"pymc_mvn": design}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    described = CliRunner().invoke(main, ["describe", str(path)])
    assert described.exit_code == 0 and "at the visit level" in described.output
    result = CliRunner().invoke(main, ["run", str(path), "-n", "1", "-q", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    import xarray as xr

    ds = xr.open_dataset(tmp_path / "out" / "trials.nc")
    assert ds["imputed_n"].values.sum() > 0 and np.isfinite(ds["estimate"].values).all()
    assert (ds["fits"].values > 1).all()


def test_without_early_visits_the_engine_is_todays_bit_for_bit():
    """Looks whose pending patients reached no earlier visit go to today's arm x phenotype model: the
    same draws from the same streams. (5 arms x 4 phenotypes, vague preset: the engine the `trialsim run`
    test above compiled.)"""
    rng = np.random.default_rng(2)
    b, n, arms, phen = 3, 200, 5, 4
    arm = np.tile(np.arange(n) % arms, (b, 1)).astype(np.int16)
    phenotype = rng.integers(phen, size=(b, n)).astype(np.int16)
    z = rng.multivariate_normal(MEAN, correlated(0.5), size=(b, n))
    baseline = rng.normal(7.5, 1.2, (b, n))
    cell = (np.arange(b)[:, None] * arms + arm) * phen + phenotype
    y = z[..., 2]
    data = LookData(*(np.bincount(cell.ravel(), w.ravel(), b * arms * phen).reshape(b, arms, phen)
                      for w in (np.ones((b, n)), y, y * y, baseline, baseline**2, baseline * y)), False,
                    np.array([0.25, 0.55, 0.18, 0.02]))
    stats = visit_stats(arm, np.ones((b, n), bool), y, z[..., :2], np.zeros((b, n, 2), bool), phenotype, baseline,
                        arms, phen, WEEKS)
    plan = AnalysisPlan("pymc", n_arms=arms, n_phenotypes=phen, preset="vague", longitudinal="mvn", early_visits=(0, 1))
    trials, active = np.arange(b), np.ones((b, arms), bool)
    with_visits = PymcInference(pymc_engine(plan), 7, "d", "mvn", "vague")(data.with_visits(stats), trials,
                                                                          active)
    today = PymcInference(pymc_engine(plan), 7, "d")(data, trials, active)
    np.testing.assert_array_equal(with_visits.draws, today.draws)
    assert np.isfinite(today.draws).all()


@pytest.mark.slow
def test_without_early_visits_a_design_is_todays_bit_for_bit():
    """A scenario whose only visit before the endpoint is the endpoint: identical records."""
    # the PyMC engine's streams are keyed by the design's name: the same name in two runs
    runs = [run(longitudinal_scenario({"pymc": {"engine": "pymc", **extra}}, visits=(12, 52)), n=2)
            for extra in ({}, {"longitudinal": "mvn"})]
    for name in RECORDS:
        np.testing.assert_array_equal(runs[0][name].values, runs[1][name].values, err_msg=name)


def test_fit_compiles_nothing(monkeypatch):
    """The model is compiled once per process; later looks only swap data."""
    engine = visit_engine("mvn", ARMS, PHENOTYPES, WEEKS, "exact")
    _, look = one_arm(mvn_trials(np.random.default_rng(1), ARMS, 40, 30, MEAN, correlated(0.7)), n_arms=ARMS,
                      n_phenotypes=PHENOTYPES)
    engine.fit(look, np.random.default_rng(0))
    calls = []
    original = pytensor.function
    monkeypatch.setattr(pytensor, "function", lambda *a, **k: calls.append(1) or original(*a, **k))
    engine.fit(look, np.random.default_rng(1))
    assert calls == [] and visit_engine("mvn", ARMS, PHENOTYPES, WEEKS, "exact") is engine


# --------------------------------------------------------------------------
# Slow: NUTS, coverage over replicates
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_nuts_agrees_with_the_exact_mvn():
    """The same comparison as the fast path's, with nutpie NUTS (tolerance from its bulk ESS)."""
    trials = mvn_trials(np.random.default_rng(5), 2, 150, 120, MEAN, correlated(0.8))
    out, look = one_arm(trials)
    engine = visit_engine("mvn", 1, 1, WEEKS, "exact", method="nuts")
    fit = engine.fit(look, [np.random.default_rng(i) for i in range(2)])
    ess = fit.diagnostics["ess_min"][:, None]
    assert (fit.diagnostics["rhat_max"] < 1.01).all() and (fit.diagnostics["divergences"] == 0).all()
    draws = fit.posterior.draws
    loc, sd = exact_moments(out)
    assert (np.abs(draws.mean(1) - loc) < 4 * sd / np.sqrt(ess)).all()
    assert (np.abs(draws.std(1) / sd - 1) < 4 / np.sqrt(2 * ess)).all()


def coverage(look, truth: float, engine, n_rep: int) -> np.ndarray:
    fit = engine.fit(look, [np.random.default_rng(i) for i in range(n_rep)])
    lo, hi = np.quantile(fit.posterior.draws[..., 0], [0.025, 0.975], axis=1)
    return (lo <= truth) & (truth <= hi)


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.8, 0.3])
def test_mvn_coverage_of_the_final_mean(rho):
    """400 replicates of a known MVN (60 completers, 50 pending): the 95% posterior interval of the final-visit
    mean covers the truth in 95% +- 3 binomial SE."""
    n_rep = 400
    _, look = one_arm(mvn_trials(np.random.default_rng(31), n_rep, 60, 50, MEAN, correlated(rho)))
    covered = coverage(look, MEAN[2], visit_engine("mvn", 1, 1, WEEKS, "exact"), n_rep)
    assert abs(covered.mean() - 0.95) < 3 * np.sqrt(0.95 * 0.05 / n_rep), covered.mean()


@pytest.mark.slow
@pytest.mark.parametrize("kt", [-3.0, 0.0, 2.5])
def test_itp_coverage_of_the_final_mean(kt):
    """400 replicates of FACTS's ITP model (150 completers, 80 pending; shapes concave, linear, convex):
    the 95% interval of the endpoint mean covers theta in 95% +- 3 binomial SE."""
    from trialsim.design.longitudinal_models import itp_shape

    n_rep, n_c, n_p = 400, 150, 80
    theta, tau, lam = -2.0, 1.5, 1.2
    rng = np.random.default_rng(37)
    f = itp_shape(np.array([kt]), np.array(WEEKS))[0]
    z = (theta + rng.normal(0, tau, (n_rep, n_c + n_p, 1))) * f + rng.normal(0, lam, (n_rep, n_c + n_p, 3))
    _, look = one_arm(visit_trials(z, n_c, n_p), "itp", np.array(WEEKS))
    covered = coverage(look, theta, visit_engine("itp", 1, 1, WEEKS, "exact"), n_rep)
    assert abs(covered.mean() - 0.95) < 3 * np.sqrt(0.95 * 0.05 / n_rep), covered.mean()
