"""Recipe -> product: what a calcination actually makes, in the simulated cathode world.

Smooth, physically motivated functions (not a fit to data) chosen so that every objective has its
optimum inside the recipe box and the objectives trade off:

- layered R-3m formation follows first-order Arrhenius kinetics in time; what has not reacted
  stays as Li2CO3 plus precursor;
- lithium volatilises, e-fold faster every 100 C; a lithium deficit and over-firing reduce Ni3+ to Ni2+, which
  goes to Li sites (cation mixing) and, beyond that, forms a rock-salt NiO-like phase;
  excess lithium beyond what the lattice takes stays as surface Li2CO3;
- the Ni-rich materials want lower temperatures (T_opt falls ~190 C from NMC111 to LiNiO2);
- lattice a and c follow Vegard's law between LiNiO2, LiCoO2 and an effective Ni/Mn end member,
  with cation mixing and dopants as small corrections;
- crystallites grow parabolically with time, Arrhenius in temperature.

Batch-to-batch noise is drawn from a generator the caller seeds (per job), so the same job id
always makes the same powder while two batches of one recipe differ a little.
"""

import math
from dataclasses import dataclass, replace

import numpy as np

from voltlab.protocol import Dopant, Recipe

GAS_CONSTANT = 8.314  # J/(mol K)

# End members of the layered solid solution: (a, c) in Angstrom.
LATTICE_END_MEMBERS = {"ni": (2.878, 14.190), "co": (2.816, 14.050), "mn": (2.885, 14.360)}
# Change of (a, c) per unit dopant fraction on the M site, Angstrom.
DOPANT_LATTICE_SHIFT = {
    Dopant.NONE: (0.0, 0.0),
    Dopant.AL: (-0.40, -0.20),
    Dopant.MG: (0.30, 0.50),
    Dopant.TI: (0.35, 0.60),
}
# Change of (a, c) per unit cation mixing (fraction of Li sites holding Ni), Angstrom.
MIXING_LATTICE_SHIFT = (0.10, -0.40)


@dataclass(frozen=True)
class Product:
    """A calcined powder. Fractions are weight fractions summing to 1; sizes in nm; lattice in A."""

    layered_fraction: float
    rocksalt_fraction: float
    li2co3_fraction: float
    cation_mixing: float
    """Fraction of Li sites occupied by Ni (0.02 = 2 %)."""
    lattice_a: float
    lattice_c: float
    crystallite_size_nm: float
    ni: float
    mn: float
    co: float
    dopant: Dopant
    dopant_fraction: float


def optimal_temperature_c(ni: float) -> float:
    """Calcination temperature that gives the best-ordered layered phase for a Ni fraction."""
    return 920.0 - 280.0 * (ni - 1.0 / 3.0)


def conversion(recipe: Recipe) -> float:
    """Fraction of precursor turned into the layered oxide (first-order, Arrhenius, Ea 120 kJ/mol)."""
    t_k = recipe.calcination_temperature_c + 273.15
    rate_per_h = 0.55 * math.exp(-120e3 / GAS_CONSTANT * (1.0 / t_k - 1.0 / (750.0 + 273.15)))
    return 1.0 - math.exp(-rate_per_h * recipe.calcination_time_h)


def lithium_loss(recipe: Recipe) -> float:
    """Lithium lost by volatilisation (fraction of stoichiometric Li): ~1 % at 800 C for 10 h,
    rising e-fold every 100 C, more for Ni-rich melts."""
    thermal = math.exp((recipe.calcination_temperature_c - 800.0) / 100.0)
    return 0.01 * thermal * math.sqrt(recipe.calcination_time_h / 10.0) * (1.0 + 0.6 * recipe.ni)


def over_firing(recipe: Recipe) -> float:
    """Degrees above the composition's optimal temperature, scaled to ~1 at 100 C over."""
    return max(0.0, recipe.calcination_temperature_c - optimal_temperature_c(recipe.ni)) / 100.0


def under_firing(recipe: Recipe) -> float:
    """Degrees below the optimal temperature, scaled to ~1 at 100 C under."""
    return max(0.0, optimal_temperature_c(recipe.ni) - recipe.calcination_temperature_c) / 100.0


def crystallite_size_nm(recipe: Recipe) -> float:
    """Parabolic grain growth D^2 = D0^2 + k t with Arrhenius k (Ea 150 kJ/mol); dopants pin grains."""
    t_k = recipe.calcination_temperature_c + 273.15
    k = 1.0e3 * math.exp(-150e3 / GAS_CONSTANT * (1.0 / t_k - 1.0 / (850.0 + 273.15)))  # nm^2/h
    pinning = 1.0 / (1.0 + 8.0 * recipe.dopant_fraction)
    return math.sqrt(15.0**2 + k * recipe.calcination_time_h * pinning)


