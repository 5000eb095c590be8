"""Product -> the handful of numbers a cell model needs, and the material cost of a recipe.

The cell model (PyBaMM) is parameterised from these descriptors only, so the mapping from
chemistry to electrochemistry lives here, in one readable place:

- specific capacity rises with Ni (more Ni3+/Ni4+ redox below 4.3 V), falls with cation mixing
  (Ni on Li sites blocks Li paths), inactive dopant, coarse crystallites (diffusion-limited
  utilisation) and impurity phases (they store no charge);
- SEI / side-reaction rate rises with surface area (small crystallites), residual Li2CO3 and Ni
  content (electrolyte oxidation on Ni4+);
- loss-of-active-material rate (particle cracking from the H2-H3 collapse of Ni-rich layers) rises
  steeply above Ni 0.5, with cation mixing and with coarse grains, and falls with Al/Mg/Ti
  doping and with Mn;
- solid diffusivity falls with cation mixing; the diffusion length grows with crystallite size.
"""

import math
from dataclasses import dataclass

from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.product import Product

# Retention improvement per 1 % of dissolved dopant (divides the LAM rate by 1 + k * effect).
DOPANT_LAM_RELIEF_PER_PERCENT = {Dopant.NONE: 0.0, Dopant.AL: 0.45, Dopant.MG: 0.35, Dopant.TI: 0.3}

DOPANT_SATURATION = 0.02

# Raw-material prices, USD per kg of element (Li as lithium carbonate equivalent per kg of Li).
PRICE_USD_PER_KG = {"Ni": 16.0, "Mn": 2.5, "Co": 50.0, "Li": 40.0, "Al": 2.5, "Mg": 3.0, "Ti": 12.0}
ATOMIC_MASS = {
    "Li": 6.94,
    "Ni": 58.69,
    "Mn": 54.94,
    "Co": 58.93,
    "O": 16.0,
    "Al": 26.98,
    "Mg": 24.31,
    "Ti": 47.87,
}
# Furnace energy and occupancy cost, USD per kg per (1000 C x h) above room temperature.
FIRING_COST_USD_PER_KG_PER_KILO_DEGREE_HOUR = 0.12


@dataclass(frozen=True)
class CellDescriptors:
    """What the cell model needs to know about a cathode powder.

    ``specific_capacity_mah_g`` is the C/10 discharge capacity (2.8-4.3 V) per gram of powder;
    the factors multiply the reference cell's SEI rate, LAM rate and positive solid diffusivity.
    """

    specific_capacity_mah_g: float
    sei_rate_factor: float
    lam_rate_factor: float
    diffusivity_factor: float
    diffusion_length_factor: float


def cell_descriptors(product: Product) -> CellDescriptors:
    size = product.crystallite_size_nm
    layered_capacity = (150.0 + 85.0 * product.ni) * (1.0 - 2.5 * product.cation_mixing)
    utilisation = 1.0 / (1.0 + (size / 700.0) ** 2)
    capacity = (
        layered_capacity
        * (1.0 - 1.2 * product.dopant_fraction)
        * utilisation
        * product.layered_fraction
    )
    sei = (
        (60.0 / size) ** 0.35
        * (1.0 + 8.0 * product.li2co3_fraction + 3.0 * product.rocksalt_fraction)
        * (1.0 + 1.5 * product.ni**2)
    )
    relief = 1.0 + DOPANT_LAM_RELIEF_PER_PERCENT[product.dopant] * dopant_effect_percent(
        product.dopant_fraction
    )
    lam = (
        (0.3 + 6.0 * max(0.0, product.ni - 0.5) ** 2)
        * (1.0 + 10.0 * product.cation_mixing)
        * (1.0 + (size / 150.0) ** 2)
        * (1.0 - 0.4 * product.mn)
        / relief
        * (1.0 + 0.5 * product.rocksalt_fraction / 0.05)
    )
    return CellDescriptors(
        specific_capacity_mah_g=capacity,
        sei_rate_factor=sei,
        lam_rate_factor=lam,
        diffusivity_factor=1.0 / (1.0 + 10.0 * product.cation_mixing),
        diffusion_length_factor=(max(size, 20.0) / 100.0) ** 0.5,
    )


def dopant_effect_percent(dopant_fraction: float) -> float:
    """Effective stabilising dopant, in percent: linear at low doping, peaking at 2 % on the M
    site; beyond that the dopant segregates to grain boundaries and helps less."""
    return 100.0 * dopant_fraction * math.e * math.exp(-dopant_fraction / DOPANT_SATURATION)


def material_cost_usd_per_kg(recipe: Recipe) -> float:
    """Raw-material plus firing cost of one kg of Li(1+x)(NiMnCo)(1-d)D(d)O2 powder, USD/kg."""
    metal = 1.0 - recipe.dopant_fraction
    moles = {
        "Li": 1.0 + recipe.li_excess,
        "Ni": recipe.ni * metal,
        "Mn": recipe.mn * metal,
        "Co": recipe.co * metal,
    }
    if recipe.dopant is not Dopant.NONE:
        moles[recipe.dopant.value] = recipe.dopant_fraction
    formula_mass = sum(n * ATOMIC_MASS[el] for el, n in moles.items()) + 2 * ATOMIC_MASS["O"]
    material = sum(n * ATOMIC_MASS[el] * PRICE_USD_PER_KG[el] for el, n in moles.items())
    firing = (
        FIRING_COST_USD_PER_KG_PER_KILO_DEGREE_HOUR
        * (recipe.calcination_temperature_c - 25.0)
        / 1000.0
        * recipe.calcination_time_h
    )
    return material / formula_mass + firing
