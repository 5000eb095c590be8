"""A small real campaign, run once per test session against the simulated lab in-process.

The cathode example with a Sobol planner and four experiments, its instruments pointed at the
simulated lab on free loopback ports (acceleration inf). The fixture yields the lab file, the
campaign id and what the cycler itself reports about each cycling job, so tests can check the
store's contents against the device side.

Use from a test module with ``from tests.orchestrator.lab_fixtures import lab_run  # noqa: F401``.
"""

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from voltlab.drivers import CyclerConfig, DriverConfig, RobotConfig, XRDConfig
from voltlab.orchestrator.campaign import Campaign, PlannerSpec, load_campaign
from voltlab.orchestrator.engine import CampaignEngine
from voltlab.orchestrator.events import EventBus
from voltlab.orchestrator.instruments import connected_instruments
from voltlab.orchestrator.store import AsyncStore, Store
from voltlab.simulated_hardware.config import SimSettings, load_sim_settings
from voltlab.simulated_hardware.lab import running_lab

EXAMPLE = Path(__file__).parents[2] / "examples" / "cathode_discovery.yaml"
CAMPAIGN_ID = "lab-api"
EXPERIMENTS = 4
CAMPAIGN_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class LabRun:
    path: Path
    campaign_id: str
    job_points: dict[str, int]
    """Cycler job id -> the number of points the cycler says the job produced."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(state_dir: Path) -> SimSettings:
    return load_sim_settings(
        acceleration=float("inf"),
        state_dir=state_dir,
        robot={"port": _free_port()},
        cycler={"command_port": _free_port(), "stream_port": _free_port()},
        xrd={"port": _free_port()},
    )


def _drivers(settings: SimSettings) -> DriverConfig:
    robot, cycler, xrd = settings.robot, settings.cycler, settings.xrd
    return DriverConfig(
        robot=RobotConfig(url=f"opc.tcp://127.0.0.1:{robot.port}{robot.endpoint_path}"),
        cycler=CyclerConfig(
            endpoint=f"tcp://127.0.0.1:{cycler.command_port}",
            stream_endpoint=f"tcp://127.0.0.1:{cycler.stream_port}",
        ),
        xrd=XRDConfig(endpoint=f"tcp://127.0.0.1:{xrd.port}"),
    )


def small_campaign(settings: SimSettings) -> Campaign:
    base = load_campaign(EXAMPLE)
    fields = {name: getattr(base, name) for name in type(base).model_fields}
    return Campaign(
        **{
            **fields,
            "budget": base.budget.model_copy(update={"experiments": EXPERIMENTS}),
            "planner": PlannerSpec(kind="sobol"),
            "instruments": _drivers(settings),
        }
    )


async def _run(path: Path, state_dir: Path) -> dict[str, int]:
    settings = _settings(state_dir)
    campaign = small_campaign(settings)
    async with running_lab(settings):
        store = AsyncStore(Store.open(path))
        try:
            await store.call(
                lambda s: s.create_campaign(
                    CAMPAIGN_ID, campaign.name, EXAMPLE.read_text(),
                    campaign.model_dump(mode="json"), campaign.seed, {},
                )
            )  # fmt: skip
            needed = {i for i in ("robot", "xrd", "cycler") if campaign.needs(i)}
            async with connected_instruments(campaign.instruments, needed) as instruments:
                engine = CampaignEngine(store, CAMPAIGN_ID, campaign, instruments, EventBus())
                await asyncio.wait_for(engine.run(), CAMPAIGN_TIMEOUT_S)
                experiments = await store.call(lambda s: s.experiments(CAMPAIGN_ID))
                jobs = [
                    step.job_id
                    for e in experiments
                    for step in await store.call(lambda s, e=e: s.steps(e.id))
                    if step.kind == "cycle" and step.job_id
                ]
                assert instruments.cycler is not None
                return {job: (await instruments.cycler.job(job)).points for job in jobs}
        finally:
            store.close()


_RUNS: dict[Path, LabRun] = {}
"""Runs by session base folder: each test module importing the fixture gets its own fixture
definition, and this keeps them to one campaign per session."""


@pytest.fixture(scope="session")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    """The session's campaign (run on its own thread and event loop, away from the tests')."""
    base = tmp_path_factory.getbasetemp()
    if base not in _RUNS:
        folder = tmp_path_factory.mktemp("lab-api")
        path = folder / "lab.sqlite"
        with ThreadPoolExecutor(max_workers=1) as pool:
            job_points = pool.submit(asyncio.run, _run(path, folder / "sim")).result()
        _RUNS[base] = LabRun(path=path, campaign_id=CAMPAIGN_ID, job_points=job_points)
    return _RUNS[base]
