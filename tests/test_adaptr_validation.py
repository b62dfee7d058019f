"""Agreement with adaptr's published results (|z| < 3 on every metric).

Without a control: the Overview vignette. With a common control: the JOSS paper's design
(new control, sqrt-based share), also against 10,000 trials of adaptr itself run here, and adaptr's
test design with equivalence and futility.
"""

from __future__ import annotations

import pytest

from benchmarks.validate_adaptr import PUBLISHED, validation_table

ROWS = {"overview_null": 13, "overview_alt": 14, "joss_control": 17, "joss_control_measured": 17, "tests_futility": 14}


@pytest.mark.parametrize("name", [p.name for p in PUBLISHED])
@pytest.mark.parametrize("n_trials", [pytest.param(2000, id="2000"), pytest.param(10_000, id="10000", marks=pytest.mark.slow)])
def test_adaptr_published(name, n_trials):
    table = validation_table(n_trials, workers=1, only=[name])
    assert len(table) == ROWS[name]
    bad = table[table["z"].abs() >= 3]
    assert bad.empty, bad.to_string()
