"""The PyBaMM cell world: physics trends, sampling invariants, the per-cell cache, retention truth."""

import multiprocessing
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voltlab.protocol import Dopant, Recipe
from voltlab.protocol.cycler import GalvanostaticCycling
from voltlab.simulated_hardware.world.cell_descriptors import CellDescriptors, cell_descriptors
from voltlab.simulated_hardware.world.cell_model import (
    NO_VARIATION,
    PyBaMMCellSimulator,
    degradation_rates,
    discharge_capacity_per_cycle,
    run_model,
    simulate_cell,
)
from voltlab.simulated_hardware.world.cell_types import CellSpec
from voltlab.simulated_hardware.world.product import ideal_product, optimal_temperature_c
from voltlab.simulated_hardware.world.retention_table import (
    EFFECTIVE_DIFFUSIVITY_GRID,
    LAM_GRID,
    SEI_GRID,
    retention_truth,
    simulated_retention_curve,
)

SHORT = GalvanostaticCycling(
    cycles=4, charge_c_rate=0.5, discharge_c_rate=1.0, v_min=2.5, v_max=4.2, formation_cycles=1
)
TYPICAL = CellDescriptors(175.0, 1.5, 0.4, 0.75, 0.95)


def powder(ni: float, dopant: Dopant = Dopant.NONE, fraction: float = 0.0) -> CellDescriptors:
    """Descriptors of the noise-free powder of an NMC with Mn = Co, fired at its best temperature."""
    rest = (1.0 - ni) / 2.0
    recipe = Recipe(
        ni=ni,
        mn=rest,
        co=1.0 - ni - rest,
        li_excess=0.03,
        calcination_temperature_c=optimal_temperature_c(ni),
        calcination_time_h=10.0,
        dopant=dopant,
        dopant_fraction=fraction,
    )
    return cell_descriptors(ideal_product(recipe))


@pytest.fixture
def simulator(tmp_path: Path) -> PyBaMMCellSimulator:
    return PyBaMMCellSimulator(tmp_path / "cells", seed=7)


def test_c10_capacity_matches_nominal_and_rises_with_ni(tmp_path: Path) -> None:
    sim = PyBaMMCellSimulator(tmp_path, variation=NO_VARIATION)
    per_gram = []
    for ni in (0.33, 0.6, 0.8):
        spec = CellSpec(f"ni{ni}", powder(ni))
        trace = sim.simulate(spec, SHORT)
        formation = discharge_capacity_per_cycle(trace)[0]  # C/10 formation discharge
        assert formation == pytest.approx(spec.nominal_capacity_ah, rel=0.03)
        per_gram.append(formation / spec.cathode_mass_g * 1000.0)
    assert per_gram[0] < per_gram[1] < per_gram[2]


def test_trace_invariants(simulator: PyBaMMCellSimulator) -> None:
    spec = CellSpec("cell-a", TYPICAL)
    trace = simulator.simulate(spec, SHORT)
    assert len(trace) > 4 * 200  # a few hundred points per cycle at 30 s sampling
    assert np.all(np.diff(trace.time_s) >= 0) and trace.time_s[0] == 0.0
    assert set(np.unique(trace.cycle)) == {1, 2, 3, 4}
    assert np.all(np.diff(trace.cycle) >= 0)
    assert np.all(trace.voltage_v > SHORT.v_min - 0.01)
    assert np.all(trace.voltage_v < SHORT.v_max + 0.01)
    assert np.all(trace.capacity_ah >= 0)
    nominal = spec.nominal_capacity_ah
    cycle2 = trace.cycle == 2
    charge, discharge = trace.step == 0, trace.step == 3  # CC charge; discharge after the rest
    assert trace.current_a[cycle2 & charge] == pytest.approx(-0.5 * nominal, rel=0.05)
    assert trace.current_a[cycle2 & discharge] == pytest.approx(1.0 * nominal, rel=0.05)
    gaps = np.diff(trace.time_s)[(np.diff(trace.step) == 0) & (np.diff(trace.cycle) == 0)]
    assert gaps.max() <= 30.0 + 1e-6


def test_cell_to_cell_variation_is_seeded(tmp_path: Path) -> None:
    one = PyBaMMCellSimulator(tmp_path / "a", seed=1).simulate(CellSpec("c1", TYPICAL), SHORT)
    again = PyBaMMCellSimulator(tmp_path / "b", seed=1).simulate(CellSpec("c1", TYPICAL), SHORT)
    other = PyBaMMCellSimulator(tmp_path / "c", seed=1).simulate(CellSpec("c2", TYPICAL), SHORT)
    np.testing.assert_array_equal(one.voltage_v, again.voltage_v)
    q_one, q_other = discharge_capacity_per_cycle(one), discharge_capacity_per_cycle(other)
    assert 0.001 < abs(q_one[0] / q_other[0] - 1.0) < 0.1


