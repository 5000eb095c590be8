"""Cycling metrics on constructed traces whose capacities, energies and fade are known exactly."""

import numpy as np
import pytest

from voltlab.analysis.cycling import (
    CyclingPoints,
    IncrementalCycleMetrics,
    capacity_curve,
    cycle_metrics,
    dqdv,
    fade_summary,
    metrics_frame,
)

CURRENT_A = 0.002
CHARGE_S = 3600.0
REST_S = 600.0


def synthetic_cell(capacities_ah: list[float], period_s: float = 20.0) -> CyclingPoints:
    """Per cycle: CC charge of 1 h at 2 mA with V rising linearly 3.0 -> 4.0 V, rest, CC
    discharge at 2 mA of the given capacity with V falling linearly 4.0 -> 3.0 V, rest.
    Exact: charge 2 mAh, charge energy 7 mWh, discharge energy 3.5 V x capacity."""
    t0 = 0.0
    parts = []
    for n, q in enumerate(capacities_ah, start=1):
        discharge_s = q * 3600.0 / CURRENT_A
        segments = [
            (CHARGE_S, -CURRENT_A, 3.0, 4.0),
            (REST_S, 0.0, 4.0, 4.0),
            (discharge_s, CURRENT_A, 4.0, 3.0),
            (REST_S, 0.0, 3.0, 3.0),
        ]
        for duration, current, v0, v1 in segments:
            t = np.append(np.arange(0.0, duration, period_s), duration)
            parts.append((t0 + t, v0 + (v1 - v0) * t / duration, np.full(len(t), current), n))
            t0 += duration
    return CyclingPoints(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([np.full(len(p[0]), p[3]) for p in parts]),
    )


LINEAR_FADE = [0.0019 * (1 - 0.01 * k) for k in range(30)]  # 1 %/cycle of the first


def test_capacities_energies_and_voltages_match_the_construction():
    metrics = cycle_metrics(synthetic_cell([0.0018, 0.0017]), active_mass_g=0.01)
    assert [m.cycle for m in metrics] == [1, 2]
    first, second = metrics
    assert first.complete and first.issue is None
    assert first.charge_capacity_ah == pytest.approx(0.002, rel=1e-12)
    assert first.discharge_capacity_ah == pytest.approx(0.0018, rel=1e-12)
    assert second.discharge_capacity_ah == pytest.approx(0.0017, rel=1e-12)
    assert first.charge_energy_wh == pytest.approx(0.002 * 3.5, rel=1e-12)
    assert first.discharge_energy_wh == pytest.approx(0.0018 * 3.5, rel=1e-12)
    assert first.coulombic_efficiency == pytest.approx(0.9, rel=1e-12)
    assert first.mean_discharge_voltage_v == pytest.approx(3.5, rel=1e-12)
    assert first.specific_discharge_mah_g == pytest.approx(180.0, rel=1e-12)
    assert first.end_time_s - first.start_time_s == pytest.approx(2 * CHARGE_S + 2 * REST_S - 360)


def test_metrics_frame_is_indexed_by_cycle():
    frame = metrics_frame(cycle_metrics(synthetic_cell([0.0018, 0.0017])))
    assert list(frame.index) == [1, 2]
    assert frame.loc[2, "discharge_capacity_ah"] == pytest.approx(0.0017)
    assert frame["specific_discharge_mah_g"].isna().all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_batches_give_the_batch_result(seed):
    points = synthetic_cell(LINEAR_FADE[:6], period_s=37.0)
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, len(points)), 25, replace=False))
    stream = IncrementalCycleMetrics()
    emitted = []
    for lo, hi in zip([0, *cuts], [*cuts, len(points)], strict=True):
        batch = points.select(slice(lo, hi))
        done = stream.feed(batch)
        # a cycle is emitted exactly when a point of a later cycle has arrived
        assert [m.cycle for m in done] == list(range(len(emitted) + 1, batch.cycle[-1]))
        emitted += done
    emitted += stream.finish()
    assert emitted == cycle_metrics(points) == stream.metrics


