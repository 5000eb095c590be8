"""A small real campaign, run once per test session against an in-process simulated lab, then
exported; and its replay against a fresh simulated lab. Shared by the export tests."""

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from voltlab.orchestrator.campaign import Campaign, parse_campaign
from voltlab.orchestrator.engine import CampaignEngine
from voltlab.orchestrator.events import EventBus
from voltlab.orchestrator.export import (
    ReplayComparison,
    ReplayPlan,
    compare_replay,
    export_bundle,
    queue_replay,
    replay_plan,
)
from voltlab.orchestrator.instruments import connected_instruments
from voltlab.orchestrator.states import CampaignState
from voltlab.orchestrator.store import AsyncStore, Store
from voltlab.simlab import simulated_lab
from voltlab.simulated_hardware.config import SimSettings

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
os.environ.setdefault("SPGLIB_OLD_ERROR_HANDLING", "0")

EXAMPLE = Path(__file__).parents[2] / "examples" / "cathode_discovery.yaml"
EXPERIMENTS = 3
RECORDED_ID = "rec"
REPLAY_ID = RECORDED_ID
"""The replay runs in a new lab file under the recorded id, so its device job ids (and the
simulator's noise draws) are the recorded ones."""


@dataclass(frozen=True)
class RecordedCampaign:
    lab_path: Path
    campaign_id: str
    bundle: Path


@dataclass(frozen=True)
class ReplayedCampaign:
    plan: ReplayPlan
    lab_path: Path
    campaign_id: str
    state: CampaignState
    comparison: ReplayComparison


def small_campaign_yaml() -> str:
    """The cathode example cut to a 3-experiment Sobol campaign, as campaign YAML."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["budget"]["experiments"] = EXPERIMENTS
    data["planner"] = {"kind": "sobol"}
    return yaml.safe_dump(data, sort_keys=False)


def run_on_simulated_lab(
    lab_path: Path,
    campaign_id: str,
    campaign: Campaign,
    state_dir: Path,
    prepare: Callable[[Store, Campaign], object],
) -> CampaignState:
    """Start a simulated lab, let ``prepare`` create the campaign row for the campaign pointed
    at it, run the engine to the end; return the campaign's final state. Runs on a thread of
    its own so its event loop never meets a test's."""

    async def main() -> CampaignState:
        settings = SimSettings(acceleration=float("inf"), state_dir=state_dir)
        async with simulated_lab(settings) as drivers:
            pointed = campaign.with_instruments(drivers)
            store = AsyncStore(Store.open(lab_path))
            try:
                await store.call(lambda s: prepare(s, pointed))
                needed = {i for i in ("robot", "xrd", "cycler") if pointed.needs(i)}
                async with connected_instruments(pointed.instruments, needed) as instruments:
                    engine = CampaignEngine(store, campaign_id, pointed, instruments, EventBus())
                    row = await engine.run()
            finally:
                store.close()
        return row.state

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout=300)


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedCampaign:
    """The small campaign run once and exported to a bundle folder."""
    root = tmp_path_factory.mktemp("recorded")
    lab_path = root / "lab.sqlite"

    text = small_campaign_yaml()

    def create(store: Store, campaign: Campaign) -> None:
        store.create_campaign(
            RECORDED_ID,
            campaign.name,
            text,
            campaign.model_dump(mode="json"),
            campaign.seed,
            {},
        )

    state = run_on_simulated_lab(lab_path, RECORDED_ID, parse_campaign(text), root / "sim", create)
    assert state is CampaignState.COMPLETED
    bundle = export_bundle(lab_path, RECORDED_ID, root / "bundle")
    return RecordedCampaign(lab_path, RECORDED_ID, bundle)


@pytest.fixture(scope="session")
def replayed(
    recorded: RecordedCampaign, tmp_path_factory: pytest.TempPathFactory
) -> ReplayedCampaign:
    """The recorded bundle replayed in a new lab file against a fresh simulated lab."""
    root = tmp_path_factory.mktemp("replayed")
    lab_path = root / "lab.sqlite"
    plan = replay_plan(recorded.bundle)

    def queue(store: Store, campaign: Campaign) -> None:
        queue_replay(store, plan, REPLAY_ID, campaign)

    state = run_on_simulated_lab(lab_path, REPLAY_ID, plan.campaign(), root / "sim", queue)
    comparison = compare_replay(plan, lab_path, REPLAY_ID)
    return ReplayedCampaign(plan, lab_path, REPLAY_ID, state, comparison)
