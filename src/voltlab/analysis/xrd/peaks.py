"""Peak finding on a background-subtracted pattern (scipy.signal) and a peak-position lattice.

A peak must stand out of the counting noise: its prominence in the smoothed net pattern must
exceed ``min_snr`` Poisson standard deviations of the counts under it.
"""

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, peak_widths, savgol_filter

from voltlab.analysis.xrd.sticks import hexagonal_two_theta

DEFAULT_MIN_SNR = 6.0
LAYERED_003_WINDOW_DEG = (17.0, 20.5)
"""Where (003) of an R-3m layered oxide falls for c = 13.5-15.5 Angstrom (Cu K-alpha)."""
LAYERED_110_WINDOW_DEG = (62.5, 67.5)


@dataclass(frozen=True)
class PeakList:
    """Observed peaks, each array (k,): centre (degrees), net height (counts), FWHM (degrees)."""

    two_theta: np.ndarray
    height: np.ndarray
    fwhm: np.ndarray

    def __len__(self) -> int:
        return int(self.two_theta.size)


def find_pattern_peaks(
    two_theta: np.ndarray,
    counts: np.ndarray,
    background: np.ndarray,
    min_snr: float = DEFAULT_MIN_SNR,
) -> PeakList:
    """Peaks of ``counts - background`` (all (n,)) whose prominence beats the counting noise."""
    step = float(np.median(np.diff(two_theta)))
    window = max(5, 2 * round(0.04 / step) + 1)
    net = savgol_filter(counts - background, window, 2)
    sigma = np.sqrt(np.maximum(counts, 1.0))
    index, _ = find_peaks(net, prominence=min_snr * sigma, width=max(1.0, 0.02 / step))
    if index.size == 0:
        empty = np.empty(0)
        return PeakList(empty, empty, empty)
    widths = peak_widths(net, index, rel_height=0.5)[0] * step
    # Parabolic interpolation of the smoothed top gives sub-step centres.
    inner = np.clip(index, 1, net.size - 2)
    left, mid, right = net[inner - 1], net[inner], net[inner + 1]
    denom = left - 2 * mid + right
    shift = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    centres = two_theta[inner] + shift * step
    return PeakList(centres, net[index], widths)


def _strongest_in(peaks: PeakList, lo: float, hi: float) -> float | None:
    inside = (peaks.two_theta >= lo) & (peaks.two_theta <= hi)
    if not inside.any():
        return None
    return float(peaks.two_theta[inside][np.argmax(peaks.height[inside])])


def peak_position_lattice(peaks: PeakList, wavelength: float) -> tuple[float, float] | None:
    """Layered a, c (Angstrom) from the (003) and (110) peak positions alone, or None.

    c = 3 d(003); a = 2 d(110). (110) sits next to (018), so of the peaks in the (110) window the
    one nearest the (110) predicted from a typical c/a (4.95) is taken.
    """
    p003 = _strongest_in(peaks, *LAYERED_003_WINDOW_DEG)
    if p003 is None:
        return None
    c = 3.0 * wavelength / (2.0 * np.sin(np.radians(p003) / 2.0))
    window = (peaks.two_theta >= LAYERED_110_WINDOW_DEG[0]) & (
        peaks.two_theta <= LAYERED_110_WINDOW_DEG[1]
    )
    if not window.any():
        return None
    guess = hexagonal_two_theta(np.array([[1, 1, 0]]), c / 4.95, c, wavelength)[0]
    candidates = peaks.two_theta[window]
    p110 = float(candidates[np.argmin(np.abs(candidates - guess))])
    a = 2.0 * wavelength / (2.0 * np.sin(np.radians(p110) / 2.0))
    return float(a), float(c)
