"""Phase identification: which reference phases explain the observed peaks.

A phase's strong reflections (at least ``STRONG_FRACTION`` of its strongest, inside the measured
range) are matched to observed peaks within a tolerance; its score is the intensity-weighted
share of them that were seen. Observed peaks no phase explains are reported, since they point to
a phase missing from the library.
"""

from dataclasses import dataclass

import numpy as np

from voltlab.analysis.xrd.peaks import PeakList

STRONG_FRACTION = 0.1
MIN_TOLERANCE_DEG = 0.12


@dataclass(frozen=True)
class PhaseMatch:
    """How well one phase's strong reflections are seen among the observed peaks."""

    name: str
    matched: int
    expected: int
    score: float
    """Intensity-weighted fraction (0-1) of the strong reflections with an observed peak."""


def _tolerance(peaks: PeakList) -> np.ndarray:
    return np.maximum(MIN_TOLERANCE_DEG, peaks.fwhm)


def match_phase(
    name: str, centres: np.ndarray, intensity: np.ndarray, peaks: PeakList, lo: float, hi: float
) -> PhaseMatch:
    """Match reflections ``centres`` (m,) with ``intensity`` (m,) to ``peaks`` in [lo, hi] deg."""
    inside = (centres >= lo) & (centres <= hi)
    if not inside.any() or intensity[inside].max() <= 0:
        return PhaseMatch(name, 0, 0, 0.0)
    strong = inside & (intensity >= STRONG_FRACTION * intensity[inside].max())
    if len(peaks) == 0:
        return PhaseMatch(name, 0, int(strong.sum()), 0.0)
    gap = np.abs(centres[strong][:, None] - peaks.two_theta[None, :])
    seen = (gap <= _tolerance(peaks)[None, :]).any(axis=1)
    weights = intensity[strong]
    return PhaseMatch(
        name, int(seen.sum()), int(strong.sum()), float(weights[seen].sum() / weights.sum())
    )


def unexplained_peaks(
    peaks: PeakList, reflections: list[np.ndarray], min_height_fraction: float = 0.05
) -> np.ndarray:
    """Centres (degrees) of peaks above ``min_height_fraction`` of the tallest that lie near no
    reflection in ``reflections`` (a list of (m_p,) arrays of positions)."""
    if len(peaks) == 0:
        return np.empty(0)
    tall = peaks.height >= min_height_fraction * peaks.height.max()
    known = np.concatenate(reflections) if reflections else np.empty(0)
    if known.size == 0:
        return peaks.two_theta[tall]
    gap = np.abs(peaks.two_theta[:, None] - known[None, :]).min(axis=1)
    return peaks.two_theta[tall & (gap > _tolerance(peaks))]
