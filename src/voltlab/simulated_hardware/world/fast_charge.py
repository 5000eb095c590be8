"""The fast-charge world: one reference cell, many charging protocols, cycle life as the outcome.

After Attia et al. (Nature 2020): a cell is charged from 0 to 80 % SOC in a fixed time with three
constant-current stages (CC1 0-20 %, CC2 20-40 %, CC3 40-80 %). Fast charging degrades the cell
through lithium plating and heat; both grow with current, and plating grows as the graphite fills
(its potential nears 0 V vs Li at high SOC). The stress of a protocol is modelled as

    S = sum_k w_k * dSOC_k * C_k**2,   w = (1.0, 1.3, 1.8) for the three stages,

Joule heat per unit charge (~C) times a plating propensity weighted towards high SOC. For a fixed
charge time a uniform profile minimises sum dSOC_k C_k**2; the SOC weights shift the optimum to a
slightly front-loaded profile (CC1 5.4C, CC2 4.9C, CC3 4.5C at 10 min), inside the CC1, CC2 box
[3, 8] C, as Attia's optimiser found. The stress multiplies the reference cell's SEI (lithium lost
to plating and SEI) and LAM (cracking) rates by ``(S / S_opt) ** STRESS_EXPONENT``; the PyBaMM
model then turns those rates into the capacity and voltage-curve evolution the cycler streams.

Cycle life (cycles to 80 % of the first cycle's discharge capacity, discharge = CC plus CV hold)
is too expensive to simulate for every query (up to ~1000 cycles), so ``cycle_life_truth`` reads
a committed table computed on a (CC1, CC2) grid at the standard settings: each entry simulates the
noise-free reference cell for FIT_CYCLES cycles and extrapolates the fitted power law
1 - Q_n/Q_1 = a * n**b to 20 % fade. Regenerate with
``python -m voltlab.simulated_hardware.world.fast_charge``.
"""

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from voltlab.protocol.cycler import FastChargeCycling
from voltlab.simulated_hardware.world.cell_descriptors import CellDescriptors
from voltlab.simulated_hardware.world.cell_model import (
    degradation_rates,
    discharge_capacity_per_cycle,
    run_model,
)
from voltlab.simulated_hardware.world.cell_types import CellSpec

logger = logging.getLogger(__name__)

# The reference cell: a well-made, rate-capable NMC (small particles: diffusion length 0.3 of the
# reference, so its positive solid diffusion time is ~11x shorter); 2.7 mAh coin cell.
REFERENCE_DESCRIPTORS = CellDescriptors(
    specific_capacity_mah_g=180.0,
    sei_rate_factor=0.9,
    lam_rate_factor=0.22,
    diffusivity_factor=1.0,
    diffusion_length_factor=0.3,
)
REFERENCE_CATHODE_MASS_G = 0.015
STAGE_SOC = (0.2, 0.2, 0.4)
STAGE_PLATING_WEIGHT = (1.0, 1.3, 1.8)
STRESS_EXPONENT = 1.25
# The standard campaign settings the cycle-life table was computed for.
STANDARD = FastChargeCycling(cycles=1, cc1_c_rate=4.8, cc2_c_rate=4.8)
CC_GRID = np.linspace(3.0, 8.0, 6)
FIT_CYCLES = 100
FIT_FIRST_CYCLE = 5
END_OF_LIFE = 0.8
TABLE_PATH = Path(__file__).parent / "data" / "cycle_life_table.npz"


def _rates(protocol: FastChargeCycling) -> tuple[float, float, float]:
    return protocol.cc1_c_rate, protocol.cc2_c_rate, protocol.cc3_c_rate()


def charge_stress(protocol: FastChargeCycling) -> float:
    """S = sum_k w_k dSOC_k C_k**2 of the protocol's three stages (C-rate squared)."""
    rates = _rates(protocol)
    return sum(
        w * soc * c**2 for w, soc, c in zip(STAGE_PLATING_WEIGHT, STAGE_SOC, rates, strict=True)
    )


def optimal_stress(charge_time_min: float) -> float:
    """The least stress any three-stage profile reaches in ``charge_time_min`` (Lagrange optimum).

    Minimising sum w_k q_k C_k**2 subject to sum q_k / C_k = T gives C_k proportional to
    w_k**(-1/3).
    """
    shape = np.array(STAGE_PLATING_WEIGHT) ** (-1.0 / 3.0)
    soc = np.array(STAGE_SOC)
    scale = float(np.sum(soc / shape)) / (charge_time_min / 60.0)
    rates = scale * shape
    return float(np.sum(np.array(STAGE_PLATING_WEIGHT) * soc * rates**2))


