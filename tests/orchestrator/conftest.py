"""What the engine tests share: a simulated lab on free ports (in the test's loop), a small
cathode campaign pointed at it, and running the engine on a temporary lab file."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from voltlab.drivers import DriverConfig
from voltlab.orchestrator.campaign import Campaign, parse_campaign
from voltlab.orchestrator.events import EventBus
from voltlab.orchestrator.runs import run_campaign
from voltlab.orchestrator.steps import EngineSettings
from voltlab.orchestrator.store import CampaignRow
from voltlab.simlab import driver_config
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.lab import running_lab

EXAMPLES = Path(__file__).parents[2] / "examples"
FAST_ENGINE = EngineSettings(
    deadlines_s={"synthesize": 30.0, "xrd": 30.0, "assemble_cell": 30.0, "cycle": 120.0},
    outage_timeout_s=20.0,
    control_poll_s=0.05,
)


def cathode_yaml(instruments: DriverConfig, cycles: int = 8, **changes: Any) -> str:
    """The cathode example made small: few cycles, Sobol, ``changes`` to top-level keys."""
    raw = yaml.safe_load((EXAMPLES / "cathode_discovery.yaml").read_text())
    raw["workflow"][4]["protocol"]["cycles"] = cycles
    raw["planner"] = {"kind": "sobol"}
    raw["budget"] = {"experiments": 4}
    raw["instruments"] = instruments.model_dump(mode="json", exclude_none=True)
    for key, value in changes.items():
        raw[key] = value
    return yaml.safe_dump(raw, sort_keys=False)


def cathode_campaign(instruments: DriverConfig, **changes: Any) -> tuple[Campaign, str]:
    text = cathode_yaml(instruments, **changes)
    return parse_campaign(text, "test-campaign.yaml"), text


@contextlib.asynccontextmanager
async def lab_running(settings: SimSettings) -> AsyncIterator[DriverConfig]:
    async with running_lab(settings):
        yield driver_config(settings)


@pytest.fixture
async def sim_lab(sim_settings: SimSettings) -> AsyncIterator[DriverConfig]:
    """Every simulated instrument, as fast as possible; yields the driver config reaching it."""
    async with lab_running(sim_settings) as config:
        yield config


async def run(
    lab: Path,
    campaign: Campaign,
    text: str,
    campaign_id: str = "test",
    bus: EventBus | None = None,
) -> CampaignRow:
    return await run_campaign(lab, campaign, text, campaign_id, bus, FAST_ENGINE)
