"""The virtual patients of a few trials as a tidy table, for checking against real data.

One row per trial x patient x arm x visit: every patient's potential outcomes
under every arm, from the same named streams as the simulator's trial i (so the
table shows the patients the simulated trials enrol).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import rng
from ..patients import simulate_patients
from ..plan import TrialPlan
from ..rng import Stream
from ..visits import StreamDraws, patient_model

COLUMNS = ("trial", "patient", "arm", "visit_week", "phenotype", "observed_phenotype", "screening_nrs",
           "baseline_nrs", "baseline_odi", "baseline_mme", "passed_screening", "responder_class", "nrs", "change",
           "responder", "odi", "mme", "opioid_reduced", "in_follow_up", "explant_week")


def patients_table(plan: TrialPlan, truth: str, n_patients: int | None = None, trials: int = 1) -> pd.DataFrame:
    """Patients 0..n-1 of trials 0..trials-1 under one truth (the plan must use the visit model)."""
    vp = plan.cohort.visit
    if vp is None:
        raise ValueError("the scenario has no 'patients' block (the visit model)")
    effects = plan.truths[truth].model.visit
    n = n_patients or plan.cohort.max_patients
    model = patient_model(vp, effects.arms, plan.cohort.population.prevalence, plan.cohort.screening_pass,
                          plan.endpoint.responder_reduction)
    frames = []
    trial_key = rng.stream_key(plan.seed, Stream.PAIN, "trial")[None]
    for t in range(trials):
        draws = StreamDraws(plan.seed, plan.arms, np.full(n, t), np.arange(n))
        trial_z = float(rng.draws_at(trial_key, 0, t, 0, normal=True))
        frames.append(_tidy(plan, simulate_patients(model, n, draws=draws, trial_z=trial_z), t))
    return pd.concat(frames, ignore_index=True)


def _tidy(plan: TrialPlan, p, trial: int) -> pd.DataFrame:
    n, k, v = p.nrs.shape
    idx = np.indices((n, k, v)).reshape(3, -1)
    patient, arm, visit = idx
    phenos = np.array(plan.phenotypes)
    per_patient = {
        "phenotype": phenos[p.phenotype], "observed_phenotype": phenos[p.observed_phenotype],
        "screening_nrs": p.screening_nrs, "baseline_nrs": p.baseline_nrs, "baseline_odi": p.baseline_odi,
        "baseline_mme": np.round(p.baseline_mme, 1),
    }
    per_arm = {"passed_screening": p.passed, "responder_class": p.responder_class, "explant_week": p.explant_week}
    per_visit = {"nrs": p.nrs, "change": p.change, "responder": p.responder, "odi": p.odi, "mme": np.round(p.mme, 1),
                 "opioid_reduced": p.opioid_reduced, "in_follow_up": p.observed}
    data = {"trial": np.full(patient.size, trial), "patient": patient, "arm": np.array(plan.arms)[arm],
            "visit_week": p.visit_weeks[visit]}
    data |= {name: values[patient] for name, values in per_patient.items()}
    data |= {name: values[patient, arm] for name, values in per_arm.items()}
    data |= {name: values[patient, arm, visit] for name, values in per_visit.items()}
    frame = pd.DataFrame(data, columns=list(COLUMNS))
    frame["explant_week"] = frame["explant_week"].replace(np.inf, np.nan)
    return frame


def with_default_visits(data: dict) -> dict:
    """A scenario's data with the visit model's defaults when it has no `patients` block."""
    return data if data.get("patients") else {**data, "patients": {}}


def summary(table: pd.DataFrame, primary_week: float) -> pd.DataFrame:
    """Emergent figures per arm at the primary visit (the table a statistician checks first)."""
    at = table[table["visit_week"] == primary_week]
    first = table.drop_duplicates(["trial", "patient"])
    rows = []
    for arm, g in at.groupby("arm", sort=False):
        rows.append({
            "arm": arm, "patients": len(g), "baseline_nrs_mean": first["baseline_nrs"].mean(),
            "baseline_nrs_sd": first["baseline_nrs"].std(), "change_mean": g["change"].mean(), "change_sd": g["change"].std(),
            "responder_rate": g["responder"].mean(), "corr_baseline_follow_up": np.corrcoef(g["baseline_nrs"], g["nrs"])[0, 1],
            "share_nrs_10": (g["nrs"] == 10).mean(), "odi_change_mean": (g["odi"] - g["baseline_odi"]).mean(),
            "opioid_reduced": g["opioid_reduced"].mean(), "in_follow_up": g["in_follow_up"].mean(),
        })
    return pd.DataFrame(rows)


__all__ = ["COLUMNS", "patients_table", "summary", "with_default_visits"]
