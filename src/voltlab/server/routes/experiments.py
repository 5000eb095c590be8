"""Experiments with their steps, samples with their lineage."""

from fastapi import APIRouter

from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.store import SampleRow, Store
from voltlab.server import reads
from voltlab.server.auth import Viewer
from voltlab.server.data_models import (
    AnalysisOut,
    ExperimentDetailOut,
    ExperimentOut,
    SampleDetailOut,
    SampleOut,
    StepOut,
)
from voltlab.server.errors import NotFoundError
from voltlab.server.reads import finite
from voltlab.server.routes.common import READ, CampaignId, ExperimentId, Runtime, SampleId
from voltlab.server.routes.operator import experiment_out

router = APIRouter(prefix="/api", tags=["experiments and samples"])


def sample_out(row: SampleRow) -> dict:
    return {
        "id": row.id,
        "campaign_id": row.campaign_id,
        "experiment_id": row.experiment_id,
        "kind": row.kind,
        "parent_id": row.parent_id,
        "step_id": row.step_id,
        "data": finite(row.data),
        "created_at": row.created_at,
    }


@router.get("/campaigns/{campaign_id}/experiments", responses=READ)
async def experiments(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> list[ExperimentOut]:
    """The campaign's experiments in order, with parameters, outcomes and state."""
    await runtime.campaign(campaign_id)
    rows = await runtime.read(lambda s: s.experiments(campaign_id))
    return [experiment_out(row) for row in rows]


@router.get("/experiments/{experiment_id}", responses=READ)
async def experiment(
    experiment_id: ExperimentId, runtime: Runtime, _: Viewer
) -> ExperimentDetailOut:
    """One experiment with its steps (state, attempt, device job, resource), samples and
    analysis metrics."""
    await runtime.check_experiment(experiment_id)

    def gather(store: Store) -> ExperimentDetailOut:
        row = store.experiment(experiment_id)
        steps = [
            StepOut(
                id=s.id,
                position=s.position,
                kind=s.kind,
                state=s.state.value,
                attempt=s.attempt,
                job_id=s.job_id,
                resource=s.resource,
                result=finite(s.result),
                error=s.error,
                started_at=s.started_at,
                finished_at=s.finished_at,
            )
            for s in store.steps(experiment_id)
        ]
        analyses = [
            AnalysisOut(
                step_id=a["step_id"],
                experiment_id=experiment_id,
                kind=a["kind"],
                metrics=finite(a["metrics"]),
            )
            for a in store.analyses(experiment_id)
        ]
        samples = [SampleOut(**sample_out(s)) for s in store.samples(experiment_id)]
        return ExperimentDetailOut(
            **experiment_out(row).model_dump(), steps=steps, samples=samples, analyses=analyses
        )

    return await runtime.read(gather)


@router.get("/campaigns/{campaign_id}/samples", responses=READ)
async def samples(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> list[SampleOut]:
    """Every sample of the campaign: powders, and the cells built from them (parent_id)."""
    await runtime.campaign(campaign_id)

    def gather(store: Store) -> list[SampleOut]:
        rows = store.db["samples"].rows_where("campaign_id = ?", [campaign_id], order_by="rowid")
        return [SampleOut(**sample_out(SampleRow.from_row(r))) for r in rows]

    return await runtime.read(gather)


@router.get("/samples/{sample_id}", responses=READ)
async def sample(sample_id: SampleId, runtime: Runtime, _: Viewer) -> SampleDetailOut:
    """One sample with its lineage (cell -> powder) and what was made from it."""

    def gather(store: Store) -> SampleDetailOut | None:
        if not store.db["samples"].count_where("id = ?", [sample_id]):
            return None
        lab = Lab(store)
        return SampleDetailOut(
            **sample_out(lab.sample(sample_id)),
            lineage=lab.lineage(sample_id),
            children=reads.children(store, sample_id),
        )

    found = await runtime.read(gather)
    if found is None:
        raise NotFoundError(f"no sample {sample_id!r}")
    return found
