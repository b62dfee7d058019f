"""Selection strategies on hand-built trials, following adaptr's extract_results rules."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.design.state import ArmFate, Stop
from trialsim.summarise.selection import Strategy, TrialOutcomes, estimate_errors, remaining_arms, select

A, F, I, E = ArmFate.ACTIVE, ArmFate.FUTILE, ArmFate.INFERIOR, ArmFate.EQUIVALENT
NAN = np.nan

# Arms 0 (original control), 1, 2, 3; one row per trial:
# 0: superiority, arm 3 the last one standing (it replaced control 0, then 1 and 2 were inferior)
# 1: max, control replaced by arm 2 at look 3; arms 1 and 2 active, 2 the final control
# 2: max, original control still the control, arms 0, 1, 3 active, arm 2 futile
# 3: equivalence at look 5: arm 1 equivalent at look 5, arm 2 at look 2, arm 3 inferior; control 0 left
# 4: max, control 0 still active; arm 1 equivalent earlier, arms 2 and 3 active
FATES = np.array([[I, I, I, A], [I, A, A, I], [A, A, F, A], [A, E, E, I], [A, E, A, A]], np.int8)
FATE_LOOK = np.array([[1, 2, 2, -1], [3, -1, -1, 1], [-1, -1, 4, -1], [-1, 5, 2, 1], [-1, 2, -1, -1]])
STOP = np.array([Stop.SUPERIORITY, Stop.MAX, Stop.MAX, Stop.EQUIVALENCE, Stop.MAX], np.int8)
STOP_LOOK = np.array([2, 9, 9, 5, 9])
SUPERIOR = np.array([3, -1, -1, -1, -1])
FINAL_CONTROL = np.array([3, 2, 0, 0, 0])
PR_BEST = np.array([[NAN, NAN, NAN, 1.0], [NAN, 0.7, 0.3, NAN], [0.2, 0.3, NAN, 0.5], [1.0, NAN, NAN, NAN],
                    [0.1, NAN, 0.6, 0.3]])


@pytest.fixture()
def outcomes() -> TrialOutcomes:
    return TrialOutcomes(SUPERIOR, STOP, FATES, FATE_LOOK, STOP_LOOK, FINAL_CONTROL, PR_BEST, first_control=0)


@pytest.mark.parametrize("strategy, expected", [
    ("none", [3, -1, -1, -1, -1]),
    ("control", [3, -1, 0, 0, 0]),
    ("control if available", [3, -1, 0, 0, 0]),
    ("final control", [3, 2, 0, 0, 0]),
    ("control or best", [3, 1, 0, 0, 0]),
    # trial 3: candidates are control 0 (Pr(best) 1) and arm 1, equivalent at the last look
    ("best", [3, 1, 3, 0, 2]),
])
def test_strategies(outcomes, strategy, expected):
    assert select(outcomes, strategy).tolist() == expected


def test_list_strategies(outcomes):
    # prefer arm 2, then arm 1: trial 2 has arm 2 futile -> arm 1; trial 3 has arm 2 dropped early
    # as equivalent -> arm 1 (equivalent at the stopping look); trial 4: arm 2 active
    assert select(outcomes, Strategy("list", (2, 1))).tolist() == [3, 2, 1, 1, 2]
    assert select(outcomes, Strategy("list", (2,))).tolist() == [3, 2, -1, -1, 2]
    assert select(outcomes, Strategy("list or best", (2,))).tolist() == [3, 2, 3, 0, 2]


def test_select_last_arm(outcomes):
    # Only trial 3 has a single candidate still active (the control; arm 1 is an equivalent candidate
    # but not active): adaptr counts candidates with status control/active
    assert select(outcomes, Strategy("none", select_last_arm=True)).tolist() == [3, -1, -1, 0, -1]


def test_without_control():
    # Three arms, no control: equivalence stop at look 4 with arms 0 and 2 active (arm 1 inferior)
    out = TrialOutcomes(np.array([-1]), np.array([Stop.EQUIVALENCE]), np.array([[A, I, A]]), np.array([[-1, 1, -1]]),
                        np.array([4]), np.array([-1]), np.array([[0.4, NAN, 0.6]]))
    assert select(out, "best").tolist() == [2]
    assert select(out, "control if available").tolist() == [-1]
    with pytest.raises(ValueError, match="needs a design with a control"):
        select(out, "final control")


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown selection strategy"):
        Strategy("worst")


def test_errors_and_te_comp():
    selected = np.array([1, -1, 0, 2])
    estimate = np.array([[0.2, 0.3, 0.1], [0.2, 0.3, 0.1], [0.25, 0.3, 0.1], [0.2, 0.3, 0.15]])
    truth = np.array([0.25, 0.3, 0.1])
    err, err_te = estimate_errors(selected, estimate, truth, te_comp=0)
    np.testing.assert_allclose(err, [0.0, NAN, 0.0, 0.05])
    # trial 0: (0.3 - 0.2) - (0.3 - 0.25) = 0.05; trial 2 selected the comparator: undefined;
    # trial 3: (0.15 - 0.2) - (0.1 - 0.25) = 0.10
    np.testing.assert_allclose(err_te, [0.05, NAN, NAN, 0.10])
    _, none = estimate_errors(selected, estimate, truth, te_comp=None)
    assert np.isnan(none).all()


def test_remaining_arms(outcomes):
    expected = [[0, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 1], [1, 1, 0, 0], [1, 0, 1, 1]]
    assert remaining_arms(outcomes).astype(int).tolist() == expected


def test_finished_run_recomputed_under_other_strategies(tmp_path):
    """One stored run, summarised again under other strategies, equals a run that named them."""
    from pathlib import Path

    import yaml
    from click.testing import CliRunner

    from trialsim.api import run, run_to_folder
    from trialsim.cli import main
    from trialsim.scenario import parse_scenario

    path = Path(__file__).resolve().parents[1] / "scenarios" / "validation" / "adaptr_joss_control.yaml"
    data = yaml.safe_load(path.read_text())
    data["designs"]["adaptr_joss"]["decisions"]["selection"] = "control"
    scenario = parse_scenario(data)
    run_to_folder(scenario, tmp_path / "out", n_trials=60, seed=3)
    result = CliRunner().invoke(main, ["summarise", str(tmp_path / "out"), "--selection", "adaptr_joss=best,none",
                                       "--write", str(tmp_path / "again.csv")])
    assert result.exit_code == 0, result.output
    import pandas as pd

    again = pd.read_csv(tmp_path / "again.csv").set_index("metric")["estimate"]
    data["designs"]["adaptr_joss"]["decisions"]["selection"] = ["best", "none"]
    direct = run(parse_scenario(data), n_trials=60, seed=3).oc.set_index("metric")["estimate"]
    for metric in ("prob_select_none", "idp", "prob_select_none__none", "rmse__none"):
        assert again[metric] == pytest.approx(direct[metric], nan_ok=True)
    bad = CliRunner().invoke(main, ["summarise", str(tmp_path / "out"), "--selection", "adaptr_joss=worst"])
    assert bad.exit_code == 2 and "unknown strategy 'worst'" in bad.output
