"""A step whose awaited future is cancelled by a library (not by the engine stopping) does not
end the campaign: the experiment is resumed from the lab file, its device job reattached rather
than resubmitted, and after too many such cancellations it fails with the reason on record."""

import asyncio
from pathlib import Path

import pytest

from tests.orchestrator.conftest import cathode_campaign, run
from voltlab.drivers import DriverConfig
from voltlab.orchestrator import engine
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.steps import EXECUTORS, StepContext, StepOutcome
from voltlab.orchestrator.store import Store


async def _cut_off() -> None:
    """Await a future someone else cancelled, as a closed socket does to a pending receive."""
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


def cancel_synthesis(monkeypatch: pytest.MonkeyPatch, times: int) -> list[str]:
    """Make the first ``times`` synthesis runs submit their robot job and then be cut off."""
    real = EXECUTORS["synthesize"]
    calls: list[str] = []

    async def synthesize(ctx: StepContext) -> StepOutcome:
        calls.append(ctx.job_id)
        if len(calls) <= times:
            assert ctx.instruments.robot is not None
            recipe = ctx.campaign.recipe_for(ctx.experiment.parameters)
            await ctx.instruments.robot.submit(ctx.job_id, recipe)
            await _cut_off()
        return await real(ctx)

    monkeypatch.setitem(EXECUTORS, "synthesize", synthesize)
    return calls


async def test_a_cancelled_step_is_resumed_with_its_job_reattached(
    sim_lab: DriverConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = cancel_synthesis(monkeypatch, times=1)
    campaign, text = cathode_campaign(sim_lab, budget={"experiments": 2})
    lab = tmp_path / "lab.sqlite"
    row = await run(lab, campaign, text)
    assert row.state is CampaignState.COMPLETED

    with Store.open(lab) as store:
        found = store.experiments("test")
        events = [e for e in store.events("test") if e["kind"] == "cancelled"]
        first_steps = store.steps(found[0].id)
        powders = [s for e in found for s in store.samples(e.id) if s.kind == "powder"]
    assert all(e.state in (ExperimentState.COMPLETED, ExperimentState.GATED) for e in found)
    assert [e["data"] for e in events] == [{"experiment_id": found[0].id, "resumes": 1}]
    synthesis = first_steps[0]
    assert synthesis.state is StepState.COMPLETED and synthesis.attempt == 1
    # The resumed run used the same job id, so the robot made one powder, not two.
    assert calls.count(synthesis.job_id) == 2
    assert len(powders) == len(found)


async def test_an_experiment_cancelled_again_and_again_fails_with_the_reason(
    sim_lab: DriverConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cancel_synthesis(monkeypatch, times=engine.MAX_RESUMES + 1)
    campaign, text = cathode_campaign(sim_lab, budget={"experiments": 1})
    lab = tmp_path / "lab.sqlite"
    row = await run(lab, campaign, text)
    assert row.state is CampaignState.COMPLETED

    with Store.open(lab) as store:
        (experiment,) = store.experiments("test")
        resumes = [e["data"]["resumes"] for e in store.events("test") if e["kind"] == "cancelled"]
    assert experiment.state is ExperimentState.FAILED
    assert "cancelled from within 4 times" in (experiment.failure or "")
    assert experiment.told
    assert resumes == [1, 2, 3, 4]
