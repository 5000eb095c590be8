"""The report's figures, drawn with matplotlib's object API (Agg canvas, no pyplot state), each
saved as a PNG file. Every function takes the collected :class:`ReportData` and a path."""

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from voltlab.orchestrator.lab import outcome_values
from voltlab.orchestrator.report.data import Axis, ReportData

DPI = 110
FRONT, DOMINATED, INFEASIBLE, OTHER = "tab:red", "tab:blue", "tab:orange", "0.35"


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, format="png")
    return path


def _label(data: ReportData, experiment_id: str) -> str:
    return f"#{data.number(experiment_id)}"


def hypervolume_figure(data: ReportData, path: Path) -> Path:
    """Hypervolume of the feasible results so far against the experiment number."""
    history = data.history
    figure = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = figure.add_subplot()
    ax.step(history["number"], history["hypervolume"], where="post", color=FRONT, lw=1.8)
    feasible = history["feasible"].astype(bool)
    ax.plot(history.loc[feasible, "number"], history.loc[feasible, "hypervolume"], "o",
            color=FRONT, label="feasible result")  # fmt: skip
    ax.plot(history.loc[~feasible, "number"], history.loc[~feasible, "hypervolume"], "x",
            color=OTHER, label="infeasible, gated or failed")  # fmt: skip
    reference = ", ".join(f"{k} {v:.4g}" for k, v in history.attrs["reference_point"].items())
    ax.set_title(f"Hypervolume vs experiments (reference, {history.attrs['reference']}: "
                 f"{reference or 'none yet'})", fontsize=10)  # fmt: skip
    ax.set_xlabel("experiment number")
    ax.set_ylabel("dominated hypervolume\n(product of objective units)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def _scatter(ax: Axes, frame: pd.DataFrame, x: Axis, y: Axis) -> int:
    """Draw one objective pair; return how many experiments lacked a value to plot."""
    xs, ys = outcome_values(frame, x.name), outcome_values(frame, y.name)
    plotted = xs.notna() & ys.notna()
    completed = frame["state"] == "completed"
    groups = [
        ("Pareto front", frame["on_front"], dict(marker="o", s=70, color=FRONT, ec="k", zorder=4)),
        ("feasible, dominated", frame["feasible"] & ~frame["on_front"],
         dict(marker="o", s=40, color=DOMINATED, alpha=0.7)),
        ("constraint violated", completed & ~frame["feasible"] & ~frame["excluded"],
         dict(marker="D", s=40, color=INFEASIBLE)),
        ("excluded by operator", frame["excluded"], dict(marker="o", s=50, fc="none", ec=OTHER)),
        ("gated or failed", ~completed, dict(marker="x", s=50, color=OTHER)),
    ]  # fmt: skip
    for label, mask, style in groups:
        chosen = mask & plotted
        if chosen.any():
            ax.scatter(xs[chosen], ys[chosen], label=label, **style)
    for number, xv, yv in zip(frame["number"][plotted], xs[plotted], ys[plotted], strict=True):
        ax.annotate(str(number), (xv, yv), textcoords="offset points", xytext=(5, 4), fontsize=7)
    ax.set_xlabel(x.label, fontsize=8)
    ax.set_ylabel(y.label, fontsize=8)
    ax.grid(alpha=0.3)
    return int((~plotted).sum())


def pareto_figure(data: ReportData, path: Path) -> Path:
    """Every pair of objectives; the front highlighted, other results marked by kind."""
    frame = data.experiments
    if len(data.axes) == 1:
        pairs = [(Axis("number", "", "experiment", "maximise"), data.axes[0])]
        frame = frame.assign(**{"outcome.number": frame["number"]})
    else:
        pairs = list(combinations(data.axes, 2))
    figure = Figure(figsize=(4.3 * len(pairs), 4.2), layout="constrained")
    missing = 0
    for i, (x, y) in enumerate(pairs):
        missing = max(missing, _scatter(figure.add_subplot(1, len(pairs), i + 1), frame, x, y))
    handles, labels = figure.axes[0].get_legend_handles_labels()
    for ax in figure.axes[1:]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if labels:
        figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    note = f"; {missing} experiment(s) without the values to plot" if missing else ""
    note = note if len(frame) else ": no experiment results yet"
    figure.suptitle(f"Pareto front (numbers are experiment numbers){note}", fontsize=10)
    return _save(figure, path)


def capacity_fade_figure(data: ReportData, path: Path) -> Path:
    """Discharge capacity against cycle for each cycled cell (mAh/g when the mass is known)."""
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = figure.add_subplot()
    specific = all(
        "specific_discharge_mah_g" in m and m["specific_discharge_mah_g"].notna().any()
        for m in data.cells.values()
    )
    for index, (experiment_id, metrics) in enumerate(data.cells.items()):
        done = metrics[metrics["complete"].astype(bool)]
        values = (done["specific_discharge_mah_g"] if specific
                  else 1000.0 * done["discharge_capacity_ah"])  # fmt: skip
        front = data.experiments.set_index("id").loc[experiment_id, "on_front"]
        ax.plot(done["cycle"], values, "-" if index < 10 else "--", marker=".", ms=3,
                lw=1.6 if front else 1.0, color=f"C{index % 10}",
                label=f"{_label(data, experiment_id)}{' (front)' if front else ''}")  # fmt: skip
    ax.set_xlabel("cycle")
    ax.set_ylabel("discharge capacity [mAh/g]" if specific else "discharge capacity [mAh]")
    ax.set_title("Discharge capacity vs cycle", fontsize=10)
    ax.grid(alpha=0.3)
    if data.cells:
        ax.legend(fontsize=8, ncols=2)
    else:
        ax.text(0.5, 0.5, "no cell was cycled", ha="center", transform=ax.transAxes)
    return _save(figure, path)


def _cumulative_mah(cycle: pd.DataFrame) -> np.ndarray:
    """Charge passed since the segment started (mAh), from |current| and time."""
    dt = np.diff(cycle["time_s"].to_numpy(), prepend=cycle["time_s"].iloc[0])
    return np.cumsum(np.abs(cycle["current_a"].to_numpy()) * dt) / 3.6


def voltage_curves_figure(data: ReportData, path: Path) -> Path:
    """Charge and discharge voltage against capacity for a few cells: the first cycle after
    formation (solid) and the last complete cycle (dashed)."""
    figure = Figure(figsize=(8.5, 4.6), layout="constrained")
    ax = figure.add_subplot()
    formation = data.formation_cycles
    per_gram = all(mass for _, mass in data.curves.values())
    for index, (experiment_id, (points, mass)) in enumerate(data.curves.items()):
        metrics = data.cells.get(experiment_id)
        complete = metrics.loc[metrics["complete"].astype(bool), "cycle"].tolist() if (
            metrics is not None) else sorted(points["cycle"].unique())  # fmt: skip
        after = [c for c in complete if c > formation] or complete
        cycles = sorted({after[0], after[-1]}) if after else []
        for cycle_number, style in zip(cycles, ("-", "--"), strict=False):
            cycle = points[points["cycle"] == cycle_number]
            for sign in (-1.0, 1.0):
                segment = cycle[np.sign(cycle["current_a"]) == sign]
                if len(segment) < 2:
                    continue
                capacity = _cumulative_mah(segment) / (mass if per_gram and mass else 1.0)
                ax.plot(capacity, segment["voltage_v"], style, color=f"C{index}", lw=1.2,
                        label=f"{_label(data, experiment_id)} cycle {cycle_number}"
                        if sign > 0 else None)  # fmt: skip
    ax.set_xlabel("capacity [mAh/g]" if per_gram else "capacity [mAh]")
    ax.set_ylabel("voltage [V]")
    ax.set_title("Voltage vs capacity (solid: first cycle after formation, dashed: last)",
                 fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3)
    if data.curves:
        figure.legend(fontsize=8, loc="outside right upper")
    return _save(figure, path)


def xrd_figure(data: ReportData, path: Path) -> Path:
    """Observed pattern, fitted pattern and background of a few powders, with the residual."""
    n = max(len(data.patterns), 1)
    figure = Figure(figsize=(9.0, 2.8 * n), layout="constrained")
    axes = figure.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    experiments = data.experiments.set_index("id")
    for ax, (experiment_id, pattern) in zip(axes, data.patterns.items(), strict=False):
        two_theta = pattern["two_theta"]
        ax.plot(two_theta, pattern["counts"], color="0.55", lw=0.6, label="observed")
        ax.plot(two_theta, pattern["calculated"], color=FRONT, lw=0.9, label="calculated")
        ax.plot(two_theta, pattern["background"], "--", color=DOMINATED, lw=0.9,
                label="background")  # fmt: skip
        residual = pattern["counts"] - pattern["calculated"]
        offset = pattern["counts"].min() - residual.max()
        ax.plot(two_theta, residual + offset, color="tab:green", lw=0.5, label="observed - calc.")
        phases = ", ".join(
            f"{p['name']} {p['weight_fraction']:.3f}"
            for p in pattern.attrs.get("phases", []) if p.get("detected")
        )  # fmt: skip
        rwp = pattern.attrs.get("rwp")
        ax.set_title(
            f"{_label(data, experiment_id)} {pattern.attrs.get('sample_id', '')} "
            f"({experiments.loc[experiment_id, 'state']}): {phases}"
            + (f"; Rwp {rwp:.3f}" if rwp is not None else ""),
            fontsize=9,
        )
        ax.set_ylabel("counts")
    axes[-1].set_xlabel("2θ [degrees]")
    if data.patterns:
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center",
                      ncols=4, fontsize=8)  # fmt: skip
    if not data.patterns:
        axes[0].text(0.5, 0.5, "no XRD pattern measured", ha="center",
                     transform=axes[0].transAxes)  # fmt: skip
    return _save(figure, path)


FIGURES = {
    "hypervolume.png": (hypervolume_figure, "Hypervolume vs experiments"),
    "pareto.png": (pareto_figure, "Pareto front"),
    "capacity_fade.png": (capacity_fade_figure, "Discharge capacity vs cycle"),
    "voltage_curves.png": (voltage_curves_figure, "Voltage vs capacity"),
    "xrd_fits.png": (xrd_figure, "XRD fits"),
}
"""File name -> (drawing function, section title), in report order."""
