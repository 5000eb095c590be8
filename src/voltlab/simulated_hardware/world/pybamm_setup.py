"""The PyBaMM model behind every simulated cell: one SPM, built once per experiment shape.

Model: single-particle model (Chen2020 NMC811/graphite parameters) with solvent-diffusion-limited
SEI growth on the negative electrode (loss of lithium inventory) and current-driven loss of active
material in the positive electrode (particle cracking). Chen2020's reaction-driven LAM acts only
through the SEI current, so it cannot touch the positive electrode; the current-driven option can.
Both change the shape of the discharge curve (electrode stoichiometry windows slide), not just its
length, which early-life prediction from dQ(V) relies on.

Per-cell numbers are PyBaMM ``[input]`` parameters, so one discretised model serves every cell:

- ``SEI solvent diffusivity = SEI_DIFFUSIVITY_M2_S * sei_rate_factor**2``: diffusion-limited SEI
  loss grows as sqrt(D t), so squaring the factor makes the lithium lost proportional to it;
- ``LAM rate = LAM_RATE_PER_A_M2_S * lam_rate_factor``, the positive volume fraction lost per second
  per A/m2 of applied current density;
- ``Positive particle diffusivity = POSITIVE_DIFFUSIVITY_M2_S * diffusivity_factor /
  diffusion_length_factor**2``: PyBaMM cannot take the particle radius as an input (it sets the
  mesh), so the diffusion length enters through the characteristic time R**2/D it controls.

The model cell is Chen2020's 5 Ah pouch; a 1-D model scales exactly with electrode area, so the
coin cell's currents and capacities are the model's multiplied by nominal / MODEL_CAPACITY_AH.
"""

import logging
from collections import OrderedDict
from dataclasses import dataclass

import pybamm

logger = logging.getLogger(__name__)

# The model cell's C/10 discharge capacity 2.5-4.2 V at the reference diffusivity, A h (measured;
# tests check it). C-rates in experiments are taken relative to this value.
MODEL_CAPACITY_AH = 5.10
SEI_DIFFUSIVITY_M2_S = 1.7e-20
LAM_RATE_PER_A_M2_S = 2.6e-9
POSITIVE_DIFFUSIVITY_M2_S = 5.0e-15

SEI_INPUT = "SEI solvent diffusivity [m2.s-1]"
DIFFUSIVITY_INPUT = "Positive particle diffusivity [m2.s-1]"
LAM_INPUT = "Positive LAM rate [s-1.m2.A-1]"

MAX_BUILT_SIMULATIONS = 12


@dataclass(frozen=True)
class DegradationRates:
    """Multipliers of the reference cell's rates (1.0 = reference), after any protocol stress."""

    sei: float
    lam: float
    diffusivity: float
    diffusion_length: float

    def inputs(self) -> dict[str, float]:
        return {
            SEI_INPUT: SEI_DIFFUSIVITY_M2_S * self.sei**2,
            LAM_INPUT: LAM_RATE_PER_A_M2_S * self.lam,
            DIFFUSIVITY_INPUT: POSITIVE_DIFFUSIVITY_M2_S
            * self.diffusivity
            / self.diffusion_length**2,
        }


def _positive_lam_rate(current_density_a_m2: pybamm.Symbol, temperature_k: pybamm.Symbol):
    """d(eps_s)/dt of the positive electrode, 1/s: proportional to |applied current density|."""
    return -pybamm.InputParameter(LAM_INPUT) * abs(current_density_a_m2)


def _parameter_values() -> pybamm.ParameterValues:
    values = pybamm.ParameterValues("Chen2020")
    values.set_initial_state(0.0)  # a freshly assembled cell is fully discharged
    values.update(
        {
            "Nominal cell capacity [A.h]": MODEL_CAPACITY_AH,
            SEI_INPUT: "[input]",
            DIFFUSIVITY_INPUT: "[input]",
            "Positive electrode current-driven LAM rate": _positive_lam_rate,
        },
        check_already_exists=False,
    )
    return values


def _model() -> pybamm.BaseModel:
    # A fresh options dict every time: PyBaMM mutates the one it is given.
    options = {
        "SEI": "solvent-diffusion limited",
        "loss of active material": ("none", "current-driven"),
    }
    return pybamm.lithium_ion.SPM(options)


# Experiment shape (the cycle's step strings, number of cycles, period) -> built simulation.
_SIMULATIONS: OrderedDict[tuple[tuple[str, ...], int, float], pybamm.Simulation] = OrderedDict()


def simulation(steps: tuple[str, ...], cycles: int, period_s: float) -> pybamm.Simulation:
    """A simulation running ``cycles`` repeats of ``steps``, built once per process and shape."""
    key = (steps, cycles, period_s)
    sim = _SIMULATIONS.get(key)
    if sim is None:
        logger.debug("building PyBaMM simulation for %d x %s", cycles, steps)
        experiment = pybamm.Experiment([steps] * cycles, period=f"{period_s} seconds")
        sim = pybamm.Simulation(
            _model(),
            parameter_values=_parameter_values(),
            experiment=experiment,
            solver=pybamm.IDAKLUSolver(),
        )
        _SIMULATIONS[key] = sim
        if len(_SIMULATIONS) > MAX_BUILT_SIMULATIONS:
            _SIMULATIONS.popitem(last=False)
    else:
        _SIMULATIONS.move_to_end(key)
    return sim
