"""A small real campaign, run once per test session against the simulated lab in-process.

The cathode example with a Sobol planner and four experiments, its instruments pointed at the
simulated lab on free loopback ports (acceleration inf). The fixture yields the lab file, the
campaign id and what the cycler itself reports about each cycling job, so tests can check the
store's contents against the device side.

Use from a test module with ``from tests.orchestrator.lab_fixtures import lab_run  # noqa: F401``.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from voltlab.drivers import CyclerClient, DriverConfig
from voltlab.orchestrator.campaign import Campaign, PlannerSpec, load_campaign
from voltlab.orchestrator.runs import run_campaign
from voltlab.orchestrator.store import Store
from voltlab.simlab import simulated_lab
from voltlab.simulated_hardware.config import load_sim_settings

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


def small_campaign(instruments: DriverConfig) -> Campaign:
    base = load_campaign(EXAMPLE)
    fields = {name: getattr(base, name) for name in type(base).model_fields}
    return Campaign(
        **{
            **fields,
            "budget": base.budget.model_copy(update={"experiments": EXPERIMENTS}),
            "planner": PlannerSpec(kind="sobol"),
            "instruments": instruments,
        }
    )


async def _run(path: Path, state_dir: Path) -> dict[str, int]:
    settings = load_sim_settings(acceleration=float("inf"), state_dir=state_dir)
    async with simulated_lab(settings) as endpoints:
        campaign = small_campaign(endpoints)
        run = run_campaign(path, campaign, EXAMPLE.read_text(), CAMPAIGN_ID)
        await asyncio.wait_for(run, CAMPAIGN_TIMEOUT_S)
        with Store.open(path) as store:
            jobs = [
                step.job_id
                for e in store.experiments(CAMPAIGN_ID)
                for step in store.steps(e.id)
                if step.kind == "cycle" and step.job_id
            ]
        assert endpoints.cycler is not None
        async with CyclerClient(endpoints.cycler) as cycler:
            return {job: (await cycler.job(job)).points for job in jobs}


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
