"""Completed chunks on disk, so an interrupted run resumes and a finished one can grow.

Layout inside the output folder:

    .chunks/manifest.json            scenario hash, seed, engine, history flag
    .chunks/chunk_<start>_<stop>.npz one file per completed chunk (written atomically)

Trials are independent of how they are chunked (one random stream per trial,
per-trial computations), so chunks from earlier runs combine with new ones
into exactly the records an uninterrupted run would produce.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_write
from .records import VARIABLES, ChunkRecords

CHUNK_FILE = re.compile(r"chunk_(\d+)_(\d+)\.npz$")


@dataclass(frozen=True)
class RunIdentity:
    """What must match for stored chunks to be reused."""

    scenario_hash: str
    seed: int
    engine: str
    keep_history: bool
    subset: str = ""  # designs and truths run, when not all (api.subset_text)

    def describe(self) -> str:
        return (f"scenario hash {self.scenario_hash}, seed {self.seed}, engine {self.engine or 'per design'}"
                + (f", {self.subset}" if self.subset else ""))


class ChunkStore:
    def __init__(self, folder: Path):
        self.dir = Path(folder) / ".chunks"

    @property
    def manifest(self) -> Path:
        return self.dir / "manifest.json"

    def identity(self) -> RunIdentity | None:
        if not self.manifest.is_file():
            return None
        data = json.loads(self.manifest.read_text())
        return RunIdentity(data["scenario_hash"], int(data["seed"]), data["engine"], bool(data["keep_history"]),
                           data.get("subset", ""))

    def start(self, identity: RunIdentity) -> None:
        """Begin a fresh store for `identity` (any earlier chunks are removed)."""
        self.clear()
        self.dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(identity.__dict__, indent=2)
        atomic_write(self.manifest, lambda p: p.write_text(text))

    def clear(self) -> None:
        if self.dir.is_dir():
            for f in self.dir.iterdir():
                f.unlink()

    def save(self, chunk: ChunkRecords) -> None:
        path = self.dir / f"chunk_{chunk.start:09d}_{chunk.stop:09d}.npz"

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **chunk.arrays)

        atomic_write(path, write)

    def load(self) -> list[ChunkRecords]:
        """Every stored chunk, non-overlapping, in trial order."""
        chunks = []
        for path in sorted(self.dir.glob("chunk_*.npz")):
            start, stop = map(int, CHUNK_FILE.search(path.name).groups())
            with np.load(path) as data:
                chunks.append(ChunkRecords(start, stop, {name: data[name] for name in VARIABLES}))
        return chunks


def trim(chunks: list[ChunkRecords], n_trials: int) -> list[ChunkRecords]:
    """Chunks restricted to trials [0, n_trials)."""
    out = []
    for c in sorted(chunks, key=lambda c: c.start):
        if c.start >= n_trials:
            continue
        if c.stop > n_trials:
            keep = n_trials - c.start
            c = ChunkRecords(c.start, n_trials, {k: v[:, :, :keep] for k, v in c.arrays.items()})
        out.append(c)
    return out


def missing_ranges(chunks: list[ChunkRecords], n_trials: int, chunk_size: int) -> list[tuple[int, int]]:
    """Trial ranges in [0, n_trials) not covered by `chunks`, cut into pieces of chunk_size."""
    covered = np.zeros(n_trials, bool)
    for c in chunks:
        covered[c.start:min(c.stop, n_trials)] = True
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (~covered).astype(np.int8), [0]])))
    return [(lo, min(lo + chunk_size, int(stop))) for start, stop in zip(edges[::2], edges[1::2])
            for lo in range(int(start), int(stop), chunk_size)]
