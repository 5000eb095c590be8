"""Measurements and analyses: cycling points (paged, downsampled), per-cycle metrics, the XRD
pattern with its fit, and the campaign's analysis results."""

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query

from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.store import Store
from voltlab.server import reads
from voltlab.server.auth import Viewer
from voltlab.server.data_models import AnalysisOut, CycleMetricsOut, CyclingOut, XRDOut
from voltlab.server.downsample import lttb_indices
from voltlab.server.reads import finite
from voltlab.server.routes.common import READ, SQLITE_INT_MAX, CampaignId, ExperimentId, Runtime

router = APIRouter(prefix="/api", tags=["measurements and analyses"])
MAX_PAGE = 100_000

MaxPoints = Annotated[
    int | None,
    Query(ge=3, le=MAX_PAGE, description="Downsample to at most this many points (LTTB)."),
]


def _column(values: np.ndarray) -> list[Any]:
    return finite(values.tolist())


@router.get("/experiments/{experiment_id}/cycling", responses=READ)
async def cycling(
    experiment_id: ExperimentId,
    runtime: Runtime,
    _: Viewer,
    offset: Annotated[
        int, Query(ge=0, le=SQLITE_INT_MAX, description="First point (by sequence).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Points in the page.")] = 10_000,
    max_points: MaxPoints = None,
) -> CyclingOut:
    """The cell's streamed points: a page by sequence number, optionally downsampled (LTTB on
    voltage against time, so curves keep their shape)."""
    await runtime.check_experiment(experiment_id)

    def gather(store: Store) -> CyclingOut:
        job_id = Lab(store).cycle_job(experiment_id)
        total, columns = (
            reads.point_page(store, job_id, offset, limit) if job_id else (0, reads.no_points())
        )
        n = len(columns["time_s"])
        kept = np.arange(n)
        if max_points is not None:
            kept = lttb_indices(columns["time_s"], columns["voltage_v"], max_points)
        picked = {name: values[kept] for name, values in columns.items()}
        return CyclingOut(
            experiment_id=experiment_id,
            job_id=job_id,
            total=total,
            offset=offset,
            returned=len(kept),
            downsampled=len(kept) < n,
            time_s=_column(picked["time_s"]),
            voltage_v=_column(picked["voltage_v"]),
            current_a=_column(picked["current_a"]),
            capacity_ah=_column(picked["capacity_ah"]),
            cycle=picked["cycle"].astype(int).tolist(),
            step=picked["step"].astype(int).tolist(),
        )

    return await runtime.read(gather)


@router.get("/experiments/{experiment_id}/cycle-metrics", responses=READ)
async def cycle_metrics(
    experiment_id: ExperimentId, runtime: Runtime, _: Viewer
) -> CycleMetricsOut:
    """Per-cycle metrics of the cell, as analysed inline while it cycled."""
    await runtime.check_experiment(experiment_id)

    def gather(store: Store) -> CycleMetricsOut:
        job_id = Lab(store).cycle_job(experiment_id)
        cycles = store.cycle_metrics(job_id) if job_id else []
        return CycleMetricsOut(experiment_id=experiment_id, job_id=job_id, cycles=finite(cycles))

    return await runtime.read(gather)


@router.get("/experiments/{experiment_id}/xrd", responses=READ)
async def xrd(
    experiment_id: ExperimentId, runtime: Runtime, _: Viewer, max_points: MaxPoints = None
) -> XRDOut:
    """The powder's XRD pattern (degrees 2-theta, counts) with the fitted pattern, background,
    Rwp and phases; empty lists if it was never measured."""
    await runtime.check_experiment(experiment_id)
    frame = await runtime.lab(lambda lab: lab.xrd_pattern(experiment_id))
    n = len(frame)
    kept = np.arange(n)
    if max_points is not None:
        kept = lttb_indices(frame["two_theta"].to_numpy(), frame["counts"].to_numpy(), max_points)
    picked = frame.iloc[kept]
    attrs = frame.attrs
    return XRDOut(
        experiment_id=experiment_id,
        sample_id=attrs.get("sample_id"),
        wavelength_angstrom=finite(attrs.get("wavelength_angstrom")),
        total=n,
        downsampled=len(kept) < n,
        **{
            c: _column(picked[c].to_numpy(dtype=float))
            for c in ("two_theta", "counts", "calculated", "background")
        },
        rwp=finite(attrs.get("rwp")),
        phases=finite(list(attrs.get("phases", []))),
    )


@router.get("/campaigns/{campaign_id}/analyses", responses=READ)
async def analyses(campaign_id: CampaignId, runtime: Runtime, _: Viewer) -> list[AnalysisOut]:
    """Every analysis result of the campaign (xrd, cycling, outcomes) with its metrics."""
    await runtime.campaign(campaign_id)
    rows = await runtime.read(lambda s: reads.analyses(s, campaign_id))
    return [AnalysisOut(**row) for row in rows]
