"""Peak shapes of the simulated diffractometer: instrument (Caglioti) and size (Scherrer) broadening.

The instrument is a Bragg-Brentano lab diffractometer with a Ge(111) monochromator (Cu K-alpha1
only). Its resolution is Gaussian with the Caglioti width FWHM^2 = U tan^2(theta) + V tan(theta) + W.
Crystallite-size broadening is Lorentzian with the Scherrer width beta = K lambda / (D cos(theta))
(radians of 2-theta). The two are convolved into a Voigt, approximated by the Thompson-Cox-Hastings
pseudo-Voigt (total FWHM and Lorentzian fraction eta from the two widths), as Rietveld programs do.
All angles are degrees 2-theta unless a name says otherwise.
"""

import numpy as np

WAVELENGTH_ANGSTROM = 1.54056
"""Cu K-alpha1."""
SCHERRER_K = 0.9
CAGLIOTI_UVW = (0.004, -0.002, 0.003)
"""U, V, W in degrees^2: about 0.053 degrees FWHM at 20 degrees, 0.064 at 80 degrees."""
_TCH_FWHM = (1.0, 2.69269, 2.42843, 4.47163, 0.07842, 1.0)
_TCH_ETA = (1.36603, -0.47719, 0.11116)
_GAUSS_NORM = 2.0 * np.sqrt(np.log(2.0) / np.pi)
_BLOCK_ELEMENTS = 1 << 20


def instrument_fwhm_deg(two_theta: np.ndarray) -> np.ndarray:
    """Gaussian instrument FWHM (degrees) from the Caglioti function."""
    u, v, w = CAGLIOTI_UVW
    tan_t = np.tan(np.radians(two_theta) / 2.0)
    return np.sqrt(u * tan_t**2 + v * tan_t + w)


def scherrer_fwhm_deg(two_theta: np.ndarray, size_nm: float) -> np.ndarray:
    """Lorentzian size-broadening FWHM (degrees 2-theta) of crystallites ``size_nm`` across."""
    cos_t = np.cos(np.radians(two_theta) / 2.0)
    beta_rad = SCHERRER_K * WAVELENGTH_ANGSTROM / (size_nm * 10.0 * cos_t)
    return np.degrees(beta_rad)


def tch_pseudo_voigt(
    gauss_fwhm: np.ndarray, lorentz_fwhm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Total FWHM (degrees) and Lorentzian fraction eta of the Voigt of the two widths."""
    g, lo = gauss_fwhm, lorentz_fwhm
    c0, c1, c2, c3, c4, c5 = _TCH_FWHM
    fwhm = (
        c0 * g**5
        + c1 * g**4 * lo
        + c2 * g**3 * lo**2
        + c3 * g**2 * lo**3
        + c4 * g * lo**4
        + c5 * lo**5
    ) ** 0.2
    q = lo / fwhm
    eta = _TCH_ETA[0] * q + _TCH_ETA[1] * q**2 + _TCH_ETA[2] * q**3
    return fwhm, eta


def peak_shape(two_theta: np.ndarray, size_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Total FWHM (degrees) and eta of peaks at ``two_theta`` for crystallites of ``size_nm``."""
    return tch_pseudo_voigt(instrument_fwhm_deg(two_theta), scherrer_fwhm_deg(two_theta, size_nm))


def pseudo_voigt_sum(
    grid: np.ndarray,
    centers: np.ndarray,
    areas: np.ndarray,
    fwhm: np.ndarray,
    eta: np.ndarray,
) -> np.ndarray:
    """Sum of area-normalised pseudo-Voigt peaks on ``grid``: shape (n_grid,), units of ``areas``
    per degree. Every peak is evaluated on every grid point, so Lorentzian tails are never cut
    off; the grid is walked in blocks so memory stays bounded (about 8 MB per temporary)."""
    hw2 = ((fwhm / 2.0) ** 2)[:, None]
    lorentz_norm = (np.sqrt(hw2) / np.pi) * (eta * areas)[:, None]
    gauss_norm = (_GAUSS_NORM / fwhm * (1.0 - eta) * areas)[:, None]
    gauss_rate = -np.log(2.0) / hw2
    out = np.empty(len(grid))
    block = max(1, _BLOCK_ELEMENTS // max(1, len(centers)))
    for start in range(0, len(grid), block):
        x2 = (grid[None, start : start + block] - centers[:, None]) ** 2
        lorentz = lorentz_norm / (x2 + hw2)
        gauss = gauss_norm * np.exp(x2 * gauss_rate)
        out[start : start + block] = (lorentz + gauss).sum(axis=0)
    return out