def test_cache_hit_is_identical_and_fast(simulator: PyBaMMCellSimulator) -> None:
    spec = CellSpec("cell-b", TYPICAL)
    longer = SHORT.model_copy(update={"cycles": 20})
    started = time.perf_counter()
    first = simulator.simulate(spec, longer)
    uncached = time.perf_counter() - started
    started = time.perf_counter()
    second = simulator.simulate(spec, longer)
    cached = time.perf_counter() - started
    for name in ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert cached < 0.05 and cached * 5 < uncached
    assert len(list(simulator.cache_dir.glob("*.npz"))) == 1


def test_corrupt_cache_is_rewritten(simulator: PyBaMMCellSimulator) -> None:
    spec = CellSpec("cell-c", TYPICAL)
    good = simulator.simulate(spec, SHORT)
    (path,) = simulator.cache_dir.glob("*.npz")
    path.write_bytes(b"not an npz file")
    again = simulator.simulate(spec, SHORT)
    np.testing.assert_array_equal(good.voltage_v, again.voltage_v)
    with np.load(path) as data:  # rewritten, readable again
        assert len(data["voltage_v"]) == len(good)


def test_simulate_cell_runs_in_a_spawned_process(tmp_path: Path) -> None:
    spec = CellSpec("cell-d", TYPICAL)
    local = simulate_cell(tmp_path, 3, spec, SHORT)
    pickle.dumps((simulate_cell, tmp_path, 3, spec, SHORT))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        remote = pool.submit(simulate_cell, tmp_path, 3, spec, SHORT).result(timeout=60)
    np.testing.assert_array_equal(local.current_a, remote.current_a)


def test_step_that_cannot_run_ends_the_trace_cleanly(simulator: PyBaMMCellSimulator) -> None:
    # The fresh cell rests at ~2.53 V, above v_max: the charge cannot start.
    impossible = GalvanostaticCycling(
        cycles=2, charge_c_rate=0.5, discharge_c_rate=1.0, v_min=2.0, v_max=2.4
    )
    trace = simulator.simulate(CellSpec("cell-e", TYPICAL), impossible)
    assert np.all(trace.voltage_v < 2.6)
    assert trace.cycle.max(initial=0) <= 2


def test_retention_falls_with_ni_and_improves_with_dopant() -> None:
    ni_low, ni_high = powder(0.5), powder(0.9)
    doped = powder(0.9, Dopant.AL, 0.02)
    assert retention_truth(ni_low) > retention_truth(ni_high) + 0.05
    assert retention_truth(doped) > retention_truth(ni_high) + 0.02
    # The same ordering straight from the model, without the table.
    protocol = GalvanostaticCycling(
        cycles=21, charge_c_rate=1 / 3, discharge_c_rate=1.0, v_min=2.5, v_max=4.2
    )
    fade = {}
    for name, descriptors in {"low": ni_low, "high": ni_high, "doped": doped}.items():
        trace = run_model(degradation_rates(descriptors), protocol, capacity_ah=1.0)
        q = discharge_capacity_per_cycle(trace)
        fade[name] = 1.0 - q[-1] / q[1]
    assert fade["low"] < fade["doped"] < fade["high"]


def test_retention_truth_matches_a_fresh_simulation() -> None:
    rng = np.random.default_rng(11)
    for _ in range(3):
        sei, lam, deff = (
            float(np.exp(rng.uniform(np.log(grid[1]), np.log(grid[-2]))))
            for grid in (SEI_GRID, LAM_GRID, EFFECTIVE_DIFFUSIVITY_GRID)
        )
        descriptors = CellDescriptors(170.0, sei, lam, deff, 1.0)
        fresh = simulated_retention_curve(degradation_rates(descriptors))
        assert retention_truth(descriptors) == pytest.approx(fresh[-1], abs=0.01)
        # Cubic interpolation error of the table: max ~1 % (measured), a little more mid-run.
        assert retention_truth(descriptors, 50) == pytest.approx(fresh[49], abs=0.015)


def test_retention_truth_clamps_and_refuses_bad_cycles() -> None:
    extreme = replace(TYPICAL, lam_rate_factor=1e4)
    assert 0.0 <= retention_truth(extreme) <= retention_truth(replace(TYPICAL, lam_rate_factor=55))
    with pytest.raises(ValueError, match="cycles"):
        retention_truth(TYPICAL, cycles=101)
