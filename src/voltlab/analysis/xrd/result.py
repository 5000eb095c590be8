"""What an XRD analysis returns. Weight fractions are 0-1, lengths in Angstrom, sizes in nm,
angles in degrees 2-theta; every ``*_std`` is one standard deviation from the fit covariance."""

from dataclasses import dataclass

import numpy as np

from voltlab.analysis.xrd.identify import PhaseMatch
from voltlab.analysis.xrd.peaks import PeakList


@dataclass(frozen=True)
class PhaseResult:
    """One reference phase. A phase the fit rejected has weight 0 and no size."""

    name: str
    weight_fraction: float
    weight_fraction_std: float
    detected: bool
    """Weight fraction above three standard deviations."""
    crystallite_size_nm: float | None
    crystallite_size_std_nm: float | None
    match: PhaseMatch


@dataclass(frozen=True)
class LayeredResult:
    """Refined layered oxide: lattice, cation mixing (fraction of Li sites holding Ni), size."""

    a: float
    a_std: float
    c: float
    c_std: float
    cation_mixing: float
    cation_mixing_std: float
    crystallite_size_nm: float
    crystallite_size_std_nm: float
    i003_i104: float
    """Ratio of the integrated (003) and (104) intensities: low values mean cation mixing."""
    i003_i104_std: float


@dataclass(frozen=True)
class XRDResult:
    """A full analysis. ``confidence`` is "low" whenever ``warnings`` is not empty.

    Arrays (n,) on ``two_theta``: ``observed``, ``calculated``, ``background``. ``ticks`` maps a
    detected phase to its reflection positions (degrees).
    """

    phases: tuple[PhaseResult, ...]
    layered: LayeredResult | None
    rwp: float
    rexp: float
    confidence: str
    warnings: tuple[str, ...]
    two_theta: np.ndarray
    observed: np.ndarray
    calculated: np.ndarray
    background: np.ndarray
    ticks: dict[str, np.ndarray]
    peaks: PeakList

    @property
    def goodness_of_fit(self) -> float:
        """Rwp / Rexp: 1 for a perfect model under Poisson noise."""
        return self.rwp / self.rexp

    def weight_fractions(self) -> dict[str, float]:
        return {p.name: p.weight_fraction for p in self.phases}

    def phase(self, name: str) -> PhaseResult:
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(name)
