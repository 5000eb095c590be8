"""Cycling points as a Battery Data Format (BDF) table, with the column labels of the
``batterydf`` package so BDF tools read the files as they are.

The cycler reports current positive on discharge; BDF files, like the vendor files the BDF tools
ingest unchanged, carry current positive on charge, so the sign is flipped here. The stored
capacity is the charge passed within the current step, BDF's step capacity.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd
from bdf.normalize import OPTIONAL, REQUIRED

from voltlab.orchestrator.export._format import BundleError

BDF_COLUMNS: dict[str, str] = {
    "time_s": "Test Time / s",
    "voltage_v": "Voltage / V",
    "current_a": "Current / A",
    "capacity_ah": "Step Capacity / Ah",
    "cycle": "Cycle Count / 1",
    "step": "Step Count / 1",
}
"""Store column -> BDF label (units in the label: s, V, A, Ah, counts)."""
INTEGER_COLUMNS = ("cycle", "step")


def check_labels() -> None:
    """Refuse to write labels the installed ``batterydf`` does not know (a renamed column)."""
    known = set(REQUIRED) | set(OPTIONAL)
    unknown = [label for label in BDF_COLUMNS.values() if label not in known]
    if unknown:
        raise BundleError(f"Battery Data Format labels unknown to batterydf: {unknown}")
    missing = [label for label in REQUIRED if label not in BDF_COLUMNS.values()]
    if missing:
        raise BundleError(f"Battery Data Format requires columns {missing}, not exported")


def bdf_frame(points: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One cycler job's points (store columns, sequence order) as a BDF table."""
    columns = {}
    for name, label in BDF_COLUMNS.items():
        values = np.asarray(points[name])
        if name == "current_a":
            values = -values
        if name in INTEGER_COLUMNS:
            values = values.astype(np.int64)
        columns[label] = values
    return pd.DataFrame(columns)
