"""Steps that decide rather than measure: a gate on a metric, and the final analysis that turns
metrics into the campaign's outcomes."""

from voltlab.orchestrator.steps.base import StepContext, StepFailed, StepOutcome


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


async def gate(ctx: StepContext) -> StepOutcome:
    spec = ctx.spec
    if spec.metric not in ctx.metrics:
        raise StepFailed(f"gate on {spec.metric}: no such metric was measured")
    value = ctx.metrics[spec.metric]
    if _within(value, spec.min, spec.max):
        return StepOutcome()
    bounds = " and ".join(
        f"{word} {limit}"
        for word, limit in (("at least", spec.min), ("at most", spec.max))
        if limit is not None
    )
    return StepOutcome(gated=f"{spec.metric} = {value:.4g}, gate needs {bounds}")


def outcomes_of(ctx: StepContext) -> dict[str, float]:
    """Objective and constraint values by outcome name; StepFailed names a missing metric."""
    outcomes = {}
    for item in [*ctx.campaign.objectives, *ctx.campaign.constraints]:
        if item.metric not in ctx.metrics:
            raise StepFailed(f"outcome {item.name} needs metric {item.metric}, not measured")
        outcomes[item.name] = ctx.metrics[item.metric]
    return outcomes


async def analyse(ctx: StepContext) -> StepOutcome:
    outcomes = outcomes_of(ctx)
    event = await ctx.store.call(
        lambda s: s.save_analysis(
            ctx.step.id, ctx.experiment.id, "outcomes", outcomes, {"metrics": ctx.metrics}
        )
    )
    ctx.publish(event)
    return StepOutcome(outputs={"outcomes": outcomes})
