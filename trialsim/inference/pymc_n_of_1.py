"""The hierarchical model of an N-of-1 series in PyMC, sampled with NUTS (nutpie), one trial at a time.

For patient i and treatment k (vs the control), block b: d_ikb = y_ikb - y_control,b (internal scale,
higher is better, NRS points) and

    d_ikb ~ N(delta_ik, s_k^2)             within-patient noise (period, visit, measurement)
    delta_ik = mu_k + omega_k * z_ik       the patient's own effect (non-centred), z_ik ~ N(0, 1)
    mu_k ~ N(0, 5^2)                       population mean effect (weakly informative over the NRS)
    omega_k ~ HalfNormal(1)                between-patient SD of the effect (NRS points)
    s_k ~ HalfNormal(2.5)                  within-patient SD (the SD of NRS change, ~2.5)

The likelihood is written from each patient's mean difference and sum of squares over blocks
(exact). The model is compiled once per process and per number of treatments (as the arm x
phenotype models of pymc_model.py), and the data swapped per trial (nutpie `with_data`). Each
trial's sampler seed comes from its own inference stream (rng.trial_stream keyed by the design),
so results do not depend on chunking or workers.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable

import numpy as np

from ..rng import Stream, trial_stream
from .base import Inference
from .engines import PartialDrawsPosterior

MU_SD, OMEGA_SD, S_SD = 5.0, 1.0, 2.5
NUTS = dict(chains=2, draws=500, tune=500, target_accept=0.9)  # per trial; small model, few parameters


@functools.lru_cache(maxsize=8)
def compiled_model(n_patients: int, n_effects: int):
    """The PyMC model with data (n_patients, n_effects), compiled by nutpie. Parameters have fixed shapes, so
    the data are padded to the design's maximum: `used` (0 or 1) keeps padding out of the likelihood."""
    import nutpie
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        mean = pm.Data("mean", np.zeros((n_patients, n_effects)))
        ss = pm.Data("ss", np.zeros((n_patients, n_effects)))
        used = pm.Data("used", np.ones((n_patients, n_effects)))
        blocks = pm.Data("blocks", np.array(2.0))
        mu = pm.Normal("mu", 0.0, MU_SD, shape=n_effects)
        omega = pm.HalfNormal("omega", OMEGA_SD, shape=n_effects)
        s = pm.HalfNormal("s", S_SD, shape=n_effects)
        z = pm.Normal("z", 0.0, 1.0, shape=(n_patients, n_effects))
        delta = pm.Deterministic("delta", mu + omega * z)
        loglik = -blocks * pt.log(s) - (ss + blocks * (mean - delta) ** 2) / (2.0 * s ** 2)
        pm.Potential("loglik", (used * loglik).sum())
    return nutpie.compile_pymc_model(model)


def fit_trial(mean: np.ndarray, ss: np.ndarray, used: np.ndarray, blocks: int, seed: int
              ) -> tuple[np.ndarray, np.ndarray, bool]:
    """(mu draws (draws, K-1), Pr(delta_ik > 0) per patient (patients, K-1), a diagnostic problem) of one
    trial; patients with `used` False are padding."""
    import arviz as az
    import nutpie

    w = np.repeat(used.astype(float)[:, None], mean.shape[1], axis=1)
    compiled = compiled_model(*mean.shape).with_data(mean=mean * w, ss=ss * w, used=w, blocks=np.array(float(blocks)))
    idata = nutpie.sample(compiled, progress_bar=False, seed=int(seed), cores=1, **NUTS)
    post = idata.posterior
    mu = post["mu"].values.reshape(-1, mean.shape[1])
    own = (post["delta"].values.reshape(-1, *mean.shape) > 0).mean(axis=0)
    rhat = float(az.rhat(post[["mu", "omega", "s"]]).to_array().max())
    divergent = int(idata.sample_stats["diverging"].values.sum())
    return mu, own, bool(rhat > 1.01 or divergent > 0)


def hierarchical_fitter(treatments: tuple[int, ...], n_arms: int, seed: int, design: str, infer: Inference
                        ) -> Callable:
    """(BlockData, control level, trials) -> (posterior draws over every arm, Pr(own effect > 0) per patient).

    Each fit and its diagnostics are counted in `infer` (the records' fits and fit_problems)."""
    key = zlib.crc32(design.encode())
    t = np.asarray(treatments)
    draws = NUTS["chains"] * NUTS["draws"]

    def fit(data, level: np.ndarray, trials: np.ndarray):
        b, n, k1 = data.mean.shape
        theta = np.full((b, draws, n_arms), np.nan)
        own = np.full((b, n, k1), np.nan)
        ok = data.include.sum(axis=1) >= 2
        for i in np.flatnonzero(ok):
            g = trial_stream(seed, int(trials[i]), Stream.INFERENCE, key)
            mu, own[i], problem = fit_trial(data.mean[i], data.ss[i], data.include[i], data.blocks, g.integers(2 ** 31))
            infer.count_fit(int(trials[i]), problem)
            theta[i][:, t[0]] = level[i]
            theta[i][:, t[1:]] = level[i] + mu
        return PartialDrawsPosterior(theta, ok), own

    return fit
