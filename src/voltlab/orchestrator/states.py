"""The state machines of campaigns, experiments and steps: enums with explicit transition tables.

An illegal transition raises :class:`TransitionError`; it is never ignored. The store checks every
transition against these tables before writing it.
"""

from enum import StrEnum
from typing import TypeVar

from voltlab.orchestrator.errors import TransitionError


class CampaignState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_CAMPAIGN


class ExperimentState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    """Suggested in approve mode; runs only once an operator approves it."""
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    GATED = "gated"
    """Stopped by a gate (e.g. phase purity too low): a result, learnt as infeasible."""
    VETOED = "vetoed"
    ABORTED = "aborted"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_EXPERIMENT


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STEP


_FINAL_CAMPAIGN = {CampaignState.COMPLETED, CampaignState.ABORTED, CampaignState.FAILED}
_FINAL_EXPERIMENT = {
    ExperimentState.COMPLETED,
    ExperimentState.FAILED,
    ExperimentState.GATED,
    ExperimentState.VETOED,
    ExperimentState.ABORTED,
}
_FINAL_STEP = {StepState.COMPLETED, StepState.FAILED, StepState.SKIPPED}

CAMPAIGN_TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.CREATED: frozenset(
        {CampaignState.RUNNING, CampaignState.ABORTED, CampaignState.FAILED}
    ),
    CampaignState.RUNNING: frozenset(
        {
            CampaignState.PAUSED,
            CampaignState.COMPLETED,
            CampaignState.ABORTED,
            CampaignState.FAILED,
        }
    ),
    CampaignState.PAUSED: frozenset(
        {CampaignState.RUNNING, CampaignState.ABORTED, CampaignState.FAILED}
    ),
}
EXPERIMENT_TRANSITIONS: dict[ExperimentState, frozenset[ExperimentState]] = {
    ExperimentState.AWAITING_APPROVAL: frozenset(
        {ExperimentState.QUEUED, ExperimentState.VETOED, ExperimentState.ABORTED}
    ),
    ExperimentState.QUEUED: frozenset({ExperimentState.RUNNING, ExperimentState.ABORTED}),
    ExperimentState.RUNNING: frozenset(
        {
            ExperimentState.COMPLETED,
            ExperimentState.FAILED,
            ExperimentState.GATED,
            ExperimentState.ABORTED,
        }
    ),
}
STEP_TRANSITIONS: dict[StepState, frozenset[StepState]] = {
    StepState.PENDING: frozenset({StepState.RUNNING, StepState.SKIPPED}),
    StepState.RUNNING: frozenset(
        # RUNNING -> RUNNING: a new attempt after a device failure (new job id).
        {StepState.RUNNING, StepState.COMPLETED, StepState.FAILED, StepState.SKIPPED}
    ),
}


S = TypeVar("S", bound=StrEnum)


def check_transition(table: dict[S, frozenset[S]], what: str, current: S, target: S) -> None:
    """Raise :class:`TransitionError` unless ``current -> target`` is in ``table``."""
    if target not in table.get(current, frozenset()):
        allowed = sorted(table.get(current, frozenset()))
        raise TransitionError(
            f"{what}: cannot go from {current!s} to {target!s} "
            f"(allowed from {current!s}: {', '.join(allowed) or 'none, it is final'})"
        )