def test_a_cycle_without_discharge_is_flagged_not_zero():
    points = synthetic_cell([0.0018, 0.0018])
    cut = points.select(~((points.cycle == 2) & (points.current_a > 0)))
    last = cycle_metrics(cut)[-1]
    assert not last.complete
    assert last.issue == "no discharge in cycle 2"
    assert np.isnan(last.discharge_capacity_ah) and np.isnan(last.coulombic_efficiency)
    assert last.charge_capacity_ah == pytest.approx(0.002)


def test_fade_rate_and_observed_cycles_to_80():
    summary = fade_summary(cycle_metrics(synthetic_cell(LINEAR_FADE)))
    assert summary.reference_cycle == 1
    np.testing.assert_allclose(summary.retention, 1 - 0.01 * np.arange(30), rtol=1e-12)
    assert summary.fade_rate_pct_per_cycle == pytest.approx(1.0, rel=1e-9)
    # retention 0.80 is reached at cycle 21 exactly, first value below it at cycle 22
    assert summary.cycles_to_threshold == pytest.approx(21.0)
    assert not summary.extrapolated


def test_cycles_to_80_extrapolated_from_a_window_and_flagged():
    capacities = [0.0019] + [0.00185 * (1 - 0.002 * k) for k in range(20)]
    summary = fade_summary(cycle_metrics(synthetic_cell(capacities)), formation_cycles=1)
    assert summary.reference_cycle == 2
    assert summary.fade_rate_pct_per_cycle == pytest.approx(0.2, rel=1e-9)
    assert summary.extrapolated
    assert summary.cycles_to_threshold == pytest.approx(2 + 100.0, rel=1e-9)
    windowed = fade_summary(cycle_metrics(synthetic_cell(capacities)), 1, fade_window=5)
    assert windowed.fade_window == (17, 21)


def test_no_fade_gives_no_cycles_to_80():
    summary = fade_summary(cycle_metrics(synthetic_cell([0.0018] * 5)))
    assert summary.cycles_to_threshold is None and not summary.extrapolated


def test_dqdv_of_a_linear_curve_is_constant():
    points = synthetic_cell([0.0018]).cycle_slice(1)
    curve = capacity_curve(points, "discharge")
    assert curve.voltage_v[0] == pytest.approx(4.0) and curve.voltage_v[-1] == pytest.approx(3.0)
    assert curve.capacity_ah[-1] == pytest.approx(0.0018)
    result = dqdv(curve, step_v=0.01, window_v=0.1)
    np.testing.assert_allclose(result.dq_dv_ah_per_v, -0.0018, rtol=1e-6)
    charge = dqdv(capacity_curve(points, "charge"), step_v=0.01, window_v=0.1)
    np.testing.assert_allclose(charge.dq_dv_ah_per_v, 0.002, rtol=1e-6)


def test_capacity_curve_drops_constant_voltage_holds():
    t = np.arange(0.0, 1000.0, 10.0)
    v = np.where(t < 500, 4.0 - t / 500, 3.0)  # CC then a CV hold at 3.0 V
    points = CyclingPoints(t, v, np.full(len(t), 0.001), np.ones(len(t)))
    curve = capacity_curve(points)
    assert np.all(np.diff(curve.voltage_v) < 0)
    assert curve.voltage_v.min() == pytest.approx(3.0)
    assert curve.capacity_ah[-1] == pytest.approx(0.001 * 500 / 3600)


def test_analysis_is_deterministic():
    points = synthetic_cell(LINEAR_FADE[:8])
    assert cycle_metrics(points) == cycle_metrics(points)
    a, b = (fade_summary(cycle_metrics(points)) for _ in range(2))
    assert a.fade_rate_pct_per_cycle == b.fade_rate_pct_per_cycle
