"""Report figures of cycling: capacity and retention against cycle, and dQ/dV curves.

Built on bare :class:`matplotlib.figure.Figure` objects with the Agg canvas, so they need no
display and touch no global pyplot state; the caller saves or embeds them.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from voltlab.analysis.cycling._errors import CyclingAnalysisError
from voltlab.analysis.cycling.curves import DQDV
from voltlab.analysis.cycling.fade import FadeSummary
from voltlab.analysis.cycling.metrics import CycleMetrics


def plot_capacity(
    metrics: list[CycleMetrics], fade: FadeSummary | None = None, title: str | None = None
) -> Figure:
    """Charge and discharge capacity (top; mAh/g when the metrics carry it, else mAh) and, given
    ``fade``, retention with its threshold and fitted fade line (bottom), against cycle."""
    complete = [m for m in metrics if m.complete]
    if not complete:
        raise CyclingAnalysisError("no complete cycle to plot")
    fig = Figure(figsize=(7.0, 5.5 if fade else 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 if fade else 1, 1, sharex=True, squeeze=False)[:, 0]
    cycles = [m.cycle for m in complete]
    specific = complete[0].specific_discharge_mah_g is not None
    for name, label in (("charge", "charge"), ("discharge", "discharge")):
        if specific:
            values = [getattr(m, f"specific_{name}_mah_g") for m in complete]
        else:
            values = [1000.0 * getattr(m, f"{name}_capacity_ah") for m in complete]
        axes[0].plot(cycles, values, ".", ms=3, label=label)
    axes[0].set_ylabel("capacity (mAh/g)" if specific else "capacity (mAh)")
    axes[0].legend(fontsize="small")
    axes[0].set_title(title or f"{len(complete)} complete cycles")
    if fade:
        ax = axes[1]
        ax.plot(fade.cycles, 100 * fade.retention, ".", ms=3, color="tab:blue")
        ax.axhline(100 * fade.threshold, color="0.5", ls="--", lw=0.8)
        lo, hi = fade.fade_window
        end = fade.cycles_to_threshold if fade.extrapolated else hi
        ax.plot(
            [lo, end],
            [100 * fade.fit_intercept - fade.fade_rate_pct_per_cycle * c for c in (lo, end)],
            color="tab:red",
            lw=0.8,
            label=f"fade {fade.fade_rate_pct_per_cycle:.3f} %/cycle",
        )
        ax.set_ylabel(f"retention (% of cycle {fade.reference_cycle})")
        ax.legend(fontsize="small")
    axes[-1].set_xlabel("cycle")
    return fig


def plot_dqdv(curves: list[DQDV], title: str | None = None) -> Figure:
    """dQ/dV (mAh/V) against voltage, one line per curve, labelled by cycle."""
    if not curves:
        raise CyclingAnalysisError("no dQ/dV curve to plot")
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for curve in curves:
        ax.plot(
            curve.voltage_v,
            1000.0 * curve.dq_dv_ah_per_v,
            lw=0.9,
            label=f"cycle {curve.cycle} {curve.direction}",
        )
    ax.set_xlabel("voltage (V)")
    ax.set_ylabel("dQ/dV (mAh/V)")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig
