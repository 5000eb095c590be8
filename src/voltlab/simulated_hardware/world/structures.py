"""Crystal structures of the phases a calcination makes, built in code with pymatgen.

- layered R-3m Li(Ni,Mn,Co,dopant)O2 (alpha-NaFeO2 type) with the product's lattice: Li on 3a
  (0,0,0), transition metals and dopant on 3b (0,0,1/2), O on 6c (0,0,z). Cation mixing x swaps
  x Ni from 3b with x Li from 3a, so both sites stay fully occupied and the formula balanced;
- rock-salt NiO (Fm-3m, a = 4.177 Angstrom), the over-fired / lithium-poor impurity;
- monoclinic Li2CO3 (C2/c, zabuyelite), unreacted carbonate.

Lattice lengths in Angstrom, angles in degrees, occupancies as site fractions.
"""

from dataclasses import dataclass

from pymatgen.core import Lattice, Structure

from voltlab.protocol import Dopant
from voltlab.simulated_hardware.world.product import Product

OXYGEN_Z = 0.2585
"""Fractional z of O on 6c in the hexagonal setting (LiNiO2 / NMC)."""
NIO_A = 4.177
LI2CO3_LATTICE = (8.359, 4.973, 6.194, 114.83)
"""a, b, c (Angstrom) and beta (degrees) of monoclinic Li2CO3."""
LI2CO3_SITES = (
    ("Li", (0.1965, 0.4484, 0.8345)),
    ("C", (0.0, 0.0657, 0.25)),
    ("O", (0.0, 0.3213, 0.25)),
    ("O", (0.1459, -0.0636, 0.3136)),
)
LATTICE_DECIMALS = 4
"""Lattice parameters are rounded to 1e-4 Angstrom (a 2-theta error below 0.002 degrees) so
nearly equal products share a cached structure and stick pattern."""
OCCUPANCY_DECIMALS = 4

Site = tuple[tuple[str, float], ...]
"""A site's occupancy as sorted (element, fraction) pairs: hashable, so it can key a cache."""


@dataclass(frozen=True)
class LayeredSpec:
    """Everything the layered structure depends on, rounded, so it can key a cache."""

    a: float
    c: float
    li_site: Site
    """3a occupancy: Li plus the antisite transition metal."""
    m_site: Site
    """3b occupancy: transition metals, dopant, plus the antisite Li."""


def _site(occupancy: dict[str, float]) -> Site:
    """Rounded occupancies of a full site; the majority species takes up the rounding so the
    sum is exactly one (pymatgen refuses a site filled above one)."""
    rounded = {el: round(f, OCCUPANCY_DECIMALS) for el, f in occupancy.items()}
    major = max(rounded, key=rounded.__getitem__)
    rounded[major] = round(
        1.0 - sum(f for el, f in rounded.items() if el != major), OCCUPANCY_DECIMALS
    )
    return tuple(sorted((el, f) for el, f in rounded.items() if f > 0.0))


def layered_spec(product: Product) -> LayeredSpec:
    """Site occupancies of the layered phase; antisite cations come from Ni first (Ni2+ ~ Li+
    in size), then from the other metals in proportion if there is too little Ni."""
    d = product.dopant_fraction if product.dopant is not Dopant.NONE else 0.0
    metals = {"Ni": product.ni * (1 - d), "Mn": product.mn * (1 - d), "Co": product.co * (1 - d)}
    if d:
        metals[product.dopant.value] = d
    x = product.cation_mixing
    moved = {"Ni": min(x, metals["Ni"])}
    rest = x - moved["Ni"]
    others = {el: f for el, f in metals.items() if el != "Ni"}
    total_others = sum(others.values())
    if rest > 0 and total_others > 0:
        moved |= {el: rest * f / total_others for el, f in others.items()}
    m_site = {el: f - moved.get(el, 0.0) for el, f in metals.items()} | {"Li": x}
    li_site = {"Li": 1.0 - x} | moved
    return LayeredSpec(
        a=round(product.lattice_a, LATTICE_DECIMALS),
        c=round(product.lattice_c, LATTICE_DECIMALS),
        li_site=_site(li_site),
        m_site=_site(m_site),
    )


def build_layered(spec: LayeredSpec) -> Structure:
    """The R-3m conventional hexagonal cell (Z = 3, 12 sites) of a layered spec."""
    return Structure.from_spacegroup(
        "R-3m",
        Lattice.hexagonal(spec.a, spec.c),
        [dict(spec.li_site), dict(spec.m_site), "O"],
        [[0, 0, 0], [0, 0, 0.5], [0, 0, OXYGEN_Z]],
    )


def layered_structure(product: Product) -> Structure:
    """The product's layered phase with its lattice and cation mixing."""
    return build_layered(layered_spec(product))


def rocksalt_structure() -> Structure:
    """Rock-salt NiO, the conventional cubic cell (Z = 4)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(NIO_A), ["Ni", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def li2co3_structure() -> Structure:
    """Monoclinic Li2CO3 (Z = 4, 24 sites)."""
    species, coords = zip(*LI2CO3_SITES, strict=True)
    return Structure.from_spacegroup(
        "C2/c", Lattice.monoclinic(*LI2CO3_LATTICE), list(species), list(coords)
    )
