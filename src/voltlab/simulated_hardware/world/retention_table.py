"""Noise-free capacity retention of any powder, from a committed table of PyBaMM runs.

Benchmarks need the true retention of thousands of recipes to draw the true Pareto front; running
PyBaMM for each would take hours, so the retention curve of the standard protocol is tabulated once
on a grid and interpolated (cubic, in log space of the descriptors; clamped outside the grid).

Retention depends on three numbers: the SEI and LAM rate factors and the effective positive
diffusivity ``diffusivity_factor / diffusion_length_factor**2`` (the model sees the diffusion length
only through R**2/D, see ``pybamm_setup``). The grid covers what the recipe box produces (sampled
over Ni 0.3-0.95, 650-1000 C, 2-24 h, Li excess 0-0.1, every dopant 0-3 %).

Regenerate (about 5 min on 2 cores) with ``python -m voltlab.simulated_hardware.world.retention_table``.
"""

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from voltlab.protocol.cycler import GalvanostaticCycling
from voltlab.simulated_hardware.world.cell_descriptors import CellDescriptors
from voltlab.simulated_hardware.world.cell_model import discharge_capacity_per_cycle, run_model
from voltlab.simulated_hardware.world.pybamm_setup import DegradationRates

logger = logging.getLogger(__name__)

TABLE_PATH = Path(__file__).parent / "data" / "retention_table.npz"
STANDARD_CYCLES = 100
# The standard retention test: one C/10 formation cycle, then 100 cycles of C/3 CC-CV charge to
# 4.2 V (CV to C/20), 1C discharge to 2.5 V, 10 min rests. Retention after n cycles is the
# discharge capacity of the n-th standard cycle over that of the first standard cycle.
STANDARD_PROTOCOL = GalvanostaticCycling(
    cycles=1 + STANDARD_CYCLES,
    charge_c_rate=1.0 / 3.0,
    discharge_c_rate=1.0,
    v_min=2.5,
    v_max=4.2,
    cv_cutoff_c_rate=0.05,
    rest_min=10.0,
    formation_cycles=1,
    formation_c_rate=0.1,
)
SEI_GRID = np.geomspace(0.4, 20.0, 9)
LAM_GRID = np.geomspace(0.1, 55.0, 12)
EFFECTIVE_DIFFUSIVITY_GRID = np.geomspace(0.08, 5.0, 5)


def effective_diffusivity(descriptors: CellDescriptors) -> float:
    return descriptors.diffusivity_factor / descriptors.diffusion_length_factor**2


def simulated_retention_curve(rates: DegradationRates) -> np.ndarray:
    """Retention after 1..STANDARD_CYCLES standard cycles of a noise-free cell, fractions."""
    trace = run_model(rates, STANDARD_PROTOCOL, capacity_ah=1.0)
    capacities = np.zeros(STANDARD_PROTOCOL.cycles)
    measured = discharge_capacity_per_cycle(trace)
    capacities[: len(measured)] = measured
    standard = capacities[STANDARD_PROTOCOL.formation_cycles :]
    return standard / standard[0] if standard[0] > 0 else np.zeros(STANDARD_CYCLES)


def _grid_point(point: tuple[float, float, float]) -> np.ndarray:
    sei, lam, diffusivity = point
    return simulated_retention_curve(DegradationRates(sei, lam, diffusivity, 1.0))


def generate_table(path: Path = TABLE_PATH, workers: int = 2) -> None:
    """Run every grid point (spawned worker processes) and write the table atomically."""
    points = [(s, lam, d) for s in SEI_GRID for lam in LAM_GRID for d in EFFECTIVE_DIFFUSIVITY_GRID]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        curves = list(pool.map(_grid_point, points, chunksize=4))
    shape = (len(SEI_GRID), len(LAM_GRID), len(EFFECTIVE_DIFFUSIVITY_GRID), STANDARD_CYCLES)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        sei=SEI_GRID,
        lam=LAM_GRID,
        effective_diffusivity=EFFECTIVE_DIFFUSIVITY_GRID,
        retention=np.array(curves).reshape(shape),
    )
    tmp.replace(path)


@cache
def _interpolator(cycles: int) -> RegularGridInterpolator:
    """Cubic interpolator of retention after ``cycles`` over log(sei, lam, effective diffusivity)."""
    with np.load(TABLE_PATH) as table:
        axes = tuple(np.log(table[name]) for name in ("sei", "lam", "effective_diffusivity"))
        values = table["retention"][..., cycles - 1]
    return RegularGridInterpolator(axes, values, method="cubic")


def retention_truth(descriptors: CellDescriptors, cycles: int = STANDARD_CYCLES) -> float:
    """Noise-free retention (fraction 0-1) after ``cycles`` standard cycles (1-100)."""
    if not 1 <= cycles <= STANDARD_CYCLES:
        raise ValueError(f"cycles must be within 1-{STANDARD_CYCLES}, got {cycles}")
    interpolator = _interpolator(cycles)
    coordinates = (
        descriptors.sei_rate_factor,
        descriptors.lam_rate_factor,
        effective_diffusivity(descriptors),
    )
    point = [
        float(np.clip(np.log(value), axis[0], axis[-1]))
        for value, axis in zip(coordinates, interpolator.grid, strict=True)
    ]
    return float(np.clip(interpolator(point)[0], 0.0, 1.0))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    started = time.perf_counter()
    generate_table()
    logger.info("wrote %s in %.0f s", TABLE_PATH, time.perf_counter() - started)
