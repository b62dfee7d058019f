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
from scipy import stats


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

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diagonal(self.cov, axis1=-2, axis2=-1))

    def contrast(self, k: int, ref: int) -> tuple[np.ndarray, np.ndarray]:
        """(estimate, SE) of mean_k - mean_ref per trial."""
        c = self.cov
        var = c[:, k, k] + c[:, ref, ref] - 2 * c[:, k, ref]
        return self.mean[:, k] - self.mean[:, ref], np.sqrt(np.maximum(var, 0.0))


def ipw_means(regimes: Regimes, y: np.ndarray, observed: np.ndarray, first: np.ndarray, responder: np.ndarray,
              second: np.ndarray) -> RegimeEstimates:
    """Each regime's weighted mean outcome and sandwich covariance, per trial.

    y, observed, first, responder, second: (trials, patients); `observed` marks patients
    randomised with an outcome (complete cases); `second` is ignored for responders.
    mean_k = sum_i W_ik I_ik y_i / sum_i W_ik I_ik solves sum_i W_ik I_ik (y_i - mean_k) = 0;
    its sandwich covariance is sum_i U_ik U_il with U_ik = W_ik I_ik (y_i - mean_k) / sum_i W_ik I_ik.
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
    cov[empty[:, :, None] | empty[:, None, :]] = np.nan
    return RegimeEstimates(np.where(empty, np.nan, mean), cov, n)


def better_than_reference(est: RegimeEstimates, reference: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(z, declared better) of every regime against the reference regime: one-sided z tests at level
    `alpha` each (internal scale: higher is better). The reference's own entries are NaN and False."""
    k = est.mean.shape[1]
    z = np.full(est.mean.shape, np.nan)
    for j in range(k):
        if j != reference:
            diff, se = est.contrast(j, reference)
            with np.errstate(invalid="ignore", divide="ignore"):
                z[:, j] = np.where(se > 0, diff / se, np.nan)
    return z, np.nan_to_num(z, nan=-np.inf) > stats.norm.isf(alpha)


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
    z: np.ndarray  # (trials, regimes) z of each regime minus the reference (NaN for the reference)
    better: np.ndarray  # (trials, regimes) declared better than the reference
    selected: np.ndarray  # (trials,) regime with the best estimated mean, -1 if none
