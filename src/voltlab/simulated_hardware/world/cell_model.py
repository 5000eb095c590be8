"""The simulated cell: PyBaMM physics, cell-to-cell variation, instrument sampling and a disk cache.

``PyBaMMCellSimulator.simulate(spec, protocol)`` returns what a cycler channel would record for
the whole protocol. The cycler server streams it under its own time acceleration and calls
``simulate_cell`` in a process pool (the function and its arguments pickle).

Limits: a protocol is solved in blocks of 50 cycles, so memory stays bounded; time grows linearly
(about 1.5-2 s per 100 galvanostatic cycles on one core). If PyBaMM cannot run a step (a cut-off
reached before the step starts, a solver failure) the trace ends with the last complete cycle.
"""

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pybamm

from voltlab.protocol.cycler import CyclingProtocol
from voltlab.simulated_hardware.world.cell_cache import cache_key, load_trace, save_trace
from voltlab.simulated_hardware.world.cell_descriptors import CellDescriptors
from voltlab.simulated_hardware.world.cell_types import CellSpec, CellTrace
from voltlab.simulated_hardware.world.experiment_steps import protocol_blocks
from voltlab.simulated_hardware.world.pybamm_setup import (
    MODEL_CAPACITY_AH,
    DegradationRates,
    simulation,
)

logger = logging.getLogger(__name__)

# Bump when the physics or the sampling changes, so stale cache files are not reused.
MODEL_VERSION = "spm-chen2020-sei-lam-1"
DEFAULT_SAMPLE_PERIOD_S = 30.0


@dataclass(frozen=True)
class CellVariation:
    """Cell-to-cell spread (log-normal sigmas): electrode loading and degradation rates."""

    capacity: float = 0.015
    sei: float = 0.05
    lam: float = 0.05


NO_VARIATION = CellVariation(0.0, 0.0, 0.0)


