"""The compiled truth: one truth's effect arrays per arm (x phenotype), in scenario order.

Endpoints read the fields they need: NRS endpoints the nonspecific and
specific change and the SD (specific only for patients who pass screening),
binary endpoints the event rate, the continuous endpoint the mean and SD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .visits import VisitEffects


@dataclass(frozen=True)
class EffectModel:
    nonspecific: np.ndarray  # (arms,) mean change shared with the arm's sham
    specific: np.ndarray  # (arms, phenotypes) extra mean change if screening passed
    sd: np.ndarray  # (arms,)
    rate: np.ndarray  # (arms, phenotypes) event rate (binary)
    mean: np.ndarray  # (arms, phenotypes) outcome mean (continuous)
    screening_pass: np.ndarray  # (arms,)
    visit: "VisitEffects | None" = None  # the visit model's effects (scenario `patients` block)
