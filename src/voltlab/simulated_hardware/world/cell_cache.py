"""On-disk cache of simulated cell traces: one npz per (cell, protocol, sampling, model version).

Writes go to a temporary file in the same directory and are moved into place with ``os.replace``,
so two processes simulating the same cell never leave a half-written file; an unreadable file is
treated as a miss and rewritten.
"""

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from voltlab.protocol.cycler import CyclingProtocol
from voltlab.simulated_hardware.world.cell_types import CellSpec, CellTrace

logger = logging.getLogger(__name__)

_ARRAYS = ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")


def cache_key(
    spec: CellSpec, protocol: CyclingProtocol, seed: int, sample_period_s: float, version: str
) -> str:
    """A hex digest of everything that determines a trace."""
    payload = {
        "cell_id": spec.cell_id,
        "descriptors": asdict(spec.descriptors),
        "cathode_mass_g": spec.cathode_mass_g,
        "seed": seed,
        "protocol": protocol.model_dump(mode="json"),
        "sample_period_s": sample_period_s,
        "model_version": version,
    }
    text = json.dumps(payload, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def load_trace(path: Path) -> CellTrace | None:
    """The cached trace at ``path``, or None if it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in _ARRAYS}
            nominal = float(data["nominal_capacity_ah"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("ignoring unreadable cell cache %s: %s", path, exc)
        return None
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        logger.warning("ignoring inconsistent cell cache %s", path)
        return None
    return CellTrace(nominal_capacity_ah=nominal, **arrays)


def save_trace(path: Path, trace: CellTrace) -> None:
    """Write ``trace`` atomically (temporary file + rename) so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(
                handle,
                nominal_capacity_ah=np.float64(trace.nominal_capacity_ah),
                **{name: getattr(trace, name) for name in _ARRAYS},
            )
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
