"""Embedded dynamic treatment regimes of a SMART and their inverse-probability-weighted means.

A two-stage SMART randomises patients among stage-1 arms, assesses response at a
visit, keeps responders on their arm and re-randomises non-responders among the
stage-2 options named for their stage-1 arm. Each (stage-1 arm, stage-2 option)
pair is an embedded regime: "start with a; if no response, switch to o". A
responder to a is consistent with every regime that starts with a; a non-responder
only with the one whose option they were given.

The regime mean is the weighted mean of the consistent patients' outcomes with
weights 1 / Pr(the treatments they got), known from the design (Murphy 2005 Stat
Med 24:1455; Nahum-Shani et al. 2012 Psychol Methods 17:457: "weighted and
replicated" regression, saturated in the regimes, equals this ratio estimator).
Its robust (sandwich) covariance treats the weights as known; regimes that share a
stage-1 arm share their responders, so their estimates are correlated and a
comparison of two such regimes uses the covariance.

Pure numpy, vectorised over trials: arrays are (trials, patients).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ufuncs import special  # not scipy.stats: ~1 s to import before the first trial


@dataclass(frozen=True)
class Regimes:
    """The embedded regimes: stage-1 arm, stage-2 option and the randomisation probabilities."""

    names: tuple[str, ...]
    first: np.ndarray  # (regimes,) stage-1 arm index
    second: np.ndarray  # (regimes,) stage-2 option (arm index) for non-responders
    p_first: np.ndarray  # (regimes,) Pr(randomised to the stage-1 arm)
    p_second: np.ndarray  # (regimes,) Pr(re-randomised to the option | non-responder to the stage-1 arm)

    @staticmethod
    def of(arms: tuple[str, ...], stage1: tuple[int, ...], stage2: dict[int, tuple[int, ...]],
           p_stage1: np.ndarray | None = None) -> "Regimes":
        """Every (stage-1 arm, option) pair with equal stage-1 and stage-2 probabilities (or `p_stage1`)."""
        p1 = np.full(len(stage1), 1.0 / len(stage1)) if p_stage1 is None else np.asarray(p_stage1, float)
        rows = [(a, o, p1[i], 1.0 / len(stage2[a])) for i, a in enumerate(stage1) for o in stage2[a]]
        first, second, pf, ps = (np.array(c) for c in zip(*rows))
        return Regimes(tuple(regime_name(arms[a], arms[o]) for a, o, _, _ in rows), first.astype(np.int64),
                       second.astype(np.int64), pf.astype(float), ps.astype(float))

    def __len__(self) -> int:
        return len(self.names)


def regime_name(first: str, second: str) -> str:
    """A regime's name: the stage-1 arm, then the non-responders' option (`exercise_then_scs`)."""
    return f"{first}_then_{second}"


def consistent(regimes: Regimes, first: np.ndarray, responder: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(..., regimes): the patient's treatments follow the regime (responders: every regime of their arm)."""
    on_first = first[..., None] == regimes.first
    return on_first & (responder[..., None] | (second[..., None] == regimes.second))


def weights(regimes: Regimes, responder: np.ndarray) -> np.ndarray:
    """(..., regimes): 1 / Pr(the patient's treatments) under each regime's randomisation probabilities."""
    return 1.0 / (regimes.p_first * np.where(responder[..., None], 1.0, regimes.p_second))


