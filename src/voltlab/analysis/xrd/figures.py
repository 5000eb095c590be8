"""Report figure of a whole-pattern fit: observed, calculated, residual and phase ticks.

Built on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, so it needs no display and
touches no global pyplot state; the caller saves or embeds it.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from voltlab.analysis.xrd.result import XRDResult


def plot_fit(result: XRDResult, title: str | None = None) -> Figure:
    """Observed counts, fit and background (top), residual (middle), reflection ticks of each
    detected phase (bottom), against degrees 2-theta."""
    fig = Figure(figsize=(8.0, 6.0), layout="constrained")
    FigureCanvasAgg(fig)
    top, mid, low = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1.2, 1]})
    x = result.two_theta
    top.plot(x, result.observed, ".", ms=1.5, color="0.3", label="observed")
    top.plot(x, result.calculated, lw=0.8, color="tab:red", label="fit")
    top.plot(x, result.background, lw=0.8, color="tab:green", label="background")
    top.set_ylabel("counts")
    top.legend(loc="upper right", fontsize="small")
    top.set_title(title or f"Rwp {100 * result.rwp:.2f} %, confidence {result.confidence}")
    mid.plot(x, result.observed - result.calculated, lw=0.6, color="tab:blue")
    mid.axhline(0.0, color="0.5", lw=0.5)
    mid.set_ylabel("obs - fit")
    for row, ticks in enumerate(result.ticks.values()):
        low.vlines(ticks, row + 0.1, row + 0.9, lw=0.8, color=f"C{row}")
    low.set_yticks([r + 0.5 for r in range(len(result.ticks))], list(result.ticks))
    low.set_ylim(0, max(1, len(result.ticks)))
    low.set_xlabel("2-theta (degrees)")
    return fig
