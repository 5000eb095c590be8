"""Synthesis and cell assembly on the robot."""

from voltlab.drivers import JobFailed
from voltlab.orchestrator.instruments import SynthesisRobot
from voltlab.orchestrator.run_documents import RunRecorder
from voltlab.orchestrator.steps.base import StepContext, StepFailed, StepOutcome
from voltlab.protocol import JobState
from voltlab.protocol.robot import RobotJob

NO_DEADLINE_S = 10 * 365 * 86400.0


def _robot(ctx: StepContext) -> SynthesisRobot:
    if ctx.instruments.robot is None:
        raise StepFailed(f"step {ctx.step.kind} needs the robot, which is not configured")
    return ctx.instruments.robot


async def _finish(ctx: StepContext, job: RobotJob) -> RobotJob:
    done = await _robot(ctx).wait(job.job_id, ctx.deadline_s or NO_DEADLINE_S)
    if done.state is not JobState.COMPLETED:
        raise JobFailed("robot", done.job_id, done.state, done.error)
    return done


async def _record(
    ctx: StepContext, plan: str, sample_id: str, done: RobotJob, **md: object
) -> None:
    run = RunRecorder(plan, "robot", {**ctx.run_metadata(), "sample_id": sample_id, **md})
    run.event(
        {"state": str(done.state), "product_id": done.product_id, "mass_g": done.mass_g or 0.0}
    )
    await ctx.store.call(lambda s: s.replace_documents(ctx.step.id, sample_id, run.stop()))


async def synthesize(ctx: StepContext) -> StepOutcome:
    """Make the experiment's powder; its cost follows from the recipe alone."""
    recipe = ctx.campaign.recipe_for(ctx.experiment.parameters)
    done = await _finish(ctx, await _robot(ctx).submit(ctx.job_id, recipe))
    powder_id = done.product_id
    data = {"recipe": recipe.model_dump(mode="json"), "mass_g": done.mass_g, "job_id": done.job_id}
    event = await ctx.store.call(
        lambda s: s.add_sample(powder_id, ctx.experiment.id, "powder", ctx.step.id, None, data)
    )
    if event:
        ctx.publish(event)
    await _record(ctx, "synthesize", powder_id, done, recipe=recipe.model_dump(mode="json"))
    cost = ctx.campaign.costs.material_cost_usd_kg(recipe)
    return StepOutcome(
        outputs={"powder_id": powder_id, "recipe": recipe.model_dump(mode="json")},
        metrics={"recipe.material_cost_usd_kg": cost},
    )


async def assemble_cell(ctx: StepContext) -> StepOutcome:
    """Build a coin cell from the powder; the robot reports the cathode's active mass."""
    powder_id = ctx.outputs["powder_id"]
    done = await _finish(ctx, await _robot(ctx).assemble_cell(ctx.job_id, powder_id))
    if not done.mass_g:
        raise StepFailed(f"robot job {done.job_id} reported no cathode mass for the cell")
    cell_id = done.product_id
    data = {"cathode_mass_g": done.mass_g, "job_id": done.job_id}
    event = await ctx.store.call(
        lambda s: s.add_sample(cell_id, ctx.experiment.id, "cell", ctx.step.id, powder_id, data)
    )
    if event:
        ctx.publish(event)
    await _record(ctx, "assemble_cell", cell_id, done, source_sample_id=powder_id)
    return StepOutcome(outputs={"cell_id": cell_id, "cathode_mass_g": done.mass_g})
