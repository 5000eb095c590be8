"""XRDStage: its signals go through XRDClient to the simulated stage, from the RunEngine's loop."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from tests.drivers.bluesky_harness import bluesky_session
from tests.drivers.conftest import xrd_config
from tests.drivers.test_xrd_client import Stage, started
from voltlab.drivers import JobFailed
from voltlab.drivers.devices import DeviceError, XRDStage
from voltlab.drivers.session import BlueskySession
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.servers.xrd import XRDServer
from voltlab.simulated_hardware.world.xrd import simulate_pattern

pytestmark = pytest.mark.servers

SCAN = {"two_theta_start": 15.0, "two_theta_stop": 70.0, "step": 0.1, "count_time": 0.2}


@pytest.fixture
async def stage(sim_settings: SimSettings) -> AsyncIterator[Stage]:
    stage = await started(sim_settings)
    yield stage
    await stage.server.stop()
    stage.lab.close()


@pytest.fixture
async def connected(stage: Stage) -> AsyncIterator[tuple[BlueskySession, XRDStage]]:
    async with bluesky_session() as (session, _):
        xrd = XRDStage(xrd_config(stage.server.endpoint), deadline_s=10.0)
        await session.aconnect({"xrd": xrd})
        yield session, xrd


async def xrd_load(xrd: XRDStage) -> None:
    await xrd.loaded_sample.set("P-1")


async def configure(xrd: XRDStage, job_id: str) -> None:
    for name, value in SCAN.items():
        await getattr(xrd, name).set(value)
    await xrd.next_job_id.set(job_id)


async def test_control_signals_read_and_write_the_stage(
    stage: Stage, connected: tuple[BlueskySession, XRDStage]
) -> None:
    session, xrd = connected

    assert await session.acall(xrd.state.get_value()) == "empty"
    await session.acall(xrd_load(xrd))  # statuses are tasks: make them on the RunEngine's loop
    assert stage.server.status().sample_id == "P-1"
    assert await session.acall(xrd.state.get_value()) == "loaded"
    assert await session.acall(xrd.loaded_sample.get_value()) == "P-1"
    reading = await session.acall(xrd.read())
    assert reading["xrd-sample_id"]["value"] == "" and reading["xrd-counts"]["value"].size == 0


async def test_trigger_measures_and_the_pattern_is_the_stages(
    stage: Stage, connected: tuple[BlueskySession, XRDStage]
) -> None:
    session, xrd = connected

    async def measure() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        await xrd.loaded_sample.set("P-1")
        await configure(xrd, "X-1")
        await xrd.trigger()
        return await xrd.read(), await xrd.describe(), await xrd.read_configuration()

    reading, keys, config = await session.acall(measure())
    grid = 15.0 + 0.1 * np.arange(551)
    product = stage.lab.registry.powder("P-1").product
    truth = simulate_pattern(product, grid, 0.2, stage.lab.rng("xrd", "X-1"))
    np.testing.assert_array_equal(reading["xrd-counts"]["value"], truth)
    np.testing.assert_allclose(reading["xrd-two_theta"]["value"], grid)
    assert reading["xrd-sample_id"]["value"] == "P-1"
    assert reading["xrd-job_id"]["value"] == "X-1"
    assert reading["xrd-wavelength"]["value"] == pytest.approx(1.54056)
    counts = keys["xrd-counts"]
    assert (counts["dtype"], counts["shape"], counts["units"]) == ("array", [551], "counts")
    assert counts["source"] == f"{stage.server.endpoint}#pattern.counts"
    assert {k: v["value"] for k, v in config.items()} == {f"xrd-{k}": v for k, v in SCAN.items()}
    assert await session.acall(xrd.next_job_id.get_value()) == ""  # consumed by the trigger


async def test_a_failed_measurement_fails_the_trigger(
    stage: Stage, connected: tuple[BlueskySession, XRDStage]
) -> None:
    session, xrd = connected
    stage.lab.faults.schedule(FaultKind.DEVICE_ERROR, "xrd.measure")

    async def measure() -> None:
        await xrd.loaded_sample.set("P-1")
        await configure(xrd, "X-bad")
        await xrd.trigger()

    with pytest.raises(JobFailed) as failed:
        await session.acall(measure())
    assert failed.value.job_id == "X-bad" and "tripped" in str(failed.value)
    assert await session.acall(xrd.state.get_value()) == "error"


async def test_a_monitor_reports_at_once_and_on_change(
    connected: tuple[BlueskySession, XRDStage],
) -> None:
    session, xrd = connected

    async def watch() -> list[str]:
        seen: list[str] = []
        reported = asyncio.Event()

        def record(reading: dict[str, Any]) -> None:
            seen.append(reading["xrd-state"]["value"])
            reported.set()

        async def next_report() -> None:
            async with asyncio.timeout(5.0):
                await reported.wait()
            reported.clear()

        xrd.state.subscribe_reading(record)
        try:
            await next_report()
            await xrd.loaded_sample.set("P-1")
            await next_report()
        finally:
            xrd.state.clear_sub(record)
        return seen

    assert await session.acall(watch()) == ["empty", "loaded"]


async def test_misuse_is_a_clear_device_error(
    stage: Stage, connected: tuple[BlueskySession, XRDStage]
) -> None:
    _, xrd = connected
    with pytest.raises(DeviceError, match="another event loop"):
        await xrd.state.get_value()  # the test's loop, not the RunEngine's
    idle = XRDStage(xrd_config(stage.server.endpoint), name="idle")
    with pytest.raises(DeviceError, match="not connected"):
        await idle.state.get_value()


async def test_retriggering_a_known_job_reattaches_without_measuring_again(
    stage: Stage, connected: tuple[BlueskySession, XRDStage]
) -> None:
    session, xrd = connected

    async def measure(job_id: str) -> np.ndarray:
        await configure(xrd, job_id)
        await xrd.trigger()
        return await xrd.counts.get_value()

    await session.acall(xrd_load(xrd))
    first = await session.acall(measure("X-1"))
    await session.acall(measure("X-2"))
    again = await session.acall(measure("X-1"))
    np.testing.assert_array_equal(again, first)
    assert stage.server.status().job_id == "X-2"  # X-1 was not measured a second time


async def test_a_stage_restarted_after_the_load_is_loaded_again_by_the_trigger(
    stage: Stage, connected: tuple[BlueskySession, XRDStage]
) -> None:
    """The device loads in one step and measures in the next; a stage restarted between them
    has forgotten the sample, so the trigger loads it again instead of failing."""
    session, xrd = connected
    await session.acall(xrd_load(xrd))
    await stage.server.stop()
    stage.server = XRDServer(stage.lab)
    await stage.server.start()
    assert stage.server.status().sample_id is None

    async def measure() -> str:
        await configure(xrd, "X-1")
        await xrd.trigger()
        return await xrd.sample_id.get_value()

    assert await session.acall(measure()) == "P-1"
    assert stage.server.status().sample_id == "P-1"
