"""What a campaign report shows, read once from the lab file through :class:`Lab`."""

from dataclasses import dataclass, field

import pandas as pd

from voltlab.orchestrator.campaign import METRICS, Campaign, CycleStep
from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.store import CampaignRow

MAX_FADE_CELLS = 12
"""Capacity-fade curves drawn at most (front cells first), so the legend stays readable."""
MAX_VOLTAGE_CELLS = 4
MAX_XRD_POWDERS = 3


@dataclass(frozen=True)
class Axis:
    """One objective as a plot axis: name, catalogue metric, unit and direction."""

    name: str
    metric: str
    unit: str
    direction: str

    @property
    def label(self) -> str:
        better = "higher" if self.direction == "maximise" else "lower"
        return f"{self.name} [{self.unit}] ({better} is better)"


@dataclass
class ReportData:
    campaign_id: str
    row: CampaignRow
    campaign: Campaign
    experiments: pd.DataFrame
    """:meth:`Lab.feasible` plus an ``on_front`` column."""
    history: pd.DataFrame
    decisions: pd.DataFrame
    axes: list[Axis]
    cells: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Experiment id -> per-cycle metrics, for the capacity-fade figure."""
    curves: dict[str, tuple[pd.DataFrame, float | None]] = field(default_factory=dict)
    """Experiment id -> (cycling points, cathode mass g or None), for voltage curves."""
    patterns: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Experiment id -> XRD pattern with its fit."""
    formation_cycles: int = 0
    """Formation cycles of the cycle step's protocol (0 when it sets none)."""

    def number(self, experiment_id: str) -> int:
        return int(self.experiments.set_index("id").loc[experiment_id, "number"])


def _priority(experiments: pd.DataFrame) -> list[str]:
    """Experiment ids, those on the Pareto front first, then by number."""
    ranked = experiments.sort_values(["on_front", "number"], ascending=[False, True])
    return ranked["id"].tolist()


def _formation_cycles(campaign: Campaign) -> int:
    step = campaign.first_step("cycle")
    return int(step.protocol.get("formation_cycles", 0)) if isinstance(step, CycleStep) else 0


def _cathode_mass(lab: Lab, experiment_id: str) -> float | None:
    for sample in lab.store.samples(experiment_id):
        if sample.kind == "cell" and sample.data.get("cathode_mass_g"):
            return float(sample.data["cathode_mass_g"])
    return None


def collect(lab: Lab, campaign_id: str) -> ReportData:
    """Everything the figures and tables need (Pareto front, hypervolume, measurements)."""
    row = lab.store.campaign(campaign_id)
    campaign = lab.campaign(campaign_id)
    experiments = lab.feasible(campaign_id)
    front = set(lab.pareto(campaign_id)["id"])
    experiments["on_front"] = experiments["id"].isin(front)
    axes = [
        Axis(o.name, o.metric, METRICS[o.metric].unit if o.metric in METRICS else "", o.direction)
        for o in campaign.objectives
    ]
    data = ReportData(
        campaign_id=campaign_id,
        row=row,
        campaign=campaign,
        experiments=experiments,
        history=lab.hypervolume_history(campaign_id),
        decisions=lab.decisions(campaign_id),
        axes=axes,
        formation_cycles=_formation_cycles(campaign),
    )
    for experiment_id in _priority(experiments):
        metrics = lab.cycle_metrics(experiment_id)
        if len(metrics) and len(data.cells) < MAX_FADE_CELLS:
            data.cells[experiment_id] = metrics
        if len(metrics) and len(data.curves) < MAX_VOLTAGE_CELLS:
            data.curves[experiment_id] = (
                lab.cycling_points(experiment_id),
                _cathode_mass(lab, experiment_id),
            )
    for experiment_id in _xrd_order(experiments):
        pattern = lab.xrd_pattern(experiment_id)
        if len(pattern):
            data.patterns[experiment_id] = pattern
        if len(data.patterns) == MAX_XRD_POWDERS:
            break
    return data


def _xrd_order(experiments: pd.DataFrame) -> list[str]:
    """Powders worth looking at first: the front's first, a gated (impure) one, then others."""
    ordered = _priority(experiments)
    gated = experiments.loc[experiments["state"] == "gated", "id"].tolist()
    chosen = ordered[:1] + gated[:1]
    return chosen + [e for e in ordered if e not in chosen]
