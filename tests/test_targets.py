"""Targets in the scenario: validated with paths, judged with the Monte Carlo uncertainty of the verdict,
flagged in oc.md."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from trialsim.api import run_to_folder
from trialsim.scenario import ScenarioError, parse_scenario, scenario_hash
from trialsim.summarise.targets import check_targets, verdict

from .conftest import scenario_dict, subset


def with_targets(targets: dict) -> dict:
    data = scenario_dict()
    data["targets"] = targets
    return data


def problems(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    return [str(p) for p in err.value.problems]


def test_targets_are_validated_with_their_paths():
    found = problems(with_targets({
        "fwer": {"max": 0.025, "truth": "no_efect"},
        "selection": {"metric": "prob_selct_best", "min": 0.5, "truth": "sham_anchored", "designs": ["adaptiv"]},
        "speed": {"max": 300, "truth": "no_effect"},
    }))
    assert "targets.fwer.truth: unknown truth 'no_efect' (did you mean 'no_effect'?)" in found
    assert any(p.startswith("targets.selection.metric: unknown metric 'prob_selct_best'") for p in found)
    assert "targets.selection.designs: unknown design 'adaptiv' (did you mean 'adaptive'?)" in found
    assert any(p.startswith("targets.speed: unknown metric 'speed'") and "give metric:" in p for p in found)
    assert problems(with_targets({"power": {"truth": "no_effect"}})) == ["targets.power: give min, max or both"]
    assert problems(with_targets({"power": {"truth": "no_effect", "min": 0.9, "max": 0.8}})) == \
        ["targets.power: min (0.9) exceeds max (0.8)"]


def test_targets_do_not_change_the_scenario_hash():
    plain = parse_scenario(scenario_dict())
    judged = parse_scenario(with_targets({"fwer": {"max": 0.025, "truth": "no_effect"}}))
    assert scenario_hash(plain) == scenario_hash(judged) and judged.targets["fwer"].truths == ["no_effect"]


@pytest.mark.parametrize("estimate, mcse, lower, upper, word", [
    (0.08, 0.01, None, 0.025, "missed"),   # 5.5 MCSE above the bound
    (0.030, 0.01, None, 0.025, "uncertain"),
    (0.81, 0.02, 0.8, None, "uncertain"),
    (0.90, 0.02, 0.8, None, "met"),
    (0.5, 0.01, 0.2, 0.4, "missed"),       # the binding side of an interval decides
])
def test_verdicts_carry_their_monte_carlo_uncertainty(estimate, mcse, lower, upper, word):
    z, prob, found = verdict(estimate, mcse, lower, upper)
    margin = min([estimate - lower] if lower is not None else [np.inf], [upper - estimate] if upper is not None else [np.inf])[0]
    assert found == word and z == pytest.approx(margin / mcse) and prob == pytest.approx(norm.cdf(z))


def test_missed_targets_are_flagged_in_oc_md(tmp_path):
    data = with_targets({"fwer": {"max": 0.025, "truth": "no_effect"},
                         "small": {"metric": "size_mean", "max": 400, "truth": "no_effect", "designs": ["fixed_equal"]}})
    result = run_to_folder(subset(data, truths=["no_effect"]), tmp_path, n_trials=60, seed=4)
    checks = check_targets(result.oc, result.trials).set_index(["target", "design"])
    # fwer resolves to prob_any_effective for these sham-controlled designs; size is exactly 500: missed for sure
    assert set(checks.loc["fwer", "metric"]) == {"prob_any_effective"}
    small = checks.loc[("small", "fixed_equal")]
    assert small["verdict"] == "missed" and small["estimate"] == 500 and small["prob_met"] == 0
    text = (tmp_path / "oc.md").read_text()
    assert "## Targets" in text and "✗ missed | small | fixed_equal | no_effect | `size_mean` | ≤ 400 | 500 (0)" in text
    for row in checks.itertuples():  # each verdict follows from its estimate and MCSE
        assert row.verdict == verdict(row.estimate, row.mcse, None, 0.025 if row.Index[0] == "fwer" else 400)[2]