def _mixing(recipe: Recipe, li_deficit: float) -> float:
    ni, co = recipe.ni, recipe.co
    intrinsic = 0.005 + 0.05 * ni**3 * (1.0 - 0.6 * co)
    thermal = 0.03 * ni * over_firing(recipe) ** 2 + 0.012 * under_firing(recipe) ** 2
    dopant_relief = {Dopant.NONE: 0.0, Dopant.AL: 0.6, Dopant.MG: 1.2, Dopant.TI: 0.9}
    relief = 1.0 - min(0.5, dopant_relief[recipe.dopant] * recipe.dopant_fraction * 10.0)
    return (intrinsic + thermal + 0.8 * li_deficit) * relief


def ideal_product(recipe: Recipe) -> Product:
    """The noise-free product of a recipe (the world's ground truth)."""
    reacted = conversion(recipe)
    li_available = 1.0 + recipe.li_excess - lithium_loss(recipe)
    li_deficit = max(0.0, 1.0 - li_available)
    li_surplus = max(0.0, li_available - 1.0)

    mixing = min(0.2, _mixing(recipe, li_deficit))
    rocksalt = reacted * min(
        0.6, 0.35 * li_deficit + 0.04 * recipe.ni * over_firing(recipe) ** 2 + 0.1 * mixing**2
    )
    # Unreacted precursor counts as Li2CO3-like; the lithium surplus stays as surface Li2CO3.
    li2co3 = (1.0 - reacted) * 0.6 + reacted * 0.4 * li_surplus
    layered = max(0.0, 1.0 - rocksalt - li2co3)
    total = layered + rocksalt + li2co3

    a, c = _lattice(recipe, mixing)
    return Product(
        layered_fraction=layered / total,
        rocksalt_fraction=rocksalt / total,
        li2co3_fraction=li2co3 / total,
        cation_mixing=mixing,
        lattice_a=a,
        lattice_c=c,
        crystallite_size_nm=crystallite_size_nm(recipe),
        ni=recipe.ni,
        mn=recipe.mn,
        co=recipe.co,
        dopant=recipe.dopant,
        dopant_fraction=recipe.dopant_fraction,
    )


def _lattice(recipe: Recipe, mixing: float) -> tuple[float, float]:
    weights = {"ni": recipe.ni, "mn": recipe.mn, "co": recipe.co}
    a = sum(w * LATTICE_END_MEMBERS[m][0] for m, w in weights.items())
    c = sum(w * LATTICE_END_MEMBERS[m][1] for m, w in weights.items())
    da, dc = DOPANT_LATTICE_SHIFT[recipe.dopant]
    a += da * recipe.dopant_fraction + MIXING_LATTICE_SHIFT[0] * mixing
    c += dc * recipe.dopant_fraction + MIXING_LATTICE_SHIFT[1] * mixing
    return a, c


@dataclass(frozen=True)
class BatchNoise:
    """Standard deviations of batch-to-batch variation (relative for size, absolute otherwise)."""

    phase_fraction: float = 0.006
    cation_mixing: float = 0.002
    lattice_a: float = 0.0008
    lattice_c: float = 0.004
    crystallite_size_rel: float = 0.04


def make_product(
    recipe: Recipe, rng: np.random.Generator, noise: BatchNoise = BatchNoise()
) -> Product:
    """One batch of a recipe: the ideal product perturbed by batch noise drawn from ``rng``."""
    ideal = ideal_product(recipe)
    fractions = np.array([ideal.layered_fraction, ideal.rocksalt_fraction, ideal.li2co3_fraction])
    present = fractions > 1e-6
    fractions = np.where(present, fractions + rng.normal(0, noise.phase_fraction, 3), 0.0)
    fractions = np.clip(fractions, 0.0, None)
    fractions /= fractions.sum()
    size = ideal.crystallite_size_nm * math.exp(rng.normal(0, noise.crystallite_size_rel))
    return replace(
        ideal,
        layered_fraction=float(fractions[0]),
        rocksalt_fraction=float(fractions[1]),
        li2co3_fraction=float(fractions[2]),
        cation_mixing=float(max(0.0, ideal.cation_mixing + rng.normal(0, noise.cation_mixing))),
        lattice_a=float(ideal.lattice_a + rng.normal(0, noise.lattice_a)),
        lattice_c=float(ideal.lattice_c + rng.normal(0, noise.lattice_c)),
        crystallite_size_nm=float(size),
    )
