"""Cycling a cell on one cycler channel: points stored in batches as they stream, per-cycle
metrics as each cycle completes, the cell's summary metrics at the end.

After a crash the same job is reattached (the cycler knows its id) and streamed from the first
point not stored yet, so nothing is lost or stored twice.
"""

import asyncio
from typing import Any

from voltlab.analysis.cycling import CyclingAnalysisError, CyclingPoints, IncrementalCycleMetrics
from voltlab.drivers import JobFailed
from voltlab.orchestrator.instruments import BatteryCycler
from voltlab.orchestrator.metrics_of import cycle_record, cycling_summary
from voltlab.orchestrator.run_documents import RunRecorder
from voltlab.orchestrator.steps.base import StepContext, StepFailed, StepOutcome
from voltlab.orchestrator.store import POINT_COLUMNS
from voltlab.protocol import JobState
from voltlab.protocol.cycler import CellRef, PointBatch, StartParams

LIFE_METRIC = "cycling.predicted_cycle_life"


def _cycler(ctx: StepContext) -> BatteryCycler:
    if ctx.instruments.cycler is None:
        raise StepFailed("step cycle needs the cycler, which is not configured")
    return ctx.instruments.cycler


def _cell(ctx: StepContext) -> tuple[CellRef, float | None]:
    """The robot-built cell, or (cycler-only workflows) a reference cell named after the
    experiment."""
    if "cell_id" in ctx.outputs:
        cell = CellRef(cell_id=ctx.outputs["cell_id"], sample_id=ctx.outputs["powder_id"])
        return cell, ctx.outputs.get("cathode_mass_g")
    return CellRef(cell_id=f"{ctx.experiment.id}-cell"), ctx.spec.cathode_mass_g


async def _record_reference_cell(ctx: StepContext, cell: CellRef, mass: float | None) -> None:
    """Record a reference cell as a sample without a parent (once; a robot-built cell is on
    record already). Done after the start is sent: it is bookkeeping, and the store's thread
    may be busy with other channels' points."""
    if cell.sample_id is not None:
        return
    event = await ctx.store.call(
        lambda s: s.add_sample(
            cell.cell_id, ctx.experiment.id, "cell", ctx.step.id, None, {"cathode_mass_g": mass}
        )
    )
    if event:
        ctx.publish(event)


def _completed_cycles(tracker: IncrementalCycleMetrics, batch: PointBatch) -> list:
    points = CyclingPoints(batch.time_s, batch.voltage_v, batch.current_a, batch.cycle)
    return tracker.feed(points)


async def cycle(ctx: StepContext) -> StepOutcome:
    cycler = _cycler(ctx)
    assert ctx.resource is not None
    channel = int(ctx.resource.rsplit(":", 1)[1])
    cell, mass = _cell(ctx)
    protocol = ctx.campaign.protocol_for(ctx.experiment.parameters)
    await cycler.start(
        StartParams(channel=channel, job_id=ctx.job_id, cell=cell, protocol=protocol)
    )
    await _record_reference_cell(ctx, cell, mass)
    tracker = IncrementalCycleMetrics(active_mass_g=mass)
    stored = await ctx.store.call(lambda s: s.points(ctx.job_id))
    if len(stored["time_s"]):
        await asyncio.to_thread(
            tracker.feed,
            CyclingPoints(
                stored["time_s"], stored["voltage_v"], stored["current_a"], stored["cycle"]
            ),
        )
    run = RunRecorder(
        "cycle_cell",
        f"cycler:{channel}",
        {**ctx.run_metadata(), "sample_id": cell.cell_id, "source_sample_id": cell.sample_id,
         "channel": channel, "protocol": protocol.model_dump(mode="json")},
    )  # fmt: skip
    for done in tracker.metrics:
        run.event(cycle_record(done))
    next_seq = len(stored["time_s"])
    deadline = ctx.spec.deadline_min * 60.0 if ctx.spec.deadline_min else ctx.deadline_s
    try:
        async for batch in cycler.stream(ctx.job_id, next_seq, channel, deadline):
            await _ingest(ctx, tracker, run, batch)
        for done in tracker.finish():
            await _cycle_done(ctx, run, done)
    except CyclingAnalysisError as exc:
        raise StepFailed(f"cycling data of {ctx.job_id} unusable: {exc}") from exc
    job = await cycler.job(ctx.job_id)
    if job.state is not JobState.COMPLETED:
        raise JobFailed("cycler", job.job_id, job.state, job.error)
    await ctx.store.call(lambda s: s.replace_documents(ctx.step.id, cell.cell_id, run.stop()))
    return await _summarise(ctx, mass, protocol)


async def _ingest(
    ctx: StepContext, tracker: IncrementalCycleMetrics, run: RunRecorder, batch: PointBatch
) -> None:
    columns = {name: getattr(batch, name) for name in POINT_COLUMNS}
    await ctx.store.call(lambda s: s.add_points(ctx.job_id, batch.first_seq, columns))
    ctx.publish(
        {
            "seq": None,
            "campaign_id": ctx.experiment.campaign_id,
            "kind": "points",
            "data": {
                "experiment_id": ctx.experiment.id,
                "step_id": ctx.step.id,
                "job_id": ctx.job_id,
                "first_seq": batch.first_seq,
                "count": len(batch),
                "cycle": batch.cycle[-1] if len(batch) else None,
            },
        }
    )
    for done in _completed_cycles(tracker, batch):
        await _cycle_done(ctx, run, done)


async def _cycle_done(ctx: StepContext, run: RunRecorder, done: Any) -> None:
    record = cycle_record(done)
    run.event(record)
    await ctx.store.call(lambda s: s.add_cycle_metrics(ctx.job_id, [record]))
    ctx.publish(
        {
            "seq": None,
            "campaign_id": ctx.experiment.campaign_id,
            "kind": "cycle",
            "data": {"experiment_id": ctx.experiment.id, "job_id": ctx.job_id, **record},
        }
    )


async def _summarise(ctx: StepContext, mass: float | None, protocol: Any) -> StepOutcome:
    wanted = {o.metric for o in ctx.campaign.objectives} | {
        c.metric for c in ctx.campaign.constraints
    }
    columns = await ctx.store.call(lambda s: s.points(ctx.job_id))
    analyse = ctx.campaign.workflow[-1]
    threshold = getattr(analyse, "retention_threshold", 0.8)
    try:
        metrics, detail = await asyncio.to_thread(
            cycling_summary,
            columns,
            mass,
            getattr(protocol, "formation_cycles", 0),
            threshold,
            LIFE_METRIC in wanted,
        )
    except CyclingAnalysisError as exc:
        raise StepFailed(f"cycling analysis of {ctx.job_id} failed: {exc}") from exc
    event = await ctx.store.call(
        lambda s: s.save_analysis(ctx.step.id, ctx.experiment.id, "cycling", metrics, detail)
    )
    ctx.publish(event)
    return StepOutcome(metrics=metrics)
