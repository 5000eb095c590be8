"""Precursor inventory of the synthesis robot: what a batch weighs out, in grams.

A batch of ``batch_mass_g`` of Li(1+e) (Ni_x Mn_y Co_z)(1-d) D_d O2 needs, per mole of product,
(1+e)/2 mol Li2CO3, x(1-d) mol Ni(OH)2 (and likewise Mn, Co) and d mol of dopant cation from its
oxide. Grams are reserved when a job is accepted, so queued jobs can never oversubscribe the
shelf, and returned if the job is withdrawn before it is weighed out.
"""

from collections.abc import Mapping

from voltlab.protocol import Dopant, ErrorCode, ProtocolError, Recipe
from voltlab.protocol.opcua import Precursor

MOLAR_MASS_G_MOL = {"Li": 6.94, "Ni": 58.693, "Mn": 54.938, "Co": 58.933, "O": 15.999}
DOPANT_MOLAR_MASS_G_MOL = {Dopant.AL: 26.982, Dopant.MG: 24.305, Dopant.TI: 47.867}
PRECURSOR_MOLAR_MASS_G_MOL = {
    Precursor.LITHIUM_CARBONATE: 73.89,
    Precursor.NICKEL_HYDROXIDE: 92.71,
    Precursor.MANGANESE_HYDROXIDE: 88.95,
    Precursor.COBALT_HYDROXIDE: 92.95,
    Precursor.ALUMINIUM_OXIDE: 101.96,
    Precursor.MAGNESIUM_OXIDE: 40.30,
    Precursor.TITANIUM_OXIDE: 79.87,
}
DOPANT_PRECURSOR = {
    Dopant.AL: (Precursor.ALUMINIUM_OXIDE, 0.5),
    Dopant.MG: (Precursor.MAGNESIUM_OXIDE, 1.0),
    Dopant.TI: (Precursor.TITANIUM_OXIDE, 1.0),
}
"""Dopant -> (its precursor, mol precursor per mol dopant cation)."""


def precursor_grams(recipe: Recipe, batch_mass_g: float) -> dict[Precursor, float]:
    """Grams of each precursor weighed out for one batch of ``batch_mass_g`` grams of product."""
    d = recipe.dopant_fraction
    metals = {"Ni": recipe.ni * (1 - d), "Mn": recipe.mn * (1 - d), "Co": recipe.co * (1 - d)}
    molar_mass = (1 + recipe.li_excess) * MOLAR_MASS_G_MOL["Li"] + 2 * MOLAR_MASS_G_MOL["O"]
    molar_mass += sum(n * MOLAR_MASS_G_MOL[m] for m, n in metals.items())
    if recipe.dopant is not Dopant.NONE:
        molar_mass += d * DOPANT_MOLAR_MASS_G_MOL[recipe.dopant]
    moles = batch_mass_g / molar_mass
    mol_per_mol = {
        Precursor.LITHIUM_CARBONATE: (1 + recipe.li_excess) / 2,
        Precursor.NICKEL_HYDROXIDE: metals["Ni"],
        Precursor.MANGANESE_HYDROXIDE: metals["Mn"],
        Precursor.COBALT_HYDROXIDE: metals["Co"],
    }
    if recipe.dopant is not Dopant.NONE:
        precursor, per_cation = DOPANT_PRECURSOR[recipe.dopant]
        mol_per_mol[precursor] = d * per_cation
    return {p: moles * n * PRECURSOR_MOLAR_MASS_G_MOL[p] for p, n in mol_per_mol.items() if n > 0}


class Inventory:
    """Grams left of each precursor on the robot's shelf."""

    def __init__(self, grams: Mapping[Precursor, float]) -> None:
        self._grams = {p: float(grams.get(p, 0.0)) for p in Precursor}

    def snapshot(self) -> dict[Precursor, float]:
        return dict(self._grams)

    def reserve(self, needed: Mapping[Precursor, float]) -> None:
        """Take ``needed`` grams off the shelf, or refuse (taking nothing) naming what is short."""
        for precursor, grams in needed.items():
            left = self._grams[precursor]
            if grams > left:
                raise ProtocolError(
                    ErrorCode.INTERLOCK,
                    f"inventory: {precursor} short, batch needs {grams:.3f} g but {left:.3f} g left",
                    field=f"inventory.{precursor}",
                )
        for precursor, grams in needed.items():
            self._grams[precursor] -= grams

    def give_back(self, grams: Mapping[Precursor, float]) -> None:
        for precursor, amount in grams.items():
            self._grams[precursor] += amount
