"""Powder XRD of the experiment's powder, analysed as soon as the pattern arrives (in the
analysis worker process)."""

import numpy as np

from voltlab.analysis.xrd import XRDAnalysisError
from voltlab.orchestrator.analysis_worker import in_worker
from voltlab.orchestrator.metrics_of import analyse_xrd, expected_composition
from voltlab.orchestrator.run_documents import RunRecorder
from voltlab.orchestrator.steps.base import StepContext, StepFailed, StepOutcome
from voltlab.orchestrator.steps.robot_steps import NO_DEADLINE_S
from voltlab.orchestrator.store import Store
from voltlab.protocol.xrd import MeasureParams


async def measure_xrd(ctx: StepContext) -> StepOutcome:
    """Measure (unless this step's pattern is already stored), store, then analyse off-loop."""
    powder_id = ctx.outputs["powder_id"]
    stored = await ctx.store.call(lambda s: s.pattern(ctx.step.id))
    if stored is None or stored["job_id"] != ctx.job_id:
        stored = await _measure(ctx, powder_id)
    try:
        composition = expected_composition(ctx.outputs["recipe"])
        metrics, detail = await in_worker(
            analyse_xrd, stored["two_theta"], stored["counts"], composition
        )
    except XRDAnalysisError as exc:
        raise StepFailed(f"XRD analysis of {powder_id} failed: {exc}") from exc
    event = await ctx.store.call(
        lambda s: s.save_analysis(ctx.step.id, ctx.experiment.id, "xrd", metrics, detail)
    )
    ctx.publish(event)
    return StepOutcome(metrics=metrics)


async def _measure(ctx: StepContext, powder_id: str) -> dict:
    if ctx.instruments.xrd is None:
        raise StepFailed("step xrd needs the XRD stage, which is not configured")
    spec = ctx.spec
    params = MeasureParams(
        job_id=ctx.job_id,
        two_theta_start=spec.two_theta_start,
        two_theta_stop=spec.two_theta_stop,
        step=spec.step_deg,
        count_time_s=spec.count_time_s,
    )
    pattern = await ctx.instruments.xrd.measure_pattern(
        powder_id, params, ctx.deadline_s or NO_DEADLINE_S
    )
    run = RunRecorder(
        "measure_xrd",
        "xrd",
        {
            **ctx.run_metadata(),
            "sample_id": powder_id,
            "wavelength_angstrom": pattern.wavelength_angstrom,
        },
    )
    run.event({"two_theta": pattern.two_theta, "counts": pattern.counts})

    def save(store: Store) -> None:
        store.save_pattern(
            ctx.step.id, powder_id, ctx.job_id, pattern.wavelength_angstrom,
            pattern.count_time_s, pattern.two_theta, pattern.counts,
        )  # fmt: skip
        store.replace_documents(ctx.step.id, powder_id, run.stop())

    await ctx.store.call(save)
    return {
        "job_id": ctx.job_id,
        "two_theta": np.asarray(pattern.two_theta),
        "counts": np.asarray(pattern.counts),
    }
