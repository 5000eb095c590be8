"""A campaign under injected faults (10 % of device operations) still completes, and every
failure is on record: retried steps as retry events, failed experiments with their reason."""

from dataclasses import replace
from pathlib import Path

from tests.orchestrator.conftest import FAST_ENGINE, cathode_campaign
from voltlab.drivers import RetryPolicy
from voltlab.orchestrator.runs import run_campaign
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.store import Store
from voltlab.simlab import driver_config
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.faults import FaultConfig, FaultKind
from voltlab.simulated_hardware.lab import running_lab

TEN_PERCENT = {
    FaultKind.DISCONNECT: 0.015,
    FaultKind.TIMEOUT: 0.015,
    FaultKind.DEVICE_ERROR: 0.02,
    FaultKind.STUCK_JOB: 0.01,
    FaultKind.CORRUPT_MESSAGE: 0.015,
    FaultKind.TRUNCATED_MESSAGE: 0.015,
    FaultKind.FAILED_SYNTHESIS: 0.01,
}
QUICK_RETRY = RetryPolicy(
    reply_timeout_s=0.5, attempts=4, backoff_initial_s=0.02, backoff_max_s=0.2
)


async def test_campaign_completes_under_ten_percent_faults(
    sim_settings: SimSettings, tmp_path: Path
) -> None:
    settings = sim_settings.model_copy(update={"faults": FaultConfig(seed=11, rates=TEN_PERCENT)})
    engine_settings = replace(
        FAST_ENGINE,
        deadlines_s={"synthesize": 4.0, "xrd": 4.0, "assemble_cell": 4.0, "cycle": 30.0},
    )
    lab = tmp_path / "lab.sqlite"
    async with running_lab(settings) as (context, _):
        config = driver_config(settings)
        instruments = config.model_copy(
            update={
                name: getattr(config, name).model_copy(update={"retry": QUICK_RETRY})
                for name in ("robot", "cycler", "xrd")
            }
        )
        campaign, text = cathode_campaign(instruments, budget={"experiments": 6})
        row = await run_campaign(lab, campaign, text, "faulty", None, engine_settings)
        injected = list(context.faults.injected)
    assert row.state is CampaignState.COMPLETED
    assert len(injected) >= 5, f"too few faults met to test anything: {injected}"

    with Store.open(lab) as store:
        found = store.experiments("faulty")
        events = store.events("faulty")
        steps = [s for e in found for s in store.steps(e.id)]
    assert len(found) == 6 and all(e.state.is_final for e in found)
    for experiment in found:
        if experiment.state is ExperimentState.FAILED:
            assert experiment.failure, f"{experiment.id} failed without a reason"
    assert any(e.state is ExperimentState.COMPLETED for e in found)
    retries = [e for e in events if e["kind"] == "retry"]
    retried_steps = {s.id for s in steps if s.attempt > 1}
    assert {e["data"]["step_id"] for e in retries} >= retried_steps
    for step in steps:
        if step.state is StepState.FAILED:
            assert step.error
    kinds = {f.kind for f in injected}
    assert len(kinds) >= 3, f"faults of too few kinds: {kinds}"
