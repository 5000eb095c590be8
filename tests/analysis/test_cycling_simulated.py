"""Cycling metrics on short simulated traces, against the simulator's own step counters."""

import io

import numpy as np
import pytest

from voltlab.analysis.cycling import (
    CyclingPoints,
    IncrementalCycleMetrics,
    capacity_curve,
    cycle_metrics,
    dqdv,
    fade_summary,
    plot_capacity,
    plot_dqdv,
)
from voltlab.protocol.cycler import FastChargeCycling, GalvanostaticCycling
from voltlab.simulated_hardware.world.cell_model import (
    discharge_capacity_per_cycle,
    simulate_cell,
)
from voltlab.simulated_hardware.world.cell_types import CellTrace
from voltlab.simulated_hardware.world.fast_charge import fast_charge_cell_spec

FAST = FastChargeCycling(cycles=4, cc1_c_rate=5.0, cc2_c_rate=5.0)
SLOW = GalvanostaticCycling(
    cycles=4, charge_c_rate=0.5, discharge_c_rate=1.0, v_min=2.5, v_max=4.2, formation_cycles=1
)
SPEC = fast_charge_cell_spec("test-cell", FAST)


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, CellTrace]:
    cache = tmp_path_factory.mktemp("cells")
    return {
        "fast": simulate_cell(cache, 0, SPEC, FAST, 10.0),
        "slow": simulate_cell(cache, 0, SPEC, SLOW, 30.0),
    }


def points_of(trace: CellTrace) -> CyclingPoints:
    return CyclingPoints(trace.time_s, trace.voltage_v, trace.current_a, trace.cycle)


def step_totals(trace: CellTrace, sign: float) -> np.ndarray:
    """Charge (sign -1) or discharge (+1) per cycle from the instrument's per-step counters."""
    ends = np.append(np.flatnonzero(np.diff(trace.step) != 0), len(trace) - 1)
    ends = ends[sign * trace.current_a[ends] > 0]
    totals = np.zeros(int(trace.cycle.max()))
    np.add.at(totals, trace.cycle[ends] - 1, trace.capacity_ah[ends])
    return totals


@pytest.mark.parametrize("name", ["fast", "slow"])
def test_capacities_match_the_instrument_counters(traces, name):
    trace = traces[name]
    metrics = cycle_metrics(points_of(trace), active_mass_g=SPEC.cathode_mass_g)
    assert [m.cycle for m in metrics] == list(range(1, int(trace.cycle.max()) + 1))
    assert all(m.complete for m in metrics)
    discharge = np.array([m.discharge_capacity_ah for m in metrics])
    charge = np.array([m.charge_capacity_ah for m in metrics])
    np.testing.assert_allclose(discharge, discharge_capacity_per_cycle(trace), rtol=2e-3)
    np.testing.assert_allclose(charge, step_totals(trace, -1.0), rtol=2e-3)
    for m in metrics:
        assert 0.97 < m.coulombic_efficiency < 1.005
        assert 3.3 < m.mean_discharge_voltage_v < m.mean_charge_voltage_v < 4.2


def test_formation_capacity_is_the_cells_specific_capacity(traces):
    metrics = cycle_metrics(points_of(traces["slow"]), active_mass_g=SPEC.cathode_mass_g)
    # C/10 formation of a 180 mAh/g powder (cell-to-cell spread 1.5 %)
    assert metrics[0].specific_discharge_mah_g == pytest.approx(180.0, rel=0.05)
    assert metrics[1].specific_discharge_mah_g < metrics[0].specific_discharge_mah_g
    summary = fade_summary(metrics, formation_cycles=1, threshold=0.8)
    assert summary.reference_cycle == 2 and summary.retention[0] == 1.0


def test_streaming_in_instrument_batches_matches_batch(traces):
    points = points_of(traces["fast"])
    stream = IncrementalCycleMetrics()
    for lo in range(0, len(points), 100):
        stream.feed(points.select(slice(lo, lo + 100)))
    stream.finish()
    assert stream.metrics == cycle_metrics(points)


def test_dqdv_integrates_back_to_the_capacity(traces):
    cycle = points_of(traces["fast"]).cycle_slice(2)
    curve = capacity_curve(cycle, "discharge")
    result = dqdv(curve, step_v=0.005, window_v=0.03)
    grid = result.voltage_v
    span = curve.on_grid(grid[[0, -1]])
    integral = np.trapezoid(result.dq_dv_ah_per_v, grid)
    assert integral == pytest.approx(span[1] - span[0], rel=0.02)
    assert np.all(result.dq_dv_ah_per_v < 1e-6)  # discharge: Q grows as V falls


def test_figures_render(traces):
    metrics = cycle_metrics(points_of(traces["fast"]), active_mass_g=SPEC.cathode_mass_g)
    curves = [dqdv(capacity_curve(points_of(traces["fast"]).cycle_slice(c))) for c in (1, 4)]
    for fig in (plot_capacity(metrics, fade_summary(metrics)), plot_dqdv(curves, "dQ/dV")):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        assert buffer.getvalue().startswith(b"\x89PNG")
    assert len(plot_capacity(metrics).axes) == 1
