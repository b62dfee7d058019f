"""The pain scale: latent pain <-> the measured 0-10 NRS.

True pain is bounded: P = 10 * expit(eta), eta being the patient's latent level
on the logit scale (trait plus fluctuation), so no one's true pain exceeds 10
and the density thins out towards the ends instead of piling there.

Effects multiply true pain: an improvement removes a share of the pain
(P * exp(s), s < 0), the way responder definitions (>= 30%, >= 50% reduction;
IMMPACT, Dworkin 2008) and trial reports think of it; a worsening (s > 0)
multiplies the odds of pain, so scores approach 10 but never pass it.

A measured score is P * exp(e), e ~ N(0, error_sd^2) (error proportional to
the level), rounded to the integer NRS; a measured value beyond 10 is reported
as 10 (an ordinal, censored measurement model). The end category 10 therefore
holds only patients whose true pain is near 10 and who over-report it, which is
what the model implies; a clipped additive error would stack everyone above 10.
"""

from __future__ import annotations

import numpy as np

from ..ufuncs import special

NRS_MAX = 10.0


def true_pain(eta: np.ndarray) -> np.ndarray:
    return NRS_MAX * special.expit(eta)


def apply_shift(pain: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """True pain after an effect `shift` (log of the pain ratio for improvements)."""
    pain, shift = np.broadcast_arrays(pain, shift)
    out = pain * np.exp(np.minimum(shift, 0.0))
    worse = shift > 0
    if worse.any():  # rare: odds only where pain gets worse
        out[worse] = NRS_MAX * special.expit(special.logit(pain[worse] / NRS_MAX) + shift[worse])
    return out


def measure(pain: np.ndarray, error: np.ndarray, integer: bool = True) -> np.ndarray:
    """Measured NRS of true pain with a (log-scale) measurement error."""
    score = pain * np.exp(error)
    return np.minimum(np.rint(score) if integer else score, NRS_MAX)


def log_ratio(relative_change: float | np.ndarray) -> float | np.ndarray:
    """Shift for a relative change of pain (-0.3: 30% less pain)."""
    return np.log1p(relative_change)


def log_ratio_from_change(change: float | np.ndarray, reference: float) -> float | np.ndarray:
    """Shift equal to an NRS change at a reference score."""
    return np.log((reference + np.asarray(change)) / reference)


def meets_threshold(measured_without_rounding: np.ndarray, threshold: float, integer: bool = True) -> np.ndarray:
    """Whether a measured score meets an entry threshold (NRS >= 6: the score rounds to 6 or more)."""
    return measured_without_rounding >= (threshold - 0.5 if integer else threshold)
