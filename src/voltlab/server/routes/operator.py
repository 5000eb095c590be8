"""Human in the loop: suggestions awaiting approval (approve, veto), manual experiments,
excluding a result."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, status

from voltlab.orchestrator import control
from voltlab.orchestrator.states import ExperimentState
from voltlab.orchestrator.store import ExperimentRow, Store
from voltlab.planners import SearchSpace
from voltlab.server.auth import Operator, Viewer
from voltlab.server.data_models import ExperimentOut
from voltlab.server.models import ActionOut, EventOut, ManualIn, ManualOut, ReasonIn
from voltlab.server.reads import finite
from voltlab.server.routes.common import ACT, READ, CampaignId, ExperimentId, Runtime

router = APIRouter(prefix="/api", tags=["operator"])


def experiment_out(row: ExperimentRow) -> ExperimentOut:
    return ExperimentOut(
        id=row.id, campaign_id=row.campaign_id, number=row.number, source=row.source,
        state=row.state.value, parameters=row.parameters, reason=finite(row.reason),
        outcomes=finite(row.outcomes), failure=row.failure, excluded=row.excluded,
        exclude_reason=row.exclude_reason, created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


@router.get("/campaigns/{campaign_id}/suggestions", responses=READ)
async def suggestions(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> list[ExperimentOut]:
    """Suggested experiments awaiting an operator's approval (approve mode), with the
    planner's reason (acquisition value, predictions)."""
    await runtime.campaign(campaign_id)
    rows = await runtime.read(
        lambda s: s.experiments(campaign_id, [ExperimentState.AWAITING_APPROVAL])
    )
    return [experiment_out(row) for row in rows]


async def _on_experiment(
    runtime: Runtime, experiment_id: str, action: Callable[[Store], dict[str, Any]]
) -> ActionOut:
    await runtime.check_experiment(experiment_id)
    event = await runtime.act(action)
    return ActionOut(campaign_id=event["campaign_id"], event=EventOut(**event))


@router.post("/experiments/{experiment_id}/approve", responses=ACT)
async def approve(experiment_id: ExperimentId, runtime: Runtime, _: Operator) -> ActionOut:
    """Let a suggested experiment run."""
    return await _on_experiment(runtime, experiment_id, lambda s: control.approve(s, experiment_id))


@router.post("/experiments/{experiment_id}/veto", responses=ACT)
async def veto(
    experiment_id: ExperimentId, body: ReasonIn, runtime: Runtime, _: Operator
) -> ActionOut:
    """Reject a suggestion before it runs (it does not count against the budget)."""
    return await _on_experiment(
        runtime, experiment_id, lambda s: control.veto(s, experiment_id, body.reason)
    )


@router.post("/experiments/{experiment_id}/exclude", responses=ACT)
async def exclude(
    experiment_id: ExperimentId, body: ReasonIn, runtime: Runtime, _: Operator
) -> ActionOut:
    """Keep a finished result out of the model (its data stay)."""
    return await _on_experiment(
        runtime, experiment_id, lambda s: control.exclude(s, experiment_id, body.reason)
    )


@router.post(
    "/campaigns/{campaign_id}/experiments", status_code=status.HTTP_201_CREATED, responses=ACT
)
async def add_manual(
    campaign_id: CampaignId, body: ManualIn, runtime: Runtime, _: Operator
) -> ManualOut:
    """Queue an experiment the operator chose. Parameters are checked against the campaign's
    search space (422 naming the parameter); it runs like a suggested one."""
    row = await runtime.campaign(campaign_id)
    SearchSpace.model_validate(row.config["space"]).check_point(body.parameters, "parameters")
    event = await runtime.act(
        lambda s: control.add_manual(s, campaign_id, body.parameters, body.note)
    )
    return ManualOut(
        campaign_id=campaign_id,
        experiment_id=event["data"]["experiment_id"],
        event=EventOut(**event),
    )
