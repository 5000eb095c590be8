"""Capacity-voltage curves of one cycle half, their values on a voltage grid, and dQ/dV.

Q(V) is the charge passed since the half began (trapezoidal ``I dt``) against voltage. Only the
points that move the voltage on (strictly below every earlier voltage on discharge, above on
charge) are kept, so relaxation wiggles and constant-voltage holds, where Q(V) is not a function,
drop out. Values on a grid come from a monotone cubic (PCHIP) interpolant; dQ/dV is the
Savitzky-Golay derivative of Q on a uniform grid, smoothed over a voltage window.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.integrate import cumulative_trapezoid
from scipy.interpolate import PchipInterpolator
from scipy.signal import savgol_filter

from voltlab.analysis.cycling._errors import CyclingAnalysisError
from voltlab.analysis.cycling.metrics import SECONDS_PER_HOUR
from voltlab.analysis.cycling.points import CyclingPoints

Direction = Literal["discharge", "charge"]
MIN_CURVE_POINTS = 4


@dataclass(frozen=True)
class CapacityCurve:
    """Q(V) of one half cycle: ``voltage_v`` strictly monotone (falling on discharge), shape
    ``(m,)``; ``capacity_ah`` passed since the half began, same shape."""

    cycle: int
    direction: Direction
    voltage_v: np.ndarray
    capacity_ah: np.ndarray

    def on_grid(self, grid_v: np.ndarray) -> np.ndarray:
        """Q (Ah) at the voltages ``grid_v`` (shape ``(g,)``), which must lie within the curve."""
        lo, hi = float(self.voltage_v.min()), float(self.voltage_v.max())
        if grid_v.min() < lo - 1e-9 or grid_v.max() > hi + 1e-9:
            raise CyclingAnalysisError(
                f"cycle {self.cycle} {self.direction} spans {lo:.3f}-{hi:.3f} V, not the "
                f"requested {grid_v.min():.3f}-{grid_v.max():.3f} V"
            )
        order = np.argsort(self.voltage_v)
        return PchipInterpolator(self.voltage_v[order], self.capacity_ah[order])(grid_v)


@dataclass(frozen=True)
class DQDV:
    """dQ/dV (Ah/V, signed: negative on discharge) on a uniform grid ``voltage_v``, shape ``(g,)``."""

    cycle: int
    direction: Direction
    voltage_v: np.ndarray
    dq_dv_ah_per_v: np.ndarray


def capacity_curve(
    points: CyclingPoints, direction: Direction = "discharge", rest_current_a: float = 0.0
) -> CapacityCurve:
    """Q(V) of the ``direction`` half of the single cycle in ``points``."""
    cycles = points.cycles()
    if len(cycles) != 1:
        raise CyclingAnalysisError(f"capacity_curve takes one cycle, got cycles {cycles.tolist()}")
    sign = 1.0 if direction == "discharge" else -1.0
    current = sign * points.current_a
    current = np.where(current > rest_current_a, current, 0.0)
    if len(points) < 2 or not current.any():
        raise CyclingAnalysisError(f"cycle {cycles[0]} has no {direction}")
    charge = cumulative_trapezoid(current, points.time_s, initial=0.0) / SECONDS_PER_HOUR
    active = np.flatnonzero(current > 0)
    voltage = sign * points.voltage_v[active]  # falling on either half after the sign flip
    earlier = np.minimum.accumulate(np.concatenate([[np.inf], voltage[:-1]]))
    keep = active[voltage < earlier]
    if len(keep) < MIN_CURVE_POINTS:
        raise CyclingAnalysisError(
            f"cycle {cycles[0]} {direction} has {len(keep)} points with moving voltage; "
            f"at least {MIN_CURVE_POINTS} needed for Q(V)"
        )
    return CapacityCurve(
        int(cycles[0]), direction, points.voltage_v[keep], charge[keep] - charge[active[0]]
    )


def dqdv(
    curve: CapacityCurve, step_v: float = 0.005, window_v: float = 0.05, order: int = 3
) -> DQDV:
    """Smoothed dQ/dV of ``curve`` on a grid of ``step_v`` (V), Savitzky-Golay over ``window_v``."""
    if not 0 < step_v < window_v:
        raise CyclingAnalysisError(f"need 0 < step_v < window_v, got {step_v} and {window_v}")
    lo, hi = float(curve.voltage_v.min()), float(curve.voltage_v.max())
    grid = np.arange(np.ceil(lo / step_v) * step_v, hi, step_v)
    window = round(window_v / step_v) | 1
    if len(grid) < window or window <= order:
        raise CyclingAnalysisError(
            f"cycle {curve.cycle} spans {lo:.3f}-{hi:.3f} V: too narrow for a {window_v} V "
            f"window of order {order}"
        )
    q = curve.on_grid(grid)
    slope = savgol_filter(q, window, order, deriv=1, delta=step_v)
    return DQDV(curve.cycle, curve.direction, grid, slope)
