"""Phase models of the whole-pattern fit: each turns its nonlinear parameters into a profile.

A phase's profile is its stick pattern at unit scale, broadened by the instrument and by its
crystallite size. The layered oxide's parameters are (a, c, mixing, ln size); any other phase
keeps its reference lattice and refines only ln size. Each model also gives Z M V (up to a
constant common to all phases) for Hill-Howard weight fractions.
"""

from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from voltlab.analysis.xrd._errors import XRDAnalysisError
from voltlab.analysis.xrd.profile import InstrumentProfile, pseudo_voigt_sum
from voltlab.analysis.xrd.references import PhaseReference
from voltlab.analysis.xrd.sticks import LayeredSticks, compute_sticks, layered_sticks

SIZE_BOUNDS_NM = (10.0, 3000.0)
"""Below ~10 nm a phase's peaks are so broad that it could stand in for the background."""
MAX_MIXING = 0.3
LATTICE_A_RANGE = 0.06
LATTICE_C_RANGE = 0.3
"""Angstrom either side of the starting a and c the refinement may move."""
_CACHE_SIZE = 16


@dataclass(kw_only=True)
class PhaseModel(ABC):
    """One phase in the fit. ``start``/``lower``/``upper`` (q,) are its nonlinear parameters."""

    name: str
    instrument: InstrumentProfile
    start: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    norm: float
    """Intensities are divided by this so fitted scales are of order one."""
    _cache: OrderedDict[bytes, np.ndarray] = field(default_factory=OrderedDict, repr=False)

    @abstractmethod
    def sticks(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (degrees) and unit-scale intensities (m,) at parameters ``theta``."""

    def size_nm(self, theta: np.ndarray) -> float:
        return float(np.exp(theta[-1]))

    @abstractmethod
    def zmv(self, theta: np.ndarray) -> float:
        """Z M V of the cell (density x volume^2, over ``norm``) at ``theta``."""

    def profile(self, grid: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Unit-scale profile (n,) on ``grid``, cached on ``theta`` for finite differences."""
        key = theta.tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        centres, intensity = self.sticks(theta)
        fwhm, eta = self.instrument.peak_shape(centres, self.size_nm(theta))
        out = pseudo_voigt_sum(grid, centres, intensity, fwhm, eta)
        self._cache[key] = out
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return out


def _ln_size_bounds() -> tuple[float, float]:
    return float(np.log(SIZE_BOUNDS_NM[0])), float(np.log(SIZE_BOUNDS_NM[1]))


@dataclass(kw_only=True)
class FixedLatticeModel(PhaseModel):
    """A phase with a fixed reference lattice; theta = (ln size_nm,)."""

    centres: np.ndarray
    intensity: np.ndarray
    """Unit-scale integrated intensities (m,) at ``centres`` (m,) degrees."""
    zmv_const: float

    def sticks(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.centres, self.intensity

    def zmv(self, theta: np.ndarray) -> float:
        return self.zmv_const


@dataclass(kw_only=True)
class LayeredModel(PhaseModel):
    """The layered oxide; theta = (a, c, mixing, ln size_nm)."""

    layered: LayeredSticks
    zm: float
    """density x volume, proportional to Z M (mixing does not change the formula)."""

    def sticks(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centres = self.layered.two_theta(theta[0], theta[1])
        return centres, self.layered.intensity(centres, theta[2]) / self.norm

    def zmv(self, theta: np.ndarray) -> float:
        return self.zm * np.sqrt(3.0) / 2.0 * theta[0] ** 2 * theta[1]

    def intensities(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """hkl (m, 3) and unit-scale integrated intensities (m,), for peak ratios."""
        return self.layered.hkl, self.sticks(theta)[1]


def fixed_model(
    ref: PhaseReference, instrument: InstrumentProfile, lo: float, hi: float, size_nm: float
) -> FixedLatticeModel:
    """Model of a phase that keeps its reference lattice, sticks in [lo, hi] degrees."""
    sticks = compute_sticks(ref.structure, instrument.wavelength_angstrom, lo, hi)
    norm = float(sticks.intensity.max()) if sticks.intensity.size else 1.0
    ln_lo, ln_hi = _ln_size_bounds()
    return FixedLatticeModel(
        name=ref.name,
        instrument=instrument,
        start=np.array([np.log(size_nm)]),
        lower=np.array([ln_lo]),
        upper=np.array([ln_hi]),
        norm=norm,
        centres=sticks.two_theta,
        intensity=sticks.intensity / norm,
        zmv_const=ref.structure.density * ref.structure.volume**2 / norm,
    )


def layered_model(
    ref: PhaseReference,
    instrument: InstrumentProfile,
    lo: float,
    hi: float,
    a: float,
    c: float,
    mixing: float,
    size_nm: float,
) -> LayeredModel:
    """Model of the layered oxide starting at lattice a, c (Angstrom), mixing and size.

    |F|^2 is computed at the reference structure's lattice (it barely changes with a and c;
    positions and Lorentz-polarisation follow a and c exactly), so it is cached per composition.
    """
    if ref.layered is None:
        raise XRDAnalysisError(f"phase {ref.name!r} is not a layered oxide")
    lattice = ref.structure.lattice
    sticks = layered_sticks(
        ref.layered, lattice.a, lattice.c, instrument.wavelength_angstrom, lo, hi
    )
    norm = float(sticks.intensity(sticks.two_theta(a, c), 0.0).max())
    ln_lo, ln_hi = _ln_size_bounds()
    max_mixing = min(MAX_MIXING, ref.layered.metals()["Ni"])
    structure = ref.structure
    zm = structure.density * structure.volume / norm
    return LayeredModel(
        name=ref.name,
        instrument=instrument,
        start=np.array([a, c, min(mixing, max_mixing), np.log(size_nm)]),
        lower=np.array([a - LATTICE_A_RANGE, c - LATTICE_C_RANGE, 0.0, ln_lo]),
        upper=np.array([a + LATTICE_A_RANGE, c + LATTICE_C_RANGE, max_mixing, ln_hi]),
        norm=norm,
        layered=sticks,
        zm=zm,
    )
