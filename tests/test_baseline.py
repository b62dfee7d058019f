"""A fixed small run compared with a committed OC table: catches unintended changes in results.

After an intended change, regenerate with:  python -m tests.test_baseline
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialsim.api import run

from .conftest import SCENARIOS

BASELINE = Path(__file__).parent / "data" / "baseline_oc.csv"


def current() -> pd.DataFrame:
    return run(SCENARIOS / "clbp_sham_multiarm.yaml", n_trials=120, seed=1).oc


def test_results_match_the_committed_baseline():
    new, old = current(), pd.read_csv(BASELINE)
    assert list(new["metric"]) == list(old["metric"]) and list(new["design"]) == list(old["design"])
    for column in ("estimate", "mcse"):
        np.testing.assert_allclose(new[column].to_numpy(float), old[column].to_numpy(float), rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=column)


if __name__ == "__main__":
    current().to_csv(BASELINE, index=False, float_format="%.17g")
    print(f"wrote {BASELINE}")
