"""Typed views of the store's rows (JSON columns decoded)."""

import json
from dataclasses import dataclass
from typing import Any

from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class CampaignRow:
    id: str
    name: str
    state: CampaignState
    requested: str | None
    """An operator's pending request: "pause", "resume" or "abort" (None when none)."""
    config_yaml: str
    config: dict[str, Any]
    seed: int
    planner_state: str | None
    software: dict[str, str]
    reason: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "CampaignRow":
        return cls(
            **{
                **row,
                "state": CampaignState(row["state"]),
                "config": json.loads(row["config"]),
                "software": loads(row["software"]) or {},
            }
        )


@dataclass(frozen=True)
class ExperimentRow:
    id: str
    campaign_id: str
    number: int
    source: str
    """"planner" or "manual"."""
    state: ExperimentState
    parameters: dict[str, Any]
    reason: dict[str, Any] | None
    """The planner's reason (acquisition value, predictions), or the operator's note."""
    outcomes: dict[str, float] | None
    result: dict[str, Any] | None
    """The result told to the planner (None until told)."""
    failure: str | None
    told: bool
    excluded: bool
    exclude_reason: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "ExperimentRow":
        return cls(
            **{
                **row,
                "state": ExperimentState(row["state"]),
                "parameters": json.loads(row["parameters"]),
                "reason": loads(row["reason"]),
                "outcomes": loads(row["outcomes"]),
                "result": loads(row["result"]),
                "told": bool(row["told"]),
                "excluded": bool(row["excluded"]),
            }
        )


@dataclass(frozen=True)
class StepRow:
    id: str
    experiment_id: str
    position: int
    kind: str
    state: StepState
    attempt: int
    job_id: str | None
    """The idempotency key sent to the instrument for the current attempt."""
    resource: str | None
    result: dict[str, Any] | None
    error: str | None
    started_at: float | None
    finished_at: float | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "StepRow":
        return cls(**{**row, "state": StepState(row["state"]), "result": loads(row["result"])})


@dataclass(frozen=True)
class SampleRow:
    id: str
    campaign_id: str
    experiment_id: str
    kind: str
    """"powder" or "cell"."""
    parent_id: str | None
    step_id: str
    data: dict[str, Any]
    created_at: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "SampleRow":
        return cls(**{**row, "data": loads(row["data"]) or {}})
