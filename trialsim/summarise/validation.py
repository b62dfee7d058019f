"""Compare simulated operating characteristics with published ones.

Agreement is judged by z = (ours - theirs) / sqrt(se_ours^2 + se_theirs^2);
|z| < 3 on every metric is agreement. A published SE that is missing is
taken as binomial for proportions (at the pooled estimate of both runs, so
that a published 0 or 1 still has a spread) and otherwise as our own Monte
Carlo SE scaled to the published number of trials.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def read_reference(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", keep_default_na=False, na_values={"se": [""]})


def compare(oc: pd.DataFrame, reference: pd.DataFrame, n_ours: int, n_theirs: int) -> pd.DataFrame:
    """One row per reference metric: ours, theirs, both SEs and z. `oc` is one design x truth."""
    ours = oc.set_index("metric")
    rows = []
    for ref in reference.itertuples():
        est, se = ours.loc[ref.metric, "estimate"], ours.loc[ref.metric, "mcse"]
        se_theirs = ref.se
        if np.isnan(se_theirs):
            if ref.metric.startswith("prob_"):
                pooled = (est * n_ours + ref.estimate * n_theirs) / (n_ours + n_theirs)
                se_theirs = np.sqrt(pooled * (1 - pooled) / n_theirs)
            else:
                se_theirs = se * np.sqrt(n_ours / n_theirs)
        spread = np.hypot(se, se_theirs)
        z = 0.0 if spread == 0 and est == ref.estimate else (est - ref.estimate) / spread
        rows.append((ref.metric, est, se, ref.estimate, se_theirs, z))
    return pd.DataFrame(rows, columns=["metric", "ours", "se_ours", "theirs", "se_theirs", "z"])
