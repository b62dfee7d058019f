"""The pain scale: latent log pain <-> the measured 0-10 NRS.

Latent pain lives on the log scale, so effects are multiplicative: a treatment
removes a share of a patient's pain, the way responder definitions (>= 30%,
>= 50% reduction; IMMPACT, Dworkin 2008) and trial reports think of it. A
measured score is exp(latent + measurement error), reported on the integer NRS
by rounding; scores beyond the ends are reported as 0 or 10 (an ordinal,
censored measurement model). The end categories therefore hold exactly the
latent mass beyond 9.5 (or below 0.5) and nothing else: on the log scale the
density thins out towards 10 (no spike at 10 from clipping an additive error),
and 0 is reached only by pain below half a point.
"""

from __future__ import annotations

import numpy as np

NRS_MAX = 10.0


def measure(latent: np.ndarray, integer: bool = True) -> np.ndarray:
    """Measured NRS from latent log pain (measurement error already added)."""
    score = np.exp(latent)
    if integer:
        return np.minimum(np.rint(score), NRS_MAX)  # exp > 0: rounding cannot go below 0
    return np.minimum(score, NRS_MAX)


def log_ratio(relative_change: float | np.ndarray) -> float | np.ndarray:
    """Shift on the latent scale for a relative change of pain (-0.3: 30% less pain)."""
    return np.log1p(relative_change)


def log_ratio_from_change(change: float | np.ndarray, reference: float) -> float | np.ndarray:
    """Shift on the latent scale equal to an NRS change at a reference score."""
    return np.log((reference + np.asarray(change)) / reference)


def entry_threshold_latent(threshold: float, integer: bool = True) -> float:
    """Latent value at and above which a measured score meets an entry threshold."""
    return float(np.log(threshold - 0.5 if integer else threshold))
