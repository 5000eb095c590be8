"""The report's tables as HTML (pandas ``to_html``, escaped): the campaign's configuration, the
experiments with their outcomes, and the planner's decisions."""

import html
import json

import pandas as pd

from voltlab.orchestrator.campaign import GateStep, Step
from voltlab.orchestrator.lab import PARAM_PREFIX, outcome_values
from voltlab.orchestrator.report.data import ReportData

TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def _number(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _html(frame: pd.DataFrame) -> str:
    shown = frame.map(_number) if len(frame) else frame
    return shown.to_html(index=False, border=0, classes="data", escape=True, na_rep="")


def _when(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return pd.Timestamp(seconds, unit="s", tz="UTC").strftime(TIME_FORMAT)


def _bounds(low: float | None, high: float | None) -> str:
    parts = [f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else ""]
    return " ".join(p for p in parts if p)


def _step_text(step: Step) -> str:
    if isinstance(step, GateStep):
        return f"gate({step.metric} {_bounds(step.min, step.max)})"
    return step.step


def config_table(data: ReportData) -> str:
    """Campaign id, state, budget, planner, objectives, constraints and workflow, one per row."""
    row, campaign = data.row, data.campaign
    objectives = [
        f"{o.name}: {o.direction} {o.metric} [{a.unit}]"
        + (f", reference {o.reference:g}" if o.reference is not None else "")
        for o, a in zip(campaign.objectives, data.axes, strict=True)
    ]
    constraints = [f"{c.name}: {c.metric} {_bounds(c.min, c.max)}" for c in campaign.constraints]
    budget = campaign.budget
    items = {
        "campaign": f"{data.campaign_id} ({campaign.name})",
        "description": campaign.description.strip(),
        "state": f"{row.state}" + (f": {row.reason}" if row.reason else ""),
        "created / started / finished": " / ".join(
            _when(t) for t in (row.created_at, row.started_at, row.finished_at)
        ),
        "seed": str(campaign.seed),
        "planner": campaign.planner.kind
        + (f" {json.dumps(campaign.planner.options)}" if campaign.planner.options else ""),
        "budget": f"{budget.experiments} experiments"
        + (f", {budget.wall_time_min:g} min" if budget.wall_time_min else "")
        + (f", at most {budget.max_failures} failures" if budget.max_failures else ""),
        "concurrency": f"{campaign.concurrency.mode}, up to "
        f"{campaign.concurrency.max_in_flight} in flight"
        + (", approve before run" if campaign.approve else ""),
        "objectives": "; ".join(objectives),
        "constraints": "; ".join(constraints) or "none",
        "workflow": " → ".join(_step_text(step) for step in campaign.workflow),
        "software": ", ".join(f"{k} {v}" for k, v in sorted(row.software.items()))
        or "not recorded",
    }
    return _html(pd.DataFrame({"": list(items), "value": list(items.values())}))


def experiments_table(data: ReportData) -> str:
    """Every experiment: state, whether it is on the front, parameters, objectives and
    constraint values (their units as in the configuration table; the measured metric where an
    experiment stopped before its outcomes), failure or exclusion."""
    frame = data.experiments
    params = [c for c in frame.columns if c.startswith(PARAM_PREFIX)]

    shown = pd.DataFrame(
        {
            "#": frame["number"],
            "experiment": frame["id"],
            "state": frame["state"],
            "source": frame["source"],
            "front": frame["on_front"].map({True: "★", False: ""}),
            "feasible": frame["feasible"].map({True: "yes", False: "no"}),
        }
    )
    for column in params:
        shown[column.removeprefix(PARAM_PREFIX)] = frame[column]
    for name, metric in data.campaign.outcome_metrics.items():
        # a gated experiment has no outcomes, but its measured metrics (purity, cost) tell why
        shown[name] = outcome_values(frame, name).fillna(outcome_values(frame, metric))
    notes = frame["failure"].fillna("").astype(str)
    excluded = frame["excluded"].astype(bool)
    notes[excluded] = "excluded: " + frame.loc[excluded, "exclude_reason"].fillna("").astype(str)
    shown["note"] = notes
    return _html(shown)


def decisions_table(data: ReportData) -> str:
    """One row per planner decision: strategy, acquisition value, the model's predictions
    (mean ± std, the objective's unit), pending experiments and planning time."""
    frame = data.decisions
    numbers = data.experiments.set_index("id")["number"]
    shown = pd.DataFrame(
        {
            "#": frame["experiment_id"].map(numbers),
            "experiment": frame["experiment_id"],
            "planner": frame["planner"],
            "strategy": frame["strategy"],
            "acquisition": frame["acquisition_value"],
        }
    )
    for axis in data.axes:
        mean, std = f"predicted.{axis.name}.mean", f"predicted.{axis.name}.std"
        if mean in frame:
            shown[f"predicted {axis.name}"] = [
                "" if pd.isna(m) else f"{m:.4g} ± {s:.2g}"
                for m, s in zip(frame[mean], frame[std], strict=True)
            ]
    shown["failure risk"] = frame["failure_risk"]
    shown["pending"] = frame["pending"]
    shown["planning time [ms]"] = 1000.0 * frame["duration_s"]
    shown["note"] = frame["note"]
    return _html(shown)


def escape(text: str) -> str:
    return html.escape(text, quote=True)
