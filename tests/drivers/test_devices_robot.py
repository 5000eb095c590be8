"""Robot device: jobs run by ``set`` and values read through RobotClient (OPC UA), from the
RunEngine's loop, against the simulated robot served from its own thread."""

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.drivers.bluesky_harness import bluesky_session
from tests.drivers.test_robot_client import RECIPE, robot_config
from tests.simulated_hardware.test_robot_server import ServerThread, module_settings
from voltlab.drivers import CommandRefused, JobFailed
from voltlab.drivers.devices import CellAssembly, Robot, Synthesis
from voltlab.drivers.session import BlueskySession
from voltlab.protocol import ErrorCode
from voltlab.simulated_hardware.faults import FaultKind

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(module_settings(tmp_path_factory.mktemp("robot"))) as thread:
        yield thread


@pytest.fixture
async def robot(server: ServerThread) -> AsyncIterator[tuple[BlueskySession, Robot]]:
    async with bluesky_session() as (session, _):
        device = Robot(robot_config(server.server.url), deadline_s=10.0)
        await session.aconnect({"robot": device})
        yield session, device


def values(reading: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("robot-"): v["value"] for k, v in reading.items()}


async def run_job(robot: Robot, request: Synthesis | CellAssembly) -> dict[str, Any]:
    await robot.set(request)
    return values(await robot.read())


async def test_a_synthesis_then_a_cell_assembly(
    server: ServerThread, robot: tuple[BlueskySession, Robot]
) -> None:
    session, device = robot
    before = values(await session.acall(device.read()))
    assert before["job_id"] == "" and math.isnan(before["mass_g"])
    made = await session.acall(run_job(device, Synthesis(job_id="s-1", recipe=RECIPE)))
    assert made == made | {
        "job_id": "s-1",
        "job_state": "completed",
        "product_id": "s-1",
        "mass_g": 5.0,
        "state": "Idle",
    }
    assert isinstance(made["furnace_temperature"], float)
    assert server.lab.registry.powder("s-1").recipe == RECIPE
    cell = await session.acall(run_job(device, CellAssembly(job_id="cell-s-1", sample_id="s-1")))
    assert (cell["product_id"], cell["job_state"]) == ("cell-s-1", "completed")
    assert await session.acall(device.device_state.get_value()) == "Ready"
    mass = (await session.acall(device.describe()))["robot-mass_g"]
    assert mass["units"] == "g" and mass["source"].endswith("#job.mass_g")


async def test_a_failed_synthesis_fails_the_set(
    server: ServerThread, robot: tuple[BlueskySession, Robot]
) -> None:
    session, device = robot
    server.lab.faults.schedule(FaultKind.FAILED_SYNTHESIS, "robot.synthesis")
    with pytest.raises(JobFailed) as failed:
        await session.acall(run_job(device, Synthesis(job_id="s-fail", recipe=RECIPE)))
    assert failed.value.job_id == "s-fail" and failed.value.state == "failed"
    after = values(await session.acall(device.read()))
    assert (after["job_id"], after["job_state"]) == ("s-fail", "failed")


async def test_an_interlock_refusal_names_the_robots_reason(
    robot: tuple[BlueskySession, Robot],
) -> None:
    session, device = robot
    hot = RECIPE.model_copy(update={"calcination_temperature_c": 1150.0})
    with pytest.raises(CommandRefused) as refused:
        await session.acall(run_job(device, Synthesis(job_id="s-hot", recipe=hot)))
    assert refused.value.code is ErrorCode.INTERLOCK and "1150" in refused.value.reason
