"""Planner decisions, the Pareto front, hypervolume history and the FAIR export bundle."""

import asyncio
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from voltlab.orchestrator.export import export_bundle
from voltlab.orchestrator.lab import OUTCOME_PREFIX, PARAM_PREFIX, Lab
from voltlab.server import reads
from voltlab.server.auth import Viewer
from voltlab.server.data_models import (
    DecisionOut,
    FrontPointOut,
    HypervolumeOut,
    HypervolumePointOut,
    ObjectiveOut,
    ParetoOut,
)
from voltlab.server.reads import finite
from voltlab.server.routes.common import READ, CampaignId, Runtime

router = APIRouter(prefix="/api/campaigns", tags=["results"])


@router.get("/{campaign_id}/decisions", responses=READ)
async def decisions(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> list[DecisionOut]:
    """Every planner decision: the experiment it proposed, why (acquisition value,
    predictions), the experiments pending meanwhile and the planning time (s)."""
    await runtime.campaign(campaign_id)
    rows = await runtime.read(lambda s: reads.decisions(s, campaign_id))
    return [DecisionOut(**row) for row in rows]


def _prefixed(row: pd.Series, prefix: str) -> dict:
    return finite({k[len(prefix) :]: v for k, v in row.items() if str(k).startswith(prefix)})


@router.get("/{campaign_id}/pareto", responses=READ)
async def pareto(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> ParetoOut:
    """The feasible experiments no other feasible one dominates (completed, not excluded,
    constraints met), with their parameters and outcomes."""
    await runtime.campaign(campaign_id)

    def gather(lab: Lab) -> ParetoOut:
        campaign = lab.campaign(campaign_id)
        front = lab.pareto(campaign_id)
        return ParetoOut(
            campaign_id=campaign_id,
            objectives=[
                ObjectiveOut(name=o.name, direction=o.direction, reference=o.reference)
                for o in campaign.objectives
            ],
            front=[
                FrontPointOut(
                    experiment_id=row["id"],
                    number=int(row["number"]),
                    parameters={
                        k: v for k, v in _prefixed(row, PARAM_PREFIX).items() if v is not None
                    },
                    outcomes=_prefixed(row, OUTCOME_PREFIX),
                )
                for _, row in front.iterrows()
            ],
        )

    return await runtime.lab(gather)


@router.get("/{campaign_id}/hypervolume", responses=READ)
async def hypervolume(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> HypervolumeOut:
    """Hypervolume of the feasible results after each experiment, and its reference point."""
    await runtime.campaign(campaign_id)
    history = await runtime.lab(lambda lab: lab.hypervolume_history(campaign_id))
    return HypervolumeOut(
        campaign_id=campaign_id,
        reference=history.attrs["reference"],
        reference_point=history.attrs["reference_point"],
        history=[
            HypervolumePointOut(
                number=int(row["number"]),
                experiment_id=row["experiment_id"],
                state=row["state"],
                feasible=bool(row["feasible"]),
                hypervolume=finite(float(row["hypervolume"])),
            )
            for _, row in history.iterrows()
        ],
    )


@router.get(
    "/{campaign_id}/export",
    responses={
        **READ,
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The bundle (zip of the RO-Crate folder).",
        },
    },
    response_class=FileResponse,
)
async def export(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> FileResponse:
    """The campaign's FAIR bundle (RO-Crate: config, software versions, measurements,
    analyses, decisions, event log) as a zip."""
    await runtime.campaign(campaign_id)
    folder = Path(tempfile.mkdtemp(prefix="voltlab-export-"))
    try:
        archive = await asyncio.to_thread(
            export_bundle, runtime.lab_path, campaign_id, folder / "bundle", make_zip=True
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{campaign_id}.zip",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