def stress_multiplier(protocol: FastChargeCycling) -> float:
    """Factor (>= 1) on the reference cell's SEI and LAM rates under ``protocol``."""
    ratio = charge_stress(protocol) / optimal_stress(protocol.charge_time_min)
    return ratio**STRESS_EXPONENT


def fast_charge_cell_spec(cell_id: str, protocol: FastChargeCycling) -> CellSpec:
    """The reference cell with its degradation rates raised by the protocol's charging stress."""
    m = stress_multiplier(protocol)
    d = REFERENCE_DESCRIPTORS
    descriptors = CellDescriptors(
        specific_capacity_mah_g=d.specific_capacity_mah_g,
        sei_rate_factor=d.sei_rate_factor * m,
        lam_rate_factor=d.lam_rate_factor * m,
        diffusivity_factor=d.diffusivity_factor,
        diffusion_length_factor=d.diffusion_length_factor,
    )
    return CellSpec(
        cell_id=cell_id, descriptors=descriptors, cathode_mass_g=REFERENCE_CATHODE_MASS_G
    )


def cycle_life_from_capacities(capacities: np.ndarray) -> float:
    """Cycles to END_OF_LIFE of the first cycle's capacity: the crossing if the data reach it,
    otherwise the power law 1 - Q_n/Q_1 = a n**b fitted from cycle FIT_FIRST_CYCLE on."""
    retention = capacities / capacities[0]
    below = np.flatnonzero(retention < END_OF_LIFE)
    if len(below):
        n = below[0]  # 0-based index of the first cycle under the limit; interpolate the crossing
        r0, r1 = retention[n - 1], retention[n]
        return float(n + (r0 - END_OF_LIFE) / (r0 - r1))
    cycles = np.arange(1, len(retention) + 1)[FIT_FIRST_CYCLE - 1 :]
    fade = 1.0 - retention[FIT_FIRST_CYCLE - 1 :]
    b, log_a = np.polyfit(np.log(cycles), np.log(np.maximum(fade, 1e-9)), 1)
    return float(((1.0 - END_OF_LIFE) / np.exp(log_a)) ** (1.0 / b))


def simulated_cycle_life(protocol: FastChargeCycling) -> float:
    """Cycle life of the noise-free reference cell under ``protocol`` from FIT_CYCLES cycles."""
    spec = fast_charge_cell_spec("reference", protocol)
    run = protocol.model_copy(update={"cycles": FIT_CYCLES})
    trace = run_model(degradation_rates(spec.descriptors), run, spec.nominal_capacity_ah)
    return cycle_life_from_capacities(discharge_capacity_per_cycle(trace))


def _grid_point(rates: tuple[float, float]) -> float:
    protocol = STANDARD.model_copy(update={"cc1_c_rate": rates[0], "cc2_c_rate": rates[1]})
    return simulated_cycle_life(protocol)


def generate_table(path: Path = TABLE_PATH, workers: int = 2) -> None:
    """Simulate every (CC1, CC2) grid point in spawned workers and write the table atomically."""
    points = [(c1, c2) for c1 in CC_GRID for c2 in CC_GRID]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        lives = list(pool.map(_grid_point, points))
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, cc1=CC_GRID, cc2=CC_GRID, cycle_life=np.array(lives).reshape(len(CC_GRID), -1)
    )
    tmp.replace(path)


@cache
def _interpolator() -> RegularGridInterpolator:
    with np.load(TABLE_PATH) as table:
        return RegularGridInterpolator(
            (table["cc1"], table["cc2"]), np.log(table["cycle_life"]), method="cubic"
        )


def cycle_life_truth(protocol: FastChargeCycling) -> float:
    """Noise-free cycle life (cycles to 80 % capacity) of the reference cell under ``protocol``.

    Defined for the standard settings (charge time, discharge rate, voltage window, rests) with
    CC1 and CC2 within the tabulated box; anything else is refused rather than extrapolated.
    """
    fixed = ("charge_time_min", "discharge_c_rate", "v_min", "v_max", "rest_min")
    for name in fixed:
        if getattr(protocol, name) != getattr(STANDARD, name):
            raise ValueError(
                f"cycle_life_truth is tabulated for {name}={getattr(STANDARD, name)}, "
                f"got {getattr(protocol, name)}"
            )
    for name in ("cc1_c_rate", "cc2_c_rate"):
        value = getattr(protocol, name)
        if not CC_GRID[0] <= value <= CC_GRID[-1]:
            raise ValueError(
                f"{name}={value} is outside the tabulated {CC_GRID[0]}-{CC_GRID[-1]} C"
            )
    return float(np.exp(_interpolator()([protocol.cc1_c_rate, protocol.cc2_c_rate])[0]))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    started = time.perf_counter()
    generate_table()
    logger.info("wrote %s in %.0f s", TABLE_PATH, time.perf_counter() - started)
