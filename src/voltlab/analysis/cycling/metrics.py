"""Metrics of one cycle from its raw points: capacities, energies, efficiency, mean voltages.

Charge and discharge are told apart by the sign of the current (positive = discharge); points
with ``|I| <= rest_current_a`` count as rest. Capacity and energy are trapezoidal integrals of
``I dt`` and ``V I dt`` over consecutive points of the cycle, the positive and negative parts of
the current integrated separately, so a cycle needs no step numbers or instrument counters.
"""

from dataclasses import dataclass

import numpy as np

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class CycleMetrics:
    """One cycle. Capacities Ah, energies Wh, voltages V, specific capacities mAh/g of active
    material (None without an active mass). A cycle without both a charge and a discharge is
    ``complete=False``, names what is missing in ``issue`` and has NaN for what it lacks."""

    cycle: int
    start_time_s: float
    end_time_s: float
    n_points: int
    charge_capacity_ah: float
    discharge_capacity_ah: float
    charge_energy_wh: float
    discharge_energy_wh: float
    coulombic_efficiency: float
    mean_charge_voltage_v: float
    mean_discharge_voltage_v: float
    specific_charge_mah_g: float | None
    specific_discharge_mah_g: float | None
    complete: bool
    issue: str | None


def _trapezoid(values: np.ndarray, dt: np.ndarray) -> float:
    return float(np.sum(0.5 * (values[1:] + values[:-1]) * dt))


def cycle_metrics_of(
    cycle: int,
    time_s: np.ndarray,
    voltage_v: np.ndarray,
    current_a: np.ndarray,
    active_mass_g: float | None = None,
    rest_current_a: float = 0.0,
) -> CycleMetrics:
    """Metrics of one cycle's points (arrays of shape ``(n,)``, already validated, in order)."""
    dt = np.diff(time_s)
    current = np.where(np.abs(current_a) <= rest_current_a, 0.0, current_a)
    discharge = np.maximum(current, 0.0)
    charge = np.maximum(-current, 0.0)
    q_dis = _trapezoid(discharge, dt) / SECONDS_PER_HOUR
    q_ch = _trapezoid(charge, dt) / SECONDS_PER_HOUR
    e_dis = _trapezoid(voltage_v * discharge, dt) / SECONDS_PER_HOUR
    e_ch = _trapezoid(voltage_v * charge, dt) / SECONDS_PER_HOUR
    missing = [name for name, q in (("charge", q_ch), ("discharge", q_dis)) if q <= 0.0]
    if len(time_s) < 2:
        missing = ["charge", "discharge"]
    if "charge" in missing:
        q_ch = e_ch = np.nan
    if "discharge" in missing:
        q_dis = e_dis = np.nan

    def specific(q: float) -> float | None:
        return None if active_mass_g is None else 1000.0 * q / active_mass_g

    return CycleMetrics(
        cycle=int(cycle),
        start_time_s=float(time_s[0]),
        end_time_s=float(time_s[-1]),
        n_points=len(time_s),
        charge_capacity_ah=q_ch,
        discharge_capacity_ah=q_dis,
        charge_energy_wh=e_ch,
        discharge_energy_wh=e_dis,
        coulombic_efficiency=q_dis / q_ch if not missing else np.nan,
        mean_charge_voltage_v=e_ch / q_ch if "charge" not in missing else np.nan,
        mean_discharge_voltage_v=e_dis / q_dis if "discharge" not in missing else np.nan,
        specific_charge_mah_g=specific(q_ch),
        specific_discharge_mah_g=specific(q_dis),
        complete=not missing,
        issue=f"no {' and no '.join(missing)} in cycle {cycle}" if missing else None,
    )
