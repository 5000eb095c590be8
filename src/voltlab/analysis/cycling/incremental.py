"""Per-cycle metrics as points stream in, and the same on a whole data set at once.

A cycle is complete when the first point of a later cycle arrives (or on ``finish``); its metrics
are emitted then, so a live display lags the instrument by at most one cycle. The batch function
feeds everything at once through the same object, so streamed and batch results are the same.
"""

from dataclasses import asdict
from itertools import pairwise

import numpy as np
import pandas as pd

from voltlab.analysis.cycling._errors import CyclingAnalysisError
from voltlab.analysis.cycling.metrics import CycleMetrics, cycle_metrics_of
from voltlab.analysis.cycling.points import CyclingPoints


class IncrementalCycleMetrics:
    """Feed point batches in acquisition order; get each cycle's metrics once it is complete.

    ``active_mass_g`` (g of active material) adds specific capacities in mAh/g; points with
    ``|I| <= rest_current_a`` (A) count as rest.
    """

    def __init__(self, active_mass_g: float | None = None, rest_current_a: float = 0.0) -> None:
        if active_mass_g is not None and not active_mass_g > 0:
            raise CyclingAnalysisError(f"active_mass_g must be positive, got {active_mass_g}")
        if not rest_current_a >= 0:
            raise CyclingAnalysisError(f"rest_current_a must be >= 0, got {rest_current_a}")
        self._mass = active_mass_g
        self._rest = rest_current_a
        self._pending: list[CyclingPoints] = []
        self._last_time = -np.inf
        self._last_cycle = -1
        self._finished = False
        self.metrics: list[CycleMetrics] = []
        """Every cycle emitted so far, in order."""

    def feed(self, points: CyclingPoints) -> list[CycleMetrics]:
        """Add the next batch (may be empty); return the cycles it completed, in order."""
        if self._finished:
            raise CyclingAnalysisError("feed after finish(): start a new IncrementalCycleMetrics")
        if not len(points):
            return []
        if points.time_s[0] < self._last_time or points.cycle[0] < self._last_cycle:
            raise CyclingAnalysisError(
                f"batch starts at t={points.time_s[0]} s, cycle {points.cycle[0]}, before the "
                f"previous batch ended (t={self._last_time} s, cycle {self._last_cycle})"
            )
        self._last_time = float(points.time_s[-1])
        self._last_cycle = int(points.cycle[-1])
        done: list[CycleMetrics] = []
        starts = np.flatnonzero(np.diff(points.cycle)) + 1
        bounds = [0, *starts.tolist(), len(points)]
        for lo, hi in pairwise(bounds):
            part = points.select(slice(lo, hi))
            if self._pending and self._pending[0].cycle[0] != part.cycle[0]:
                done.append(self._close())
            self._pending.append(part)
        self.metrics.extend(done)
        return done

    def finish(self) -> list[CycleMetrics]:
        """Close the stream: emit the last cycle (flagged incomplete if it lacks a half)."""
        self._finished = True
        done = [self._close()] if self._pending else []
        self.metrics.extend(done)
        return done

    def _close(self) -> CycleMetrics:
        def column(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in self._pending])

        number = int(self._pending[0].cycle[0])
        result = cycle_metrics_of(
            number,
            column("time_s"),
            column("voltage_v"),
            column("current_a"),
            self._mass,
            self._rest,
        )
        self._pending = []
        return result


def cycle_metrics(
    points: CyclingPoints, active_mass_g: float | None = None, rest_current_a: float = 0.0
) -> list[CycleMetrics]:
    """Metrics of every cycle in ``points``; the last cycle may be flagged incomplete."""
    if not len(points):
        raise CyclingAnalysisError("no points: nothing to analyse")
    stream = IncrementalCycleMetrics(active_mass_g, rest_current_a)
    stream.feed(points)
    stream.finish()
    return stream.metrics


def metrics_frame(metrics: list[CycleMetrics]) -> pd.DataFrame:
    """One row per cycle, the :class:`CycleMetrics` fields as columns, indexed by cycle."""
    if not metrics:
        raise CyclingAnalysisError("no cycles: nothing to tabulate")
    return pd.DataFrame([asdict(m) for m in metrics]).set_index("cycle")
