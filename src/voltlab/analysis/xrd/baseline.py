"""Background estimate of a powder pattern with pybaselines' SNIP filter.

SNIP (statistics-sensitive non-linear iterative peak clipping) clips peaks narrower than its
window and keeps the slowly varying air scatter, amorphous humps and fluorescence. The window is
set in degrees 2-theta, so it does not depend on the step size. The whole-pattern fit later adds
a low-order polynomial to this estimate, so residual errors of a few counts are refined away.
"""

import numpy as np
from pybaselines import Baseline

DEFAULT_WINDOW_DEG = 1.6
"""Half window: wider than the broadest peak clusters of a fine-grained layered oxide."""
DEFAULT_SMOOTH_DEG = 0.06


def estimate_background(
    two_theta: np.ndarray,
    counts: np.ndarray,
    window_deg: float = DEFAULT_WINDOW_DEG,
    smooth_deg: float = DEFAULT_SMOOTH_DEG,
) -> np.ndarray:
    """Background counts (n,) under ``counts`` (n,) on a validated ``two_theta`` grid (degrees)."""
    step = float(np.median(np.diff(two_theta)))
    half_window = max(2, round(window_deg / step))
    smooth = max(0, round(smooth_deg / step))
    background, _ = Baseline(two_theta, check_finite=False).snip(
        counts, max_half_window=half_window, decreasing=True, smooth_half_window=smooth
    )
    return np.minimum(background, counts.max())
