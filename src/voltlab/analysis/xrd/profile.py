"""Peak shapes of a Bragg-Brentano diffractometer: instrument resolution plus size broadening.

The instrument's Gaussian width follows Caglioti, FWHM^2 = U tan^2(theta) + V tan(theta) + W; the
crystallites add a Lorentzian Scherrer width K lambda / (D cos(theta)). The Voigt of the two is
approximated by the Thompson-Cox-Hastings pseudo-Voigt (P. Thompson, D. E. Cox, J. B. Hastings,
J. Appl. Cryst. 20 (1987) 79), as Rietveld programs do. Angles are degrees 2-theta.
"""

from dataclasses import dataclass

import numpy as np

_TCH_FWHM = (1.0, 2.69269, 2.42843, 4.47163, 0.07842, 1.0)
_TCH_ETA = (1.36603, -0.47719, 0.11116)
_GAUSS_NORM = 2.0 * np.sqrt(np.log(2.0) / np.pi)
_LN2 = np.log(2.0)


@dataclass(frozen=True)
class InstrumentProfile:
    """What the caller knows about the diffractometer (from a standard such as LaB6).

    The defaults describe a lab instrument with a Ge(111) monochromator and Cu K-alpha1.
    """

    wavelength_angstrom: float = 1.54056
    caglioti_u: float = 0.004
    """degrees^2"""
    caglioti_v: float = -0.002
    """degrees^2"""
    caglioti_w: float = 0.003
    """degrees^2"""
    scherrer_k: float = 0.9

    def gaussian_fwhm(self, two_theta: np.ndarray) -> np.ndarray:
        """Instrument FWHM (degrees) at ``two_theta`` (degrees), any shape."""
        tan_t = np.tan(np.radians(two_theta) / 2.0)
        fwhm2 = self.caglioti_u * tan_t**2 + self.caglioti_v * tan_t + self.caglioti_w
        return np.sqrt(np.maximum(fwhm2, 1e-8))

    def size_fwhm(self, two_theta: np.ndarray, size_nm: float) -> np.ndarray:
        """Scherrer (Lorentzian) FWHM in degrees 2-theta of crystallites ``size_nm`` across."""
        cos_t = np.cos(np.radians(two_theta) / 2.0)
        return np.degrees(self.scherrer_k * self.wavelength_angstrom / (size_nm * 10.0 * cos_t))

    def peak_shape(self, two_theta: np.ndarray, size_nm: float) -> tuple[np.ndarray, np.ndarray]:
        """Total FWHM (degrees) and Lorentzian fraction eta of peaks at ``two_theta``."""
        return tch_pseudo_voigt(self.gaussian_fwhm(two_theta), self.size_fwhm(two_theta, size_nm))


def tch_pseudo_voigt(
    gauss_fwhm: np.ndarray, lorentz_fwhm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """TCH total FWHM (degrees) and eta of the Voigt of a Gaussian and a Lorentzian width."""
    g, lo = gauss_fwhm, lorentz_fwhm
    c = _TCH_FWHM
    fwhm = (
        c[0] * g**5
        + c[1] * g**4 * lo
        + c[2] * g**3 * lo**2
        + c[3] * g**2 * lo**3
        + c[4] * g * lo**4
        + c[5] * lo**5
    ) ** 0.2
    q = lo / fwhm
    eta = _TCH_ETA[0] * q + _TCH_ETA[1] * q**2 + _TCH_ETA[2] * q**3
    return fwhm, eta


GAUSS_WINDOW_FWHM = 5.0


def pseudo_voigt_sum(
    grid: np.ndarray, centers: np.ndarray, areas: np.ndarray, fwhm: np.ndarray, eta: np.ndarray
) -> np.ndarray:
    """Sum of area-normalised pseudo-Voigts on the sorted ``grid`` (n,), in units of ``areas``
    per degree.

    The Lorentzian parts of every peak (m,) are evaluated on every point, so their long tails are
    kept whole; the Gaussian parts only within ``GAUSS_WINDOW_FWHM`` of their centre, beyond which
    they are below 1e-30 of their height (this keeps the costly exponentials few).
    """
    if centers.size == 0:
        return np.zeros_like(grid)
    hw2 = (fwhm / 2.0) ** 2
    x2 = (grid[None, :] - centers[:, None]) ** 2
    total = ((np.sqrt(hw2) / np.pi * eta * areas)[:, None] / (x2 + hw2[:, None])).sum(axis=0)
    half_window = GAUSS_WINDOW_FWHM * fwhm
    start = np.searchsorted(grid, centers - half_window)
    counts = np.searchsorted(grid, centers + half_window) - start
    peak = np.repeat(np.arange(centers.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    index = start[peak] + offsets
    dx2 = (grid[index] - centers[peak]) ** 2
    height = _GAUSS_NORM / fwhm * (1.0 - eta) * areas
    gauss = height[peak] * np.exp(dx2 * (-_LN2 / hw2[peak]))
    return total + np.bincount(index, weights=gauss, minlength=grid.size)
