"""Simulated fast-charge cells with known cycle life, for training and testing early-life models.

Each cell is the fast-charge world's reference cell (with its cell-to-cell spread drawn from the
world seed and the cell id) under a (CC1, CC2) protocol drawn by Latin hypercube over the
tabulated [3, 8] C box; its truth is ``cycle_life_truth`` of the protocol (noise-free reference
cell, so the spread of a real cell around it is part of the error budget). Traces are simulated
in a 2-process pool and cached under ``benchmarks/.cache/cycling`` so reruns take seconds.
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import qmc

from voltlab.analysis.cycling import CyclingPoints
from voltlab.protocol.cycler import FastChargeCycling
from voltlab.simulated_hardware.world.cell_model import simulate_cell
from voltlab.simulated_hardware.world.cell_types import CellTrace
from voltlab.simulated_hardware.world.fast_charge import (
    CC_GRID,
    cycle_life_truth,
    fast_charge_cell_spec,
)

CACHE_DIR = Path(__file__).parent / ".cache" / "cycling"
WORLD_SEED = 0
CYCLES = 100
# 4C discharges last ~14 min: 10 s sampling gives ~80 points on the discharge curve (30 s: ~29).
SAMPLE_PERIOD_S = 10.0


@dataclass(frozen=True)
class SimulatedCell:
    cell_id: str
    protocol: FastChargeCycling
    cycle_life: float
    trace: CellTrace


def design(
    prefix: str, n: int, seed: int, cycles: int = CYCLES
) -> list[tuple[str, FastChargeCycling]]:
    """``n`` (cell id, protocol) pairs, (CC1, CC2) on a Latin hypercube over the tabulated box."""
    unit = qmc.LatinHypercube(d=2, seed=seed).random(n)
    rates = qmc.scale(unit, [CC_GRID[0]] * 2, [CC_GRID[-1]] * 2)
    return [
        (
            f"{prefix}-{k:03d}",
            FastChargeCycling(cycles=cycles, cc1_c_rate=round(c1, 3), cc2_c_rate=round(c2, 3)),
        )
        for k, (c1, c2) in enumerate(rates)
    ]


def _simulate(
    item: tuple[str, FastChargeCycling], cache_dir: Path, period_s: float
) -> SimulatedCell:
    cell_id, protocol = item
    spec = fast_charge_cell_spec(cell_id, protocol)
    trace = simulate_cell(cache_dir, WORLD_SEED, spec, protocol, period_s)
    return SimulatedCell(cell_id, protocol, cycle_life_truth(protocol), trace)


def simulate_cells(
    items: list[tuple[str, FastChargeCycling]],
    workers: int = 2,
    cache_dir: Path = CACHE_DIR,
    period_s: float = SAMPLE_PERIOD_S,
) -> list[SimulatedCell]:
    """Simulate (or load from the cache) every cell, in order, in a ``workers``-process pool."""
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(_simulate, item, cache_dir, period_s) for item in items]
        return [f.result() for f in futures]


def points_of(trace: CellTrace) -> CyclingPoints:
    return CyclingPoints(trace.time_s, trace.voltage_v, trace.current_a, trace.cycle)
