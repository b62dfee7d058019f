"""How much memory a run may need, checked before anything is allocated or written.

The estimate is deliberately simple and errs high: a chunk's working arrays
(random numbers, potential outcomes under every arm, the engine's per-patient
state) for each chunk in flight, plus the per-trial records of every truth x
design held three times (chunks, the assembled Dataset, the OC table's work).
It exists to refuse runs that cannot fit (10^12 patients, 10^9 trials) with a
clear message instead of a MemoryError after the output folder was set up.
"""

from __future__ import annotations

import os

from .errors import RunTooLarge
from .plan import TrialPlan

BYTES = 8
PER_PATIENT = 24  # float columns per patient besides the per-arm ones (draws, cohort, engine state)
PER_PATIENT_ARM = 4  # per patient and arm: a raw draw, the potential outcome, allocation work
PER_TRIAL = 12  # scalar records per trial (size, stop, duration, ...)
RECORD_COPIES = 3


def run_memory(plan: TrialPlan, chunk_size: int, workers: int = 1, keep_history: bool = False) -> int:
    """An upper estimate (bytes) of the memory a run of `plan.n_trials` trials needs."""
    k, phenotypes, events = len(plan.arms), len(plan.phenotypes), len(plan.adverse_events)
    patients = plan.cohort.max_patients
    looks = max(d.looks.n_looks for d in plan.designs.values()) if keep_history else 0
    chunks = -(-plan.n_trials // chunk_size)
    in_flight = max(1, min(workers, chunks))
    chunk = min(chunk_size, plan.n_trials) * patients * (PER_PATIENT + events + PER_PATIENT_ARM * k) * BYTES
    per_trial = (PER_TRIAL + 6 * k + 2 * k * phenotypes + k * events + looks * k) * BYTES
    return in_flight * chunk + RECORD_COPIES * plan.n_trials * len(plan.truths) * len(plan.designs) * per_trial


def available_memory() -> int | None:
    """Memory available to new allocations (Linux MemAvailable), else physical memory, else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(n_bytes: float) -> str:
    """1.23 GB, 456 MB, ... (decimal units)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n_bytes < 1000:
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.3g} PB"


def check_fits(plan: TrialPlan, chunk_size: int, workers: int = 1, keep_history: bool = False,
               where: str | None = None) -> None:
    """Raise `RunTooLarge` if the run cannot fit in the memory available now."""
    need = run_memory(plan, chunk_size, workers, keep_history)
    have = available_memory()
    if have is not None and need > have:
        raise RunTooLarge(
            f"this run may need about {size_text(need)} of memory ({plan.n_trials:,} trials x {len(plan.truths)} truths "
            f"x {len(plan.designs)} designs, up to {plan.cohort.max_patients:,} patients per trial) but about "
            f"{size_text(have)} is available; use fewer trials (-n) or patients", where)
