"""Early-life features of a cell after Severson et al. (Nature Energy 2019).

The central one is dQ(V) = Q_late(V) - Q_early(V), the change of the discharge capacity curve
between an early and a later cycle (10 and 100 by default) on a common voltage grid; its
variance, minimum, mean, skewness and kurtosis summarise how the curve sank and changed shape
(loss of lithium shifts it, loss of active material shrinks it). Severson's "discharge" model adds
capacity features: the cycle-2 discharge capacity, the largest capacity minus that, and the slope
and intercept of a line through the last ten cycles' capacities.
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import kurtosis, skew

from voltlab.analysis.cycling._errors import CyclingAnalysisError
from voltlab.analysis.cycling.curves import capacity_curve
from voltlab.analysis.cycling.incremental import cycle_metrics
from voltlab.analysis.cycling.points import CyclingPoints

DELTA_Q_FEATURES = ("log10_var_dq", "log10_abs_min_dq", "mean_dq", "skew_dq", "kurtosis_dq")
CAPACITY_FEATURES = (
    "capacity_cycle2_ah",
    "max_minus_cycle2_ah",
    "fade_slope_ah",
    "fade_intercept_ah",
)
ALL_FEATURES = DELTA_Q_FEATURES + CAPACITY_FEATURES
SLOPE_CYCLES = 10
LOG_FLOOR = 1e-30


@dataclass(frozen=True)
class FeatureDefinition:
    """Which cycles are compared and on what grid: ``grid_points`` voltages from
    ``voltage_low_v`` to ``voltage_high_v`` (V), inside both cycles' discharge curves."""

    cycle_early: int = 10
    cycle_late: int = 100
    voltage_low_v: float = 2.6
    voltage_high_v: float = 3.8
    grid_points: int = 1000
    rest_current_a: float = 0.0

    def __post_init__(self) -> None:
        if not 2 <= self.cycle_early < self.cycle_late:
            raise CyclingAnalysisError(
                f"need 2 <= cycle_early < cycle_late, got {self.cycle_early}, {self.cycle_late}"
            )
        if not self.voltage_low_v < self.voltage_high_v or self.grid_points < 10:
            raise CyclingAnalysisError(
                f"bad voltage grid {self.voltage_low_v}-{self.voltage_high_v} V, "
                f"{self.grid_points} points"
            )

    def grid(self) -> np.ndarray:
        """The voltage grid, V, shape ``(grid_points,)``."""
        return np.linspace(self.voltage_low_v, self.voltage_high_v, self.grid_points)


def delta_q(points: CyclingPoints, definition: FeatureDefinition) -> np.ndarray:
    """Q_late(V) - Q_early(V) of the discharges, Ah, on ``definition.grid()``, shape ``(g,)``."""
    grid = definition.grid()
    early, late = (
        capacity_curve(points.cycle_slice(c), "discharge", definition.rest_current_a).on_grid(grid)
        for c in (definition.cycle_early, definition.cycle_late)
    )
    return late - early


def early_life_features(points: CyclingPoints, definition: FeatureDefinition) -> dict[str, float]:
    """Every feature in ALL_FEATURES from cycles 1..cycle_late of one cell's points.

    Raises if the data stop before ``cycle_late`` or a needed cycle is incomplete."""
    last = definition.cycle_late
    if not len(points) or points.cycle[-1] < last:
        have = int(points.cycle[-1]) if len(points) else 0
        raise CyclingAnalysisError(
            f"early-life features need cycle {last}; data end at cycle {have}"
        )
    metrics = {m.cycle: m for m in cycle_metrics(points.select(points.cycle <= last))}
    needed = [2, definition.cycle_early, *range(last - SLOPE_CYCLES + 1, last + 1)]
    bad = [c for c in needed if c not in metrics or not metrics[c].complete]
    if bad:
        raise CyclingAnalysisError(f"cycle(s) {bad} missing or incomplete; features need them")
    dq = delta_q(points, definition)
    if np.ptp(dq) <= 1e-12 * max(1.0, float(np.abs(dq).max())):
        raise CyclingAnalysisError(
            f"dQ(V) between cycles {definition.cycle_early} and {last} is flat: no change to "
            "describe"
        )
    capacity = np.array(
        [metrics[c].discharge_capacity_ah for c in sorted(metrics) if metrics[c].complete]
    )
    slope_cycles = np.arange(last - SLOPE_CYCLES + 1, last + 1)
    slope, intercept = np.polyfit(
        slope_cycles, [metrics[c].discharge_capacity_ah for c in slope_cycles], 1
    )
    q2 = metrics[2].discharge_capacity_ah
    return {
        "log10_var_dq": float(np.log10(max(np.var(dq), LOG_FLOOR))),
        "log10_abs_min_dq": float(np.log10(max(abs(dq.min()), LOG_FLOOR))),
        "mean_dq": float(dq.mean()),
        "skew_dq": float(skew(dq)),
        "kurtosis_dq": float(kurtosis(dq)),
        "capacity_cycle2_ah": float(q2),
        "max_minus_cycle2_ah": float(capacity.max() - q2),
        "fade_slope_ah": float(slope),
        "fade_intercept_ah": float(intercept),
    }