@dataclass(frozen=True)
class RegimeEstimates:
    """Per trial: the regime means, their sandwich covariance and the weighted count behind each."""

    mean: np.ndarray  # (trials, regimes); NaN where no patient follows the regime
    cov: np.ndarray  # (trials, regimes, regimes)
    n: np.ndarray  # (trials, regimes) patients consistent with the regime (with an outcome)
    n_eff: np.ndarray  # (trials, regimes) Kish's effective sample size (sum w)^2 / sum w^2

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diagonal(self.cov, axis1=-2, axis2=-1))

    def contrast(self, k: int, ref: int) -> tuple[np.ndarray, np.ndarray]:
        """(estimate, SE) of mean_k - mean_ref per trial."""
        c = self.cov
        var = c[:, k, k] + c[:, ref, ref] - 2 * c[:, k, ref]
        return self.mean[:, k] - self.mean[:, ref], np.sqrt(np.maximum(var, 0.0))

    def contrast_df(self, k: int, ref: int) -> np.ndarray:
        """Welch-Satterthwaite degrees of freedom of the contrast k - ref, each regime's variance on
        n_eff - 1 degrees of freedom (a small-sample reference for the t statistic; large n: normal)."""
        c = self.cov
        var = np.maximum(c[:, k, k] + c[:, ref, ref] - 2 * c[:, k, ref], 0.0)
        dk, dr = np.maximum(self.n_eff[:, k] - 1, 1.0), np.maximum(self.n_eff[:, ref] - 1, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            df = var**2 / (c[:, k, k] ** 2 / dk + c[:, ref, ref] ** 2 / dr)
        return np.maximum(np.nan_to_num(df, nan=1.0), 1.0)


def ipw_means(regimes: Regimes, y: np.ndarray, observed: np.ndarray, first: np.ndarray, responder: np.ndarray,
              second: np.ndarray) -> RegimeEstimates:
    """Each regime's weighted mean outcome and sandwich covariance, per trial.

    y, observed, first, responder, second: (trials, patients); `observed` marks patients
    randomised with an outcome (complete cases); `second` is ignored for responders.
    mean_k = sum_i W_ik I_ik y_i / sum_i W_ik I_ik solves sum_i W_ik I_ik (y_i - mean_k) = 0;
    its sandwich covariance is sum_i U_ik U_il with U_ik = W_ik I_ik (y_i - mean_k) / sum_i W_ik I_ik,
    each regime's part scaled by n_eff / (n_eff - 1) (Kish's effective sample size), as HC1 does.
    """
    wi = np.where(consistent(regimes, first, responder, second) & observed[..., None],
                  weights(regimes, responder), 0.0)  # (trials, patients, regimes)
    total = wi.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.einsum("tpk,tp->tk", wi, np.where(observed, y, 0.0)) / total
        u = wi * (y[..., None] - np.nan_to_num(mean)[:, None, :]) / total[:, None, :]
    u = np.where(wi > 0, u, 0.0)
    cov = np.einsum("tpk,tpl->tkl", u, u)
    n = (wi > 0).sum(axis=1)
    empty = n == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(empty, 0.0, total**2 / (wi**2).sum(axis=1))
        # degrees-of-freedom correction on the effective sample size: an unweighted regime's variance
        # is then the classical s^2 / n (the plain sandwich has (n - 1) / n of it)
        c = np.sqrt(np.where(n_eff > 1, n_eff / (n_eff - 1), np.nan))
    cov = cov * c[:, :, None] * c[:, None, :]
    cov[empty[:, :, None] | empty[:, None, :]] = np.nan
    return RegimeEstimates(np.where(empty, np.nan, mean), cov, n, n_eff)


def better_than_reference(est: RegimeEstimates, reference: int, alpha: float,
                          small_sample: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(t, declared better) of every regime against the reference regime: one-sided tests of the
    weighted means' difference over its robust SE at level `alpha` each (internal scale: higher is
    better), against Student's t on the Welch-Satterthwaite degrees of freedom (`contrast_df`) or,
    with small_sample False, the normal distribution (the large-sample Wald test of Nahum-Shani 2012).
    The reference's own entries are NaN and False."""
    k = est.mean.shape[1]
    t = np.full(est.mean.shape, np.nan)
    critical = np.full(est.mean.shape, np.inf)
    for j in range(k):
        if j != reference:
            diff, se = est.contrast(j, reference)
            with np.errstate(invalid="ignore", divide="ignore"):
                t[:, j] = np.where(se > 0, diff / se, np.nan)
            critical[:, j] = (special.stdtrit(est.contrast_df(j, reference), 1 - alpha) if small_sample
                              else special.ndtri(1 - alpha))
    return t, np.nan_to_num(t, nan=-np.inf) > critical


def best_regime(est: RegimeEstimates) -> np.ndarray:
    """Per trial, the regime with the highest estimated mean (internal scale); -1 if none is estimable."""
    filled = np.where(np.isfinite(est.mean), est.mean, -np.inf)
    return np.where(np.isfinite(est.mean).any(axis=1), filled.argmax(axis=1), -1)


@dataclass(frozen=True)
class RegimeResult:
    """What a SMART records per trial (internal scale: higher is better)."""

    names: tuple[str, ...]  # the regimes, in the columns' order
    estimate: np.ndarray  # (trials, regimes) weighted means
    se: np.ndarray  # (trials, regimes) robust SEs
    df: np.ndarray  # (trials, regimes) degrees of freedom of each SE: effective sample size - 1
    t: np.ndarray  # (trials, regimes) t statistic of each regime minus the reference (NaN for the reference)
    better: np.ndarray  # (trials, regimes) declared better than the reference
    selected: np.ndarray  # (trials,) regime with the best estimated mean, -1 if none
