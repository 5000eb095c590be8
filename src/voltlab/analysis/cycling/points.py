"""Validated cycler points: the one input type of the cycling analysis.

Points are columnar arrays in acquisition order, shape ``(n,)`` each: time s, voltage V, current A
(positive = discharge, negative = charge, zero = rest) and the cycle number the instrument assigns
(from 1). Anything that would make a metric silently wrong (NaN, time running backwards, cycle
numbers going down, ragged columns) is refused here, naming the column and the first bad index.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from voltlab.analysis.cycling._errors import CyclingAnalysisError

COLUMNS = ("time_s", "voltage_v", "current_a", "cycle")


@dataclass(frozen=True, eq=False)
class CyclingPoints:
    """Cycler points, shape ``(n,)`` per column; validated on construction (may be empty).
    Compared by identity (the columns are arrays)."""

    time_s: np.ndarray
    voltage_v: np.ndarray
    current_a: np.ndarray
    cycle: np.ndarray

    def __post_init__(self) -> None:
        columns = {}
        for name in COLUMNS:
            raw = np.asarray(getattr(self, name))
            if raw.ndim != 1:
                raise CyclingAnalysisError(f"{name} must be one-dimensional, got shape {raw.shape}")
            try:
                columns[name] = raw.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise CyclingAnalysisError(f"{name} is not numeric: {exc}") from exc
        lengths = {name: len(a) for name, a in columns.items()}
        if len(set(lengths.values())) != 1:
            raise CyclingAnalysisError(f"columns differ in length: {lengths}")
        for name, values in columns.items():
            bad = np.flatnonzero(~np.isfinite(values))
            if len(bad):
                raise CyclingAnalysisError(
                    f"{name} has {len(bad)} non-finite value(s), first at index {bad[0]}"
                )
        cycle = columns["cycle"]
        if np.any(cycle != np.round(cycle)) or np.any(cycle < 0):
            raise CyclingAnalysisError("cycle must hold non-negative whole numbers")
        for name in ("time_s", "cycle"):
            back = np.flatnonzero(np.diff(columns[name]) < 0)
            if len(back):
                k = back[0] + 1
                raise CyclingAnalysisError(
                    f"{name} decreases at index {k} ({columns[name][k - 1]} -> "
                    f"{columns[name][k]}): points must be in acquisition order"
                )
        for name, values in columns.items():
            if name == "cycle":
                values = values.astype(np.int64)
            values.setflags(write=False)
            object.__setattr__(self, name, values)

    def __len__(self) -> int:
        return len(self.time_s)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "CyclingPoints":
        """Points from a DataFrame with (at least) the columns time_s, voltage_v, current_a, cycle."""
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise CyclingAnalysisError(f"frame lacks column(s) {missing}")
        return cls(*(frame[c].to_numpy() for c in COLUMNS))

    def select(self, index: np.ndarray | slice) -> "CyclingPoints":
        """The points picked by ``index`` (a slice or a bool mask of shape ``(n,)``), in order.

        An in-order subset of valid points is valid, so it is not checked again."""
        subset = object.__new__(CyclingPoints)
        for name in COLUMNS:
            values = getattr(self, name)[index]
            values.setflags(write=False)
            object.__setattr__(subset, name, values)
        return subset

    def cycles(self) -> np.ndarray:
        """Distinct cycle numbers present, ascending."""
        return np.unique(self.cycle)

    def cycle_slice(self, number: int) -> "CyclingPoints":
        """The points of cycle ``number``; raises if the cycle has no points."""
        lo, hi = np.searchsorted(self.cycle, [number, number + 1])
        if lo == hi:
            raise CyclingAnalysisError(f"cycle {number} is not in the data (cycles {self._span()})")
        return self.select(slice(lo, hi))

    def _span(self) -> str:
        return f"{self.cycle[0]}-{self.cycle[-1]}" if len(self) else "none"
