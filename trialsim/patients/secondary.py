"""Secondary outcomes: disability (ODI) and opioid use, tied to measured pain.

ODI at each visit = mean + sd * (r * standardised measured NRS + sqrt(1 - r^2) * own part),
the own part being a random intercept plus visit noise. Its correlation with the
NRS at the same visit is r (cross-sectional ODI-NRS correlations in CLBP are
0.45-0.63: see docs/references.md), and ODI falls with pain (about 11 ODI points
for a 2.4-point NRS fall at the defaults; Hara 2022 saw ODI -9 to -11).

Opioids: a share of patients takes opioids at baseline (log-normal MME); the
dose follows the latent pain ratio with an elasticity plus noise, and a dose
below `stop_below` counts as weaned off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OdiModel:
    mean: float = 50.0  # baseline ODI at SCS trial entry, typical mean 45-55 (EVOKE, DISTINCT)
    sd: float = 12.0
    corr_nrs: float = 0.5  # ODI-NRS correlation at a visit (0.45-0.63 in CLBP samples)
    stable_share: float = 0.6  # share of the ODI's own variance that is a stable patient level
    nrs_mean: float | None = None  # standardisation of NRS; None: the cohort's baseline mean
    nrs_sd: float | None = None  # None: the cohort's baseline SD


def odi_scores(model: OdiModel, nrs: np.ndarray, baseline_nrs: np.ndarray, z_stable: np.ndarray,
               z_visit: np.ndarray) -> np.ndarray:
    """ODI (even integers 0-100) at measured NRS `nrs` (patients first, any shape).

    The NRS is standardised by the model's constants or, when unset, by the
    moments of `baseline_nrs` (n,), so that the correlation holds in the cohort.
    z_stable (n,) and z_visit (shape of nrs) are standard normals.
    """
    centre = baseline_nrs.mean() if model.nrs_mean is None else model.nrs_mean
    scale = baseline_nrs.std() if model.nrs_sd is None else model.nrs_sd
    r, c = model.corr_nrs, model.stable_share
    own = np.sqrt(c) * z_stable.reshape(z_stable.shape + (1,) * (nrs.ndim - 1)) + np.sqrt(1 - c) * z_visit
    odi = model.mean + model.sd * (r * (nrs - centre) / scale + np.sqrt(1 - r * r) * own)
    return np.clip(2 * np.rint(odi / 2), 0, 100)  # ten items scored 0-5, times 2


@dataclass(frozen=True)
class OpioidModel:
    share_on_opioids: float = 0.6  # assumption (L): most SCS candidates take opioids
    log_mme_median: float = float(np.log(60.0))  # median dose among users (assumption, L)
    log_mme_sd: float = 0.8
    elasticity: float = 1.0  # log dose change per log pain change
    noise_sd: float = 0.5  # visit-to-visit log dose noise
    stop_below: float = 5.0  # MME below this: weaned off (recorded as 0)
    reduction: float = 0.5  # "reduced" = dose at most (1 - reduction) x baseline


def opioid_doses(model: OpioidModel, u_user: np.ndarray, z_dose: np.ndarray, log_pain_ratio: np.ndarray,
                 z_visit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baseline MME (n,) and MME at each visit (shape of log_pain_ratio, patients first)."""
    user = u_user < model.share_on_opioids
    baseline = np.where(user, np.exp(model.log_mme_median + model.log_mme_sd * z_dose), 0.0)
    expand = (slice(None),) + (None,) * (log_pain_ratio.ndim - 1)
    dose = baseline[expand] * np.exp(model.elasticity * log_pain_ratio + model.noise_sd * z_visit)
    return baseline, np.where(dose < model.stop_below, 0.0, dose)


def opioid_reduced(model: OpioidModel, baseline: np.ndarray, dose: np.ndarray) -> np.ndarray:
    """Reduced by at least `reduction` (users only; non-users are False)."""
    expand = (slice(None),) + (None,) * (dose.ndim - 1)
    b = baseline[expand]
    return (b > 0) & (dose <= (1 - model.reduction) * b)
