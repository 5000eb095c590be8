"""How a campaign ends and paces itself: a wall-time budget stops new proposals, ``max_failures``
ends it FAILED with the reason, and batch mode proposes a batch only once the last one is done."""

from pathlib import Path

from tests.orchestrator.conftest import cathode_campaign, run
from voltlab.drivers import DriverConfig
from voltlab.orchestrator.states import CampaignState, ExperimentState
from voltlab.orchestrator.store import Store
from voltlab.simlab import driver_config
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.lab import running_lab

WALL_TIME_MIN = 0.05
"""3 s: shorter than one experiment, so the campaign stops proposing while some still run."""
UNSHARED_SEED = 9173
"""Recipes no other test runs, so the simulator's cell cache cannot make experiments instant."""
PROPOSAL_SLACK_S = 1.0
"""A proposal decided just before the limit is written within this time."""
MAX_ATTEMPTS = 3
"""The engine's attempts per step (EngineSettings.max_attempts)."""


def experiment_events(lab: Path, campaign_id: str = "test") -> list[dict]:
    with Store.open(lab) as store:
        return [e for e in store.events(campaign_id) if e["kind"] == "experiment"]


async def test_a_wall_time_budget_stops_proposing_and_lets_running_experiments_finish(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    lab = tmp_path / "lab.sqlite"
    campaign, text = cathode_campaign(
        sim_lab, cycles=4, budget={"experiments": 20, "wall_time_min": WALL_TIME_MIN},
        concurrency={"mode": "async", "max_in_flight": 1}, seed=UNSHARED_SEED,
    )  # fmt: skip
    row = await run(lab, campaign, text)
    assert row.state is CampaignState.COMPLETED
    assert row.reason == f"wall-time budget of {WALL_TIME_MIN} min reached"

    with Store.open(lab) as store:
        found = store.experiments("test")
    assert row.started_at is not None and row.finished_at is not None
    limit_at = row.started_at + 60 * WALL_TIME_MIN
    assert 1 <= len(found) < 20 and all(e.state.is_final for e in found)
    assert all(e.created_at <= limit_at + PROPOSAL_SLACK_S for e in found)
    # Experiments running at the limit went on and ended on their own, yet nothing new was
    # proposed once they had freed their slot.
    spanning = [e for e in found if e.created_at <= limit_at < e.updated_at]
    assert spanning, "no experiment was running at the wall-time limit"
    assert all(e.state in (ExperimentState.COMPLETED, ExperimentState.GATED) for e in spanning)
    assert row.finished_at >= max(e.updated_at for e in found)


async def test_max_failures_ends_the_campaign_failed_with_the_reason(
    sim_settings: SimSettings, tmp_path: Path
) -> None:
    lab = tmp_path / "lab.sqlite"
    async with running_lab(sim_settings) as (context, _):
        # Every synthesis fails (a cracked crucible): each experiment fails after its attempts.
        context.faults.schedule(FaultKind.FAILED_SYNTHESIS, "robot.synthesis", count=50)
        campaign, text = cathode_campaign(
            driver_config(sim_settings), budget={"experiments": 6, "max_failures": 2},
            concurrency={"mode": "async", "max_in_flight": 1},
        )  # fmt: skip
        row = await run(lab, campaign, text)
        injected = [f for f in context.faults.injected if f.operation == "robot.synthesis"]

    assert row.state is CampaignState.FAILED
    assert row.reason is not None and row.reason.endswith("failed experiments (max_failures 2)")
    with Store.open(lab) as store:
        found = store.experiments("test")
        retries = [e for e in store.events("test") if e["kind"] == "retry"]
    assert 2 <= len(found) < 6
    assert all(e.state is ExperimentState.FAILED for e in found)
    assert all(f"synthesize failed {MAX_ATTEMPTS} times" in (e.failure or "") for e in found)
    assert len(injected) == MAX_ATTEMPTS * len(found)
    assert len(retries) == len(injected)
    # Nothing was proposed after the second failure.
    ends = sorted(e["at"] for e in experiment_events(lab) if e["data"]["state"] == "failed")
    assert all(e.created_at <= ends[1] for e in found)


async def test_batch_mode_proposes_the_next_batch_when_the_last_has_finished(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    lab = tmp_path / "lab.sqlite"
    campaign, text = cathode_campaign(
        sim_lab, cycles=4, budget={"experiments": 4},
        concurrency={"mode": "batch", "batch_size": 2},
    )  # fmt: skip
    row = await run(lab, campaign, text)
    assert row.state is CampaignState.COMPLETED and "budget of 4" in row.reason

    with Store.open(lab) as store:
        found = store.experiments("test")
        planning = [e for e in store.events("test") if e["kind"] == "planning"]
    assert len(found) == 4 and all(e.state.is_final for e in found)
    assert [p["data"] for p in planning] == [{"n": 2, "pending": 0}] * 2

    events = experiment_events(lab)
    created = {
        e["data"]["experiment_id"]: e["at"] for e in events if e["data"]["state"] == "queued"
    }
    ended = {
        e["data"]["experiment_id"]: e["at"]
        for e in events
        if ExperimentState(e["data"]["state"]).is_final
    }
    first, second = [e.id for e in found[:2]], [e.id for e in found[2:]]
    # Each batch comes from one planning round ...
    assert all(planning[0]["at"] <= created[e] < planning[1]["at"] for e in first)
    assert all(planning[1]["at"] <= created[e] for e in second)
    # ... and the second only once every experiment of the first had finished.
    assert min(created[e] for e in second) >= max(ended[e] for e in first)
    assert planning[1]["at"] >= max(ended[e] for e in first)
