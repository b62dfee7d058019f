"""Phenotypes: true ones by prevalence, observed ones through a confusion matrix.

The phenotype used for stratification and enrichment is what a screening tool
reports. painDETECT (Freynhagen 2006): sensitivity 85%, specificity 80% for
neuropathic pain. A "mixed" phenotype is just another row and column.
"""

from __future__ import annotations

import numpy as np


def draw_phenotype(prevalence: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category index per uniform (inverse CDF over a handful of categories)."""
    out = np.zeros(u.shape, np.int16)
    for threshold in np.cumsum(prevalence)[:-1]:
        out += u >= threshold
    return out


def misclassify(true: np.ndarray, confusion: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Observed phenotype: row `true` of confusion (P(observed | true), rows sum to 1)."""
    cdf = np.cumsum(confusion, axis=1)[true]
    return np.minimum((u[..., None] >= cdf).sum(axis=-1), confusion.shape[1] - 1).astype(np.int16)


def screening_confusion(prevalence: np.ndarray, positive: int, sensitivity: float, specificity: float) -> np.ndarray:
    """Confusion matrix of a binary screen for one phenotype (e.g. painDETECT for neuropathic).

    A missed positive is reported as one of the other phenotypes in proportion to
    their prevalence; a false positive is reported as the positive phenotype."""
    k = len(prevalence)
    others = np.array(prevalence, dtype=float)
    others[positive] = 0.0
    others /= others.sum()
    confusion = np.eye(k) * specificity
    confusion[:, positive] = 1 - specificity
    confusion[positive] = (1 - sensitivity) * others
    confusion[positive, positive] = sensitivity
    return confusion