def _cell_rng(seed: int, cell_id: str) -> np.random.Generator:
    digest = hashlib.sha256(cell_id.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def degradation_rates(descriptors: CellDescriptors) -> DegradationRates:
    return DegradationRates(
        sei=descriptors.sei_rate_factor,
        lam=descriptors.lam_rate_factor,
        diffusivity=descriptors.diffusivity_factor,
        diffusion_length=descriptors.diffusion_length_factor,
    )


def run_model(
    rates: DegradationRates,
    protocol: CyclingProtocol,
    capacity_ah: float,
    sample_period_s: float = DEFAULT_SAMPLE_PERIOD_S,
) -> CellTrace:
    """Solve ``protocol`` for a cell of true C/10 capacity ``capacity_ah`` (A h), noise-free."""
    scale = capacity_ah / MODEL_CAPACITY_AH
    inputs = rates.inputs()
    parts: list[dict[str, np.ndarray]] = []
    cycle_offset = 0
    last_state = None
    t_start = None
    for block in protocol_blocks(protocol):
        sim = simulation(block.steps, block.cycles, sample_period_s)
        try:
            solution = sim.solve(inputs=inputs, calc_esoh=False, starting_solution=last_state)
        except pybamm.SolverError as exc:
            logger.warning("cell model stopped after cycle %d: %s", cycle_offset, exc)
            break
        cycles = solution.cycles[1:] if last_state is not None else solution.cycles
        complete = [c for c in cycles if len(c.steps) == len(block.steps)]
        if t_start is None:
            t_start = float(solution.t[0])
        parts.extend(_sample(solution, complete, cycle_offset, sample_period_s, t_start))
        cycle_offset += len(complete)
        if len(complete) < block.cycles:
            logger.warning(
                "cell model stopped after cycle %d: %s", cycle_offset, solution.termination
            )
            break
        last_state = solution.last_state
    return _assemble(parts, scale, capacity_ah)


def _sample(
    solution: pybamm.Solution,
    cycles: list[pybamm.Solution],
    cycle_offset: int,
    period_s: float,
    t_start: float,
) -> list[dict[str, np.ndarray]]:
    """Resample each step of ``cycles`` at the instrument period, keeping its first/last point."""
    t_all = solution.t
    voltage = solution["Voltage [V]"].entries
    current = solution["Current [A]"].entries
    charge = solution["Discharge capacity [A.h]"].entries
    offsets = _step_offsets(solution)
    parts = []
    for number, cycle in enumerate(cycles, start=cycle_offset + 1):
        for index, step in enumerate(cycle.steps):
            if isinstance(step, pybamm.EmptySolution):
                continue  # PyBaMM skipped the step: its cut-off held before it began
            lo = offsets[id(step)]
            t = t_all[lo : lo + len(step.t)]
            grid = np.arange(t[0], t[-1], period_s) if t[-1] > t[0] else t[:1]
            if t[-1] - grid[-1] > 1e-6:
                grid = np.append(grid, t[-1])
            q = charge[lo : lo + len(step.t)]
            parts.append(
                {
                    "time_s": grid - t_start,
                    "voltage_v": np.interp(grid, t, voltage[lo : lo + len(step.t)]),
                    "current_a": np.interp(grid, t, current[lo : lo + len(step.t)]),
                    "capacity_ah": np.abs(np.interp(grid, t, q) - q[0]),
                    "cycle": np.full(len(grid), number, dtype=np.int32),
                    "step": np.full(len(grid), index, dtype=np.int32),
                }
            )
    return parts


def _step_offsets(solution: pybamm.Solution) -> dict[int, int]:
    """Index of each step's first point in the solution's concatenated arrays."""
    offsets = {}
    position = 0
    for cycle in solution.cycles:
        for step in cycle.steps:
            if isinstance(step, pybamm.EmptySolution):
                continue
            offsets[id(step)] = position
            position += len(step.t)
    if position != len(solution.t):
        raise RuntimeError(f"step points ({position}) do not add up to {len(solution.t)}")
    return offsets


def _assemble(parts: list[dict[str, np.ndarray]], scale: float, capacity_ah: float) -> CellTrace:
    def column(name: str, dtype: type) -> np.ndarray:
        if not parts:
            return np.empty(0, dtype=dtype)
        return np.concatenate([p[name] for p in parts]).astype(dtype)

    return CellTrace(
        time_s=column("time_s", np.float64),
        voltage_v=column("voltage_v", np.float64),
        current_a=column("current_a", np.float64) * scale,
        capacity_ah=column("capacity_ah", np.float64) * scale,
        cycle=column("cycle", np.int32),
        step=column("step", np.int32),
        nominal_capacity_ah=capacity_ah,
    )


def discharge_capacity_per_cycle(trace: CellTrace) -> np.ndarray:
    """Charge delivered (A h) in each cycle's discharge steps (CC and any CV hold), cycle 1 first.

    A cycle missing from the trace (the cell stopped early) counts as 0.
    """
    if not len(trace):
        return np.zeros(0)
    totals = np.zeros(int(trace.cycle.max()))
    changes = (np.diff(trace.cycle) != 0) | (np.diff(trace.step) != 0)
    ends = np.append(np.flatnonzero(changes), len(trace) - 1)
    ends = ends[trace.current_a[ends] > 0]
    np.add.at(totals, trace.cycle[ends] - 1, trace.capacity_ah[ends])
    return totals


class PyBaMMCellSimulator:
    """CellSimulator backed by PyBaMM, caching every trace under ``cache_dir``.

    ``seed`` and the cell id draw the cell-to-cell variation, so a cell is the same cell every
    time it is simulated.
    """

    def __init__(
        self,
        cache_dir: Path,
        seed: int = 0,
        variation: CellVariation = CellVariation(),
        sample_period_s: float = DEFAULT_SAMPLE_PERIOD_S,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.seed = seed
        self.variation = variation
        self.sample_period_s = sample_period_s

    def simulate(self, spec: CellSpec, protocol: CyclingProtocol) -> CellTrace:
        key = cache_key(
            spec, protocol, self.seed, self.sample_period_s, f"{MODEL_VERSION}:{self.variation}"
        )
        path = self.cache_dir / f"{key}.npz"
        trace = load_trace(path)
        if trace is None:
            trace = self._run(spec, protocol)
            save_trace(path, trace)
        return trace

    def _run(self, spec: CellSpec, protocol: CyclingProtocol) -> CellTrace:
        rng = _cell_rng(self.seed, spec.cell_id)
        spread = rng.normal(0.0, 1.0, 3)
        v = self.variation
        rates = degradation_rates(spec.descriptors)
        rates = replace(
            rates,
            sei=rates.sei * float(np.exp(v.sei * spread[1])),
            lam=rates.lam * float(np.exp(v.lam * spread[2])),
        )
        capacity = spec.nominal_capacity_ah * float(np.exp(v.capacity * spread[0]))
        trace = run_model(rates, protocol, capacity, self.sample_period_s)
        # The instrument knows the cell's nominal (label) capacity, not its true one.
        return replace(trace, nominal_capacity_ah=spec.nominal_capacity_ah)


def simulate_cell(
    cache_dir: Path,
    seed: int,
    spec: CellSpec,
    protocol: CyclingProtocol,
    sample_period_s: float = DEFAULT_SAMPLE_PERIOD_S,
) -> CellTrace:
    """Module-level entry point for ``ProcessPoolExecutor.submit`` (everything here pickles)."""
    simulator = PyBaMMCellSimulator(cache_dir, seed, sample_period_s=sample_period_s)
    return simulator.simulate(spec, protocol)
