"""The fast-charge world: protocol stress, the cycle-life optimum and its consistency with the cell."""

from pathlib import Path

import numpy as np
import pydantic
import pytest

from voltlab.protocol.cycler import FastChargeCycling
from voltlab.simulated_hardware.world.cell_model import (
    NO_VARIATION,
    PyBaMMCellSimulator,
    discharge_capacity_per_cycle,
)
from voltlab.simulated_hardware.world.fast_charge import (
    CC_GRID,
    FIT_CYCLES,
    REFERENCE_DESCRIPTORS,
    STANDARD,
    cycle_life_from_capacities,
    cycle_life_truth,
    fast_charge_cell_spec,
    stress_multiplier,
)


def protocol(cc1: float, cc2: float, cycles: int = 1) -> FastChargeCycling:
    return STANDARD.model_copy(update={"cc1_c_rate": cc1, "cc2_c_rate": cc2, "cycles": cycles})


def test_infeasible_protocol_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="no time for CC3"):
        FastChargeCycling(cycles=10, cc1_c_rate=1.0, cc2_c_rate=2.0)


def test_stress_is_least_near_a_uniform_profile() -> None:
    assert stress_multiplier(protocol(5.4, 4.9)) == pytest.approx(1.0, abs=0.01)
    assert stress_multiplier(protocol(4.8, 4.8)) < 1.1
    assert stress_multiplier(protocol(3.0, 3.0)) > 4.0


def test_cycle_life_has_an_interior_optimum() -> None:
    grid = np.linspace(CC_GRID[0], CC_GRID[-1], 21)
    lives = np.array([[cycle_life_truth(protocol(a, b)) for b in grid] for a in grid])
    best = np.unravel_index(np.argmax(lives), lives.shape)
    assert 0 < best[0] < len(grid) - 1 and 0 < best[1] < len(grid) - 1
    assert cycle_life_truth(protocol(4.8, 4.8)) > 1.5 * cycle_life_truth(protocol(3.0, 3.0))
    assert cycle_life_truth(protocol(4.8, 4.8)) > cycle_life_truth(protocol(8.0, 3.0))
    assert 100 < lives.min() < 300 and 700 < lives.max() < 1500


def test_cycle_life_truth_refuses_untabulated_settings() -> None:
    with pytest.raises(ValueError, match="charge_time_min"):
        cycle_life_truth(STANDARD.model_copy(update={"charge_time_min": 12.0}))
    with pytest.raises(ValueError, match="cc1_c_rate"):
        cycle_life_truth(protocol(9.0, 4.0))


def test_cell_spec_carries_the_protocol_stress() -> None:
    calm = fast_charge_cell_spec("c1", protocol(4.8, 4.8)).descriptors
    harsh = fast_charge_cell_spec("c1", protocol(3.0, 3.0)).descriptors
    assert harsh.lam_rate_factor > 4 * calm.lam_rate_factor
    assert harsh.specific_capacity_mah_g == REFERENCE_DESCRIPTORS.specific_capacity_mah_g


def test_cycle_life_from_capacities_uses_crossing_or_power_law() -> None:
    n = np.arange(1, 201)
    crossing = 1.0 - 0.2 * (n / 150.0)  # hits 80 % at cycle 150
    assert cycle_life_from_capacities(crossing) == pytest.approx(150.0, abs=1.0)
    power = 1.0 - 0.2 * (n[:100] / 600.0) ** 0.8
    power[0] = 1.0  # retention is relative to cycle 1
    assert cycle_life_from_capacities(power) == pytest.approx(600.0, rel=0.01)


def test_streamed_cell_agrees_with_cycle_life_truth(tmp_path: Path) -> None:
    """What the cycler streams for a noise-free cell gives back the tabulated cycle life."""
    between_grid_points = protocol(4.5, 5.5, cycles=FIT_CYCLES)
    sim = PyBaMMCellSimulator(tmp_path, variation=NO_VARIATION)
    trace = sim.simulate(fast_charge_cell_spec("c1", between_grid_points), between_grid_points)
    capacities = discharge_capacity_per_cycle(trace)
    assert len(capacities) == FIT_CYCLES
    assert cycle_life_from_capacities(capacities) == pytest.approx(
        cycle_life_truth(between_grid_points), rel=0.03
    )


def test_power_law_extrapolation_matches_a_run_to_end_of_life(tmp_path: Path) -> None:
    """Run the shortest-lived corner until it actually reaches 80 % and compare."""
    harsh = protocol(3.0, 3.0)
    expected = cycle_life_truth(harsh)
    run = harsh.model_copy(update={"cycles": int(expected * 1.3)})
    sim = PyBaMMCellSimulator(tmp_path, variation=NO_VARIATION)
    capacities = discharge_capacity_per_cycle(sim.simulate(fast_charge_cell_spec("c1", run), run))
    assert np.min(capacities / capacities[0]) < 0.8
    assert cycle_life_from_capacities(capacities) == pytest.approx(expected, rel=0.1)
