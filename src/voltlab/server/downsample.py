"""Downsampling curves for display: Largest-Triangle-Three-Buckets (LTTB).

LTTB keeps the first and last point and, from each of ``n - 2`` equal buckets in between, the
point making the largest triangle with the point kept before it and the next bucket's mean; a
curve keeps its shape (peaks, knees of a voltage curve) with far fewer points than striding.
"""

import numpy as np


def lttb_indices(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Indices (ascending) of at most ``n`` points of the curve ``(x, y)`` to keep; all of them
    when there are no more than ``n``. NaN in ``y`` counts as 0 when choosing."""
    size = len(x)
    if n < 3:
        raise ValueError(f"max_points must be at least 3, got {n}")
    if size <= n:
        return np.arange(size)
    x = np.asarray(x, dtype=float)
    y = np.nan_to_num(np.asarray(y, dtype=float))
    edges = np.linspace(1, size - 1, n - 1).astype(int)
    kept = np.empty(n, dtype=int)
    kept[0], kept[-1] = 0, size - 1
    previous = 0
    for bucket in range(n - 2):
        start, stop = edges[bucket], edges[bucket + 1]
        following = slice(stop, edges[bucket + 2] if bucket + 2 < n - 1 else size)
        mean_x, mean_y = x[following].mean(), y[following].mean()
        xs, ys = x[start:stop], y[start:stop]
        area = np.abs(
            (x[previous] - mean_x) * (ys - y[previous])
            - (x[previous] - xs) * (mean_y - y[previous])
        )
        previous = start + int(np.argmax(area))
        kept[bucket + 1] = previous
    return kept
