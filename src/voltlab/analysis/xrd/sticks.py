"""Stick patterns (reflection positions and intensities) from pymatgen's XRDCalculator.

Intensities are pymatgen's unscaled ones: |F|^2 times multiplicity times the Lorentz-polarisation
factor, per unit cell, with isotropic Debye-Waller factors. For the layered oxide the positions
follow analytically from a and c, and since F is linear in the cation mixing x, |F|^2 is a
quadratic in x: three pymatgen calls give every reflection's intensity at any x, so refinement
never calls pymatgen in its inner loop. Angles are degrees 2-theta.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Structure

from voltlab.analysis.xrd.references import LayeredComposition, layered_oxide

DEBYE_WALLER_B = {
    "Li": 1.0,
    "Ni": 0.4,
    "Mn": 0.4,
    "Co": 0.4,
    "Al": 0.5,
    "Mg": 0.5,
    "Ti": 0.4,
    "C": 0.8,
    "O": 0.6,
}
"""Isotropic B (Angstrom^2) at room temperature, typical of refined layered oxides."""
MIXING_NODES = (0.0, 0.1, 0.2)
"""Cation mixings at which |F|^2 is computed to fix its quadratic in x."""


@dataclass(frozen=True)
class Sticks:
    """Reflections of one phase: ``hkl`` (m, 3) integer, ``two_theta`` (m,) degrees,
    ``intensity`` (m,) per cell."""

    hkl: np.ndarray
    two_theta: np.ndarray
    intensity: np.ndarray


@lru_cache(maxsize=4)
def _calculator(wavelength: float) -> XRDCalculator:
    return XRDCalculator(wavelength=wavelength, debye_waller_factors=DEBYE_WALLER_B)


def compute_sticks(structure: Structure, wavelength: float, lo: float, hi: float) -> Sticks:
    """Reflections of ``structure`` with 2-theta in [lo, hi] degrees."""
    pattern = _calculator(wavelength).get_pattern(structure, scaled=False, two_theta_range=(lo, hi))
    # Miller-Bravais (h, k, i, l) for hexagonal cells: keep h, k, l.
    hkl = np.array(
        [[fam[0]["hkl"][0], fam[0]["hkl"][1], fam[0]["hkl"][-1]] for fam in pattern.hkls]
    )
    return Sticks(hkl.reshape(-1, 3), np.array(pattern.x), np.array(pattern.y))


def hexagonal_two_theta(hkl: np.ndarray, a: float, c: float, wavelength: float) -> np.ndarray:
    """Bragg angles (degrees 2-theta) of ``hkl`` (m, 3) in a hexagonal cell a, c (Angstrom)."""
    h, k, ell = hkl[:, 0], hkl[:, 1], hkl[:, 2]
    inv_d2 = 4.0 / 3.0 * (h * h + h * k + k * k) / a**2 + ell * ell / c**2
    return np.degrees(2.0 * np.arcsin(np.clip(wavelength * np.sqrt(inv_d2) / 2.0, 0.0, 1.0)))


def lorentz_polarisation(two_theta: np.ndarray) -> np.ndarray:
    """(1 + cos^2 2theta) / (sin^2 theta cos theta), as in pymatgen's intensities."""
    t = np.radians(two_theta) / 2.0
    return (1.0 + np.cos(2.0 * t) ** 2) / (np.sin(t) ** 2 * np.cos(t))


@dataclass(frozen=True)
class LayeredSticks:
    """The layered oxide's reflections as functions of a, c and mixing x.

    ``coef`` (3, m): |F|^2 times multiplicity is coef[0] + coef[1] x + coef[2] x^2 (per cell).
    """

    hkl: np.ndarray
    coef: np.ndarray
    wavelength: float

    def two_theta(self, a: float, c: float) -> np.ndarray:
        return hexagonal_two_theta(self.hkl, a, c, self.wavelength)

    def intensity(self, two_theta: np.ndarray, mixing: float) -> np.ndarray:
        """|F|^2 m LP per cell at ``two_theta`` (m,) for mixing x."""
        f2m = self.coef[0] + self.coef[1] * mixing + self.coef[2] * mixing**2
        return f2m * lorentz_polarisation(two_theta)


@lru_cache(maxsize=64)
def layered_sticks(
    composition: LayeredComposition, a: float, c: float, wavelength: float, lo: float, hi: float
) -> LayeredSticks:
    """Fit the quadratic in x through pymatgen patterns at :data:`MIXING_NODES` (lattice a, c)."""
    nodes = [x for x in MIXING_NODES if x <= composition.metals()["Ni"]]
    patterns = [
        compute_sticks(layered_oxide(composition, a, c, x), wavelength, lo, hi) for x in nodes
    ]
    ref = patterns[0]
    f2m = np.empty((len(nodes), ref.hkl.shape[0]))
    for row, sticks in zip(f2m, patterns, strict=True):
        # Reflections can vanish when |F| is 0 at some x: align families on hkl, not on order.
        index = {tuple(h): i for i, h in enumerate(sticks.hkl)}
        for j, h in enumerate(ref.hkl):
            i = index.get(tuple(h))
            row[j] = (
                sticks.intensity[i] / lorentz_polarisation(sticks.two_theta[i])
                if i is not None
                else 0.0
            )
    coef = np.polynomial.polynomial.polyfit(np.array(nodes), f2m, deg=len(nodes) - 1)
    if coef.shape[0] < 3:
        coef = np.vstack([coef, np.zeros((3 - coef.shape[0], coef.shape[1]))])
    return LayeredSticks(ref.hkl, coef, wavelength)
