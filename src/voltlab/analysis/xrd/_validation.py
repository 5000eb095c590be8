"""Checks on a measured pattern before any analysis touches it.

A pattern is two 1-D arrays of equal length: 2-theta (degrees, strictly increasing) and counts
per step (finite, non-negative). Anything else is refused with a message that names the problem,
so a broken file never turns into a plausible-looking number.
"""

import numpy as np

from voltlab.analysis.xrd._errors import XRDAnalysisError

MIN_POINTS = 200
"""Fewer points than this cannot resolve the layered phase's peaks and a background."""


def validate_pattern(two_theta: object, counts: object) -> tuple[np.ndarray, np.ndarray]:
    """Return float copies of ``two_theta`` (degrees) and ``counts``, shape (n,), or raise
    :class:`XRDAnalysisError` naming what is wrong."""
    x = np.array(two_theta, dtype=float, copy=True)
    y = np.array(counts, dtype=float, copy=True)
    if x.ndim != 1 or y.ndim != 1:
        raise XRDAnalysisError(f"two_theta and counts must be 1-D, got shapes {x.shape}, {y.shape}")
    if x.size == 0:
        raise XRDAnalysisError("empty pattern: no points")
    if x.size != y.size:
        raise XRDAnalysisError(f"two_theta has {x.size} points but counts has {y.size}")
    if x.size < MIN_POINTS:
        raise XRDAnalysisError(f"truncated pattern: {x.size} points, at least {MIN_POINTS} needed")
    for name, arr in (("two_theta", x), ("counts", y)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise XRDAnalysisError(
                f"{name} has {bad.size} non-finite values (NaN or inf), first at index {bad[0]}"
            )
    steps = np.diff(x)
    if np.any(steps < 0):
        raise XRDAnalysisError(
            f"two_theta is not sorted: decreases at index {np.argmax(steps < 0)}"
        )
    if np.any(steps == 0):
        raise XRDAnalysisError(
            f"two_theta is not strictly increasing: duplicated value at index {np.argmax(steps == 0)}"
        )
    if np.any(y < 0):
        raise XRDAnalysisError(f"counts has negative values, first at index {np.argmax(y < 0)}")
    if x[0] <= 0.0 or x[-1] >= 180.0:
        raise XRDAnalysisError(f"two_theta must lie in (0, 180) degrees, got {x[0]}..{x[-1]}")
    return x, y


def require_coverage(two_theta: np.ndarray, lo: float, hi: float, what: str) -> None:
    """Raise unless the measured range covers [lo, hi] degrees, where ``what`` must be seen."""
    if two_theta[0] > lo or two_theta[-1] < hi:
        raise XRDAnalysisError(
            f"truncated range {two_theta[0]:.2f}-{two_theta[-1]:.2f} degrees 2-theta misses "
            f"{what} ({lo:.1f}-{hi:.1f} degrees)"
        )
