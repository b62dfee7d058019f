"""Writers for a run's outputs: trials.nc, oc.csv, oc.md. Every write is atomic."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename over `path`.

    A killed process leaves either the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def inside(folder: Path, *names: str) -> Path:
    """folder/name/...: a path built from scenario names that cannot leave `folder`.

    Names are validated identifiers; this is the backstop for every output path built from one.
    """
    for name in names:
        if name in ("", ".", "..") or Path(name).name != name or "\\" in name:
            raise ValueError(f"{name!r} cannot name a file or folder inside {folder}")
    return folder.joinpath(*names)


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    atomic_write(path, lambda p: ds.to_netcdf(p, engine="h5netcdf"))


def write_oc_csv(table: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda p: table.to_csv(p, index=False, float_format="%.6g"))


def write_text(text: str, path: Path) -> None:
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_oc_markdown(table: pd.DataFrame, path: Path, trials: xr.Dataset) -> None:
    """oc.md: provenance, key OCs, targets, grouped metrics and glossary (report.tables)."""
    from .report.tables import oc_markdown

    write_text(oc_markdown(table, trials), path)
