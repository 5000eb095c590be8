"""Campaigns: create from YAML, list, get, start, pause, resume, abort."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from voltlab.orchestrator import control
from voltlab.orchestrator.store import CampaignRow
from voltlab.server import reads
from voltlab.server.auth import Operator, Viewer
from voltlab.server.engines import EngineHandle
from voltlab.server.errors import ConflictError, InvalidInputError, UnsupportedMediaError
from voltlab.server.models import (
    ActionOut,
    CampaignDetailOut,
    CampaignOut,
    EngineOut,
    EventOut,
    StartOut,
)
from voltlab.server.routes.common import ACT, READ, CampaignId, Runtime, errors
from voltlab.server.runtime import CAMPAIGN_ID_PATTERN

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")
EXAMPLE_YAML = """\
name: fast-charge
seed: 1
space:
  parameters:
    - {kind: continuous, name: cc1_c_rate, lower: 3.6, upper: 8.0}
    - {kind: continuous, name: cc2_c_rate, lower: 3.6, upper: 8.0}
objectives:
  - {name: cycle_life, metric: cycling.predicted_cycle_life, direction: maximise}
  - {name: retention, metric: cycling.retention, direction: maximise}
workflow:
  - step: cycle
    cathode_mass_g: 0.015
    protocol: {kind: fast_charge, cycles: 100, charge_time_min: 10.0, discharge_c_rate: 4.0,
               v_min: 2.5, v_max: 4.2}
  - step: analyse
budget: {experiments: 8}
instruments:
  cycler: {endpoint: "tcp://127.0.0.1:5555", stream_endpoint: "tcp://127.0.0.1:5556"}
"""


def engine_out(handle: EngineHandle | None) -> EngineOut | None:
    if handle is None:
        return None
    return EngineOut(
        running=handle.running,
        started_at=handle.started_at,
        finished_at=handle.finished_at,
        error=handle.error,
    )


def _summary(row: CampaignRow, counts: dict[str, int], handle: EngineHandle | None) -> dict:
    return {
        "id": row.id, "name": row.name, "state": row.state.value, "requested": row.requested,
        "reason": row.reason, "created_at": row.created_at, "started_at": row.started_at,
        "finished_at": row.finished_at, "experiments": counts, "engine": engine_out(handle),
    }  # fmt: skip


async def _detail(runtime: Runtime, campaign_id: str) -> CampaignDetailOut:
    row = await runtime.campaign(campaign_id)
    counts = await runtime.read(reads.experiment_counts)
    return CampaignDetailOut(
        **_summary(row, counts.get(row.id, {}), runtime.engine(row.id)),
        seed=row.seed,
        approve=bool(row.config.get("approve", False)),
        config_yaml=row.config_yaml,
        config=row.config,
        software=row.software,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The campaign file (YAML), as `voltlab run` reads it.",
            "content": {
                media: {"schema": {"type": "string"}, "example": EXAMPLE_YAML}
                for media in YAML_TYPES
            },
        }
    },
)
async def create_campaign(
    request: Request,
    runtime: Runtime,
    _: Operator,
    campaign_id: Annotated[
        str | None,
        Query(pattern=CAMPAIGN_ID_PATTERN, description="Id to give it (default: name-time)."),
    ] = None,
) -> CampaignDetailOut:
    """Validate a campaign YAML and store it (state created); start it with `/start`.
    An invalid file gives 422 naming each wrong field."""
    media = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    if media not in YAML_TYPES:
        raise UnsupportedMediaError(f"body media type {media!r}: send the YAML as {YAML_TYPES[0]}")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"body: the campaign YAML must be UTF-8 ({exc.reason})") from exc
    created = await runtime.create_campaign(text, campaign_id)
    return await _detail(runtime, created)


@router.get("", responses=errors())
async def list_campaigns(runtime: Runtime, _: Viewer) -> list[CampaignOut]:
    """Every campaign in the lab file, oldest first."""
    rows = await runtime.read(lambda s: s.campaigns())
    counts = await runtime.read(reads.experiment_counts)
    return [
        CampaignOut(**_summary(row, counts.get(row.id, {}), runtime.engine(row.id))) for row in rows
    ]


@router.get("/{campaign_id}", responses=READ)
async def get_campaign(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> CampaignDetailOut:
    """One campaign with its configuration, experiment counts and engine."""
    return await _detail(runtime, campaign_id)


@router.post("/{campaign_id}/start", status_code=status.HTTP_202_ACCEPTED, responses=ACT)
async def start_campaign(campaign_id: CampaignId, runtime: Runtime, _: Operator) -> StartOut:
    """Run the campaign's engine in this server (or resume it after a stop or crash)."""
    await runtime.start_campaign(campaign_id)
    engine = engine_out(runtime.engine(campaign_id))
    if engine is None:
        raise ConflictError(f"campaign {campaign_id}: the engine did not start")
    return StartOut(campaign_id=campaign_id, engine=engine)


Action = Literal["pause", "resume", "abort"]
ACTIONS = {"pause": control.pause, "resume": control.resume, "abort": control.abort}


async def _request(runtime: Runtime, campaign_id: str, action: Action) -> ActionOut:
    await runtime.campaign(campaign_id)
    act = ACTIONS[action]
    event = await runtime.act(lambda s: act(s, campaign_id))
    return ActionOut(campaign_id=campaign_id, event=EventOut(**event))


@router.post("/{campaign_id}/pause", status_code=status.HTTP_202_ACCEPTED, responses=ACT)
async def pause(campaign_id: CampaignId, runtime: Runtime, _: Operator) -> ActionOut:
    """No new step starts; running device jobs go on. The engine acts within a poll period."""
    return await _request(runtime, campaign_id, "pause")


@router.post("/{campaign_id}/resume", status_code=status.HTTP_202_ACCEPTED, responses=ACT)
async def resume(campaign_id: CampaignId, runtime: Runtime, _: Operator) -> ActionOut:
    """Continue a paused campaign."""
    return await _request(runtime, campaign_id, "resume")


@router.post("/{campaign_id}/abort", status_code=status.HTTP_202_ACCEPTED, responses=ACT)
async def abort(campaign_id: CampaignId, runtime: Runtime, _: Operator) -> ActionOut:
    """Stop the campaign: running device jobs are stopped, unfinished experiments aborted."""
    return await _request(runtime, campaign_id, "abort")
