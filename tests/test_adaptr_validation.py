"""Agreement with the published metrics of adaptr's Overview vignette (|z| < 3 on every metric)."""

from __future__ import annotations

import pytest

from benchmarks.validate_adaptr import validation_table


@pytest.mark.parametrize("n_trials", [pytest.param(2000, id="2000"), pytest.param(10_000, id="10000", marks=pytest.mark.slow)])
def test_adaptr_overview_vignette(n_trials):
    table = validation_table(n_trials, workers=1)
    assert len(table) == 27
    bad = table[table["z"].abs() >= 3]
    assert bad.empty, bad.to_string()
