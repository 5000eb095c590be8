"""Capacity retention, fade rate and cycles to a retention threshold from per-cycle capacities.

Retention is each cycle's discharge capacity over that of a reference cycle (by default the first
cycle after ``formation_cycles``). The fade rate is a Theil-Sen slope (robust to outlier cycles)
of retention against cycle number over a window, in % of the reference per cycle. Cycles to the
threshold (default 80 %) is the interpolated crossing when the data reach it; otherwise the fitted
line is extrapolated and the result says so (``extrapolated=True``), or it is None when the cell
does not fade.
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import theilslopes

from voltlab.analysis.cycling._errors import CyclingAnalysisError
from voltlab.analysis.cycling.metrics import CycleMetrics

MIN_FIT_CYCLES = 3


@dataclass(frozen=True)
class FadeSummary:
    """Retention arrays have shape ``(n,)`` over the complete cycles ``cycles`` at or after the
    reference cycle; capacities Ah, retention as a fraction of the reference."""

    reference_cycle: int
    reference_capacity_ah: float
    cycles: np.ndarray
    retention: np.ndarray
    fade_rate_pct_per_cycle: float
    fade_window: tuple[int, int]
    fit_intercept: float
    """Retention of the fitted line extended to cycle 0 (fraction)."""
    threshold: float
    cycles_to_threshold: float | None
    extrapolated: bool
    incomplete_cycles: tuple[int, ...]


def _crossing(cycles: np.ndarray, retention: np.ndarray, threshold: float) -> float | None:
    below = np.flatnonzero(retention < threshold)
    if not len(below) or below[0] == 0:
        return None
    k = below[0]
    r0, r1 = retention[k - 1], retention[k]
    return float(cycles[k - 1] + (cycles[k] - cycles[k - 1]) * (r0 - threshold) / (r0 - r1))


def fade_summary(
    metrics: list[CycleMetrics],
    formation_cycles: int = 0,
    reference_cycle: int | None = None,
    fade_window: int | None = None,
    threshold: float = 0.8,
) -> FadeSummary:
    """Retention, fade rate (Theil-Sen over the last ``fade_window`` complete cycles, default all
    after the reference) and cycles to ``threshold`` of the reference capacity."""
    if not 0.0 < threshold < 1.0:
        raise CyclingAnalysisError(f"threshold must be within (0, 1), got {threshold}")
    reference = formation_cycles + 1 if reference_cycle is None else reference_cycle
    complete = [m for m in metrics if m.complete]
    incomplete = tuple(m.cycle for m in metrics if not m.complete)
    by_cycle = {m.cycle: m.discharge_capacity_ah for m in complete}
    if reference not in by_cycle:
        state = "incomplete" if reference in incomplete else "absent"
        raise CyclingAnalysisError(f"reference cycle {reference} is {state}: no retention")
    cycles = np.array([c for c in by_cycle if c >= reference])
    capacity = np.array([by_cycle[c] for c in cycles])
    retention = capacity / by_cycle[reference]
    window = len(cycles) if fade_window is None else min(fade_window, len(cycles))
    if window < MIN_FIT_CYCLES:
        raise CyclingAnalysisError(
            f"{window} complete cycle(s) in the fade window; at least {MIN_FIT_CYCLES} needed"
        )
    x, y = cycles[-window:], retention[-window:]
    slope, intercept, _, _ = theilslopes(y, x)
    crossing = _crossing(cycles, retention, threshold)
    extrapolated = crossing is None and slope < 0
    if extrapolated:
        crossing = float((threshold - intercept) / slope)
    return FadeSummary(
        reference_cycle=reference,
        reference_capacity_ah=by_cycle[reference],
        cycles=cycles,
        retention=retention,
        fade_rate_pct_per_cycle=float(-100.0 * slope),
        fade_window=(int(x[0]), int(x[-1])),
        fit_intercept=float(intercept),
        threshold=threshold,
        cycles_to_threshold=crossing,
        extrapolated=extrapolated,
        incomplete_cycles=incomplete,
    )
