"""Powder XRD of a product: what the simulated diffractometer counts on a 2-theta grid.

Stick patterns come from pymatgen's XRDCalculator (Cu K-alpha1, unscaled: |F|^2 summed over every
reflection of a family, i.e. times its multiplicity, times the Lorentz-polarisation factor, with
isotropic Debye-Waller factors). Phases are mixed as in Rietveld analysis: the scale factor of
phase p is S_p proportional to W_p / (Z M V)_p, and Z M V is proportional to rho V^2, so
(Hill & Howard) W_p = S_p (ZMV)_p / sum(S ZMV) recovers the weight fractions from the pattern.
Absorption is the same for every phase (flat plate, no microabsorption); no preferred orientation.

Peaks are pseudo-Voigts (see :mod:`xrd_profile`): the layered phase broadened by the product's
crystallite size, impurity phases by fixed sizes. On top sits a smooth background (air scatter,
an amorphous hump, Co/Mn fluorescence under Cu radiation). Counts = Poisson(rate x count time).
Intensities are count rates (counts/s); areas are counts/s x degrees.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Structure

from voltlab.simulated_hardware.world.product import LATTICE_END_MEMBERS, Product
from voltlab.simulated_hardware.world.structures import (
    LayeredSpec,
    build_layered,
    layered_spec,
    li2co3_structure,
    rocksalt_structure,
)
from voltlab.simulated_hardware.world.xrd_profile import (
    WAVELENGTH_ANGSTROM,
    peak_shape,
    pseudo_voigt_sum,
)

ROCKSALT_SIZE_NM = 40.0
"""NiO-like domains nucleate late at grain surfaces and stay small."""
LI2CO3_SIZE_NM = 80.0
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
REFERENCE_AREA_CPS_DEG = 500.0
"""Integrated (003) count rate of pure, ideal LiNiO2: about 3,500 counts/s at the peak top for
100 nm crystallites, as on a lab diffractometer with a strip detector."""
PROFILE_MARGIN_DEG = 5.0
"""Peaks this far outside the grid still add their tails to it."""


@dataclass(frozen=True)
class Sticks:
    """One phase's reflections: positions (degrees 2-theta) and unscaled intensities per cell."""

    two_theta: np.ndarray
    intensity: np.ndarray
    rho_v2: float
    """Density (g/cm^3) x cell volume^2 (Angstrom^6), proportional to Z M V of the cell."""


@dataclass(frozen=True)
class PhasePeaks:
    """One phase's peaks as the instrument sees them (the noise-free truth of a pattern)."""

    phase: str
    two_theta: np.ndarray
    area: np.ndarray
    """Integrated count rate of each peak, counts/s x degrees."""
    fwhm: np.ndarray
    """degrees 2-theta"""
    eta: np.ndarray
    """Lorentzian fraction of the pseudo-Voigt."""


@lru_cache(maxsize=1)
def _calculator() -> XRDCalculator:
    return XRDCalculator(wavelength=WAVELENGTH_ANGSTROM, debye_waller_factors=DEBYE_WALLER_B)


def _sticks(structure: Structure) -> Sticks:
    pattern = _calculator().get_pattern(structure, scaled=False, two_theta_range=None)
    two_theta, intensity = np.array(pattern.x), np.array(pattern.y)
    two_theta.flags.writeable = intensity.flags.writeable = False
    return Sticks(two_theta, intensity, structure.density * structure.volume**2)


@lru_cache(maxsize=512)
def layered_sticks(spec: LayeredSpec) -> Sticks:
    return _sticks(build_layered(spec))


@lru_cache(maxsize=1)
def rocksalt_sticks() -> Sticks:
    return _sticks(rocksalt_structure())


@lru_cache(maxsize=1)
def li2co3_sticks() -> Sticks:
    return _sticks(li2co3_structure())


def warm_fixed_phases() -> None:
    """Compute the sticks of the phases every pattern may hold. pymatgen's Fm-3m space group
    alone takes about half a second of pure Python; done at start-up, it does not hold the GIL
    in the middle of a measurement while the instruments' event loops wait."""
    rocksalt_sticks()
    li2co3_sticks()
    _instrument_scale()


@lru_cache(maxsize=1)
def _instrument_scale() -> float:
    """Counts/s x degrees per unit of (W / rho V^2) x pymatgen intensity."""
    a, c = LATTICE_END_MEMBERS["ni"]
    lini_o2 = layered_sticks(LayeredSpec(a, c, (("Li", 1.0),), (("Ni", 1.0),)))
    # The lowest-angle reflection of any R-3m layered oxide is (003).
    return REFERENCE_AREA_CPS_DEG / (lini_o2.intensity[0] / lini_o2.rho_v2)


def phase_peaks(product: Product, lo: float = 0.0, hi: float = 180.0) -> list[PhasePeaks]:
    """Peaks of every phase present in ``product`` with centres in [lo, hi] degrees 2-theta."""
    phases = (
        (
            "layered",
            product.layered_fraction,
            product.crystallite_size_nm,
            lambda: layered_sticks(layered_spec(product)),
        ),
        ("rocksalt", product.rocksalt_fraction, ROCKSALT_SIZE_NM, rocksalt_sticks),
        ("li2co3", product.li2co3_fraction, LI2CO3_SIZE_NM, li2co3_sticks),
    )
    scale = _instrument_scale()
    out = []
    for name, weight, size_nm, sticks_of in phases:
        if weight <= 0.0:
            continue
        sticks = sticks_of()
        keep = (sticks.two_theta >= lo) & (sticks.two_theta <= hi)
        centers = sticks.two_theta[keep]
        fwhm, eta = peak_shape(centers, size_nm)
        area = scale * weight * sticks.intensity[keep] / sticks.rho_v2
        out.append(PhasePeaks(name, centers, area, fwhm, eta))
    return out


def background_cps(product: Product, two_theta: np.ndarray) -> np.ndarray:
    """Smooth background count rate: air scatter falling off from low angles, a flat floor, an
    amorphous hump near 24 degrees, and Co/Mn K fluorescence excited by Cu K-alpha (Ni is not
    excited: its K edge lies above the Cu K-alpha energy)."""
    air = 250.0 * np.exp(-(two_theta - 5.0) / 6.0)
    hump = 25.0 * np.exp(-0.5 * ((two_theta - 24.0) / 7.0) ** 2)
    fluorescence = 60.0 * (product.mn + product.co) * product.layered_fraction
    return air + hump + 40.0 + fluorescence


def expected_intensity(product: Product, two_theta: np.ndarray, count_time_s: float) -> np.ndarray:
    """Noise-free expected counts per step on ``two_theta`` (degrees) for ``count_time_s`` s/step."""
    grid = np.asarray(two_theta, dtype=float)
    lo, hi = grid.min() - PROFILE_MARGIN_DEG, grid.max() + PROFILE_MARGIN_DEG
    peaks = phase_peaks(product, lo, hi)
    rate = background_cps(product, grid)
    if peaks:
        rate = rate + pseudo_voigt_sum(
            grid,
            np.concatenate([p.two_theta for p in peaks]),
            np.concatenate([p.area for p in peaks]),
            np.concatenate([p.fwhm for p in peaks]),
            np.concatenate([p.eta for p in peaks]),
        )
    return rate * count_time_s


def simulate_pattern(
    product: Product, two_theta: np.ndarray, count_time_s: float, rng: np.random.Generator
) -> np.ndarray:
    """Measured counts per step: Poisson draws around :func:`expected_intensity`."""
    return rng.poisson(expected_intensity(product, two_theta, count_time_s)).astype(float)
