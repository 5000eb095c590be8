"""XRDClient against the simulated XRD stage on loopback: commands, jobs, faults, restarts, CURVE."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

from tests.drivers.conftest import DEADLINE_S, curve_keys, xrd_config
from tests.polling import eventually
from voltlab.drivers import (
    CommandRefused,
    CurveClientKeys,
    DriverProtocolError,
    DriverTimeout,
    InstrumentUnavailable,
    JobFailed,
    XRDClient,
)
from voltlab.protocol import ErrorCode, JobState, Recipe
from voltlab.protocol.xrd import MeasureParams, StageState
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.registry import Powder
from voltlab.simulated_hardware.servers.xrd import XRDServer
from voltlab.simulated_hardware.world.product import make_product

pytestmark = pytest.mark.servers

RECIPE = Recipe(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=850.0, calcination_time_h=8.0
)
SCAN: dict[str, Any] = {
    "two_theta_start": 15.0,
    "two_theta_stop": 70.0,
    "step": 0.1,
    "count_time_s": 0.2,
}
"""551 steps x 0.2 s = 110 s of instrument time: 0.55 s of wall time at acceleration 200."""


def scan(job_id: str, **changes: Any) -> MeasureParams:
    return MeasureParams(job_id=job_id, **(SCAN | changes))


class Stage:
    """An XRD server and its lab; tests replace ``server`` to restart on the same port."""

    def __init__(self, settings: SimSettings) -> None:
        self.lab = LabContext.from_settings(settings)
        self.server = XRDServer(self.lab)

    def add_powder(self, sample_id: str) -> None:
        product = make_product(RECIPE, self.lab.rng("batch", sample_id))
        self.lab.registry.add_powder(Powder(sample_id, RECIPE, product, 5.0))


async def started(settings: SimSettings) -> Stage:
    stage = Stage(settings)
    await stage.server.start()
    stage.add_powder("P-1")
    return stage


@pytest.fixture
async def stage(sim_settings: SimSettings) -> AsyncIterator[Stage]:
    stage = await started(sim_settings.model_copy(update={"acceleration": 200.0}))
    yield stage
    await stage.server.stop()
    stage.lab.close()


@pytest.fixture
async def xrd(stage: Stage) -> AsyncIterator[XRDClient]:
    async with XRDClient(xrd_config(stage.server.endpoint)) as client:
        yield client


async def test_every_command(stage: Stage, xrd: XRDClient) -> None:
    assert xrd.healthy and xrd.last_seen is not None
    assert (await xrd.status()).state is StageState.EMPTY
    loaded = await xrd.load("P-1")
    assert (loaded.state, loaded.sample_id) == (StageState.LOADED, "P-1")
    job = await xrd.measure(scan("X-1"))
    assert (job.job_id, job.state, job.sample_id) == ("X-1", JobState.RUNNING, "P-1")
    assert (await xrd.job("X-1")).params == scan("X-1")
    done = await xrd.wait("X-1", DEADLINE_S)
    assert done.state is JobState.COMPLETED and done.progress == 1.0
    pattern = await xrd.get_pattern("X-1")
    assert len(pattern.counts) == len(pattern.two_theta) == 551
    np.testing.assert_allclose(pattern.two_theta[:2], [15.0, 15.1])
    assert (await xrd.unload()).state is StageState.EMPTY
    assert (await xrd.reset()).state is StageState.EMPTY
    again = await xrd.measure_pattern("P-1", scan("X-2"), DEADLINE_S)
    assert again.job_id == "X-2" and again.sample_id == "P-1"


async def test_refusals_carry_the_device_code_and_reason(xrd: XRDClient) -> None:
    with pytest.raises(CommandRefused) as unknown:
        await xrd.load("no-such-powder")
    assert unknown.value.code is ErrorCode.UNKNOWN_SAMPLE
    assert unknown.value.instrument == "xrd" and unknown.value.command == "load"
    assert "no-such-powder" in str(unknown.value)
    with pytest.raises(CommandRefused) as empty:
        await xrd.measure(scan("X-9"))
    assert empty.value.code is ErrorCode.NOT_READY
    await xrd.load("P-1")
    with pytest.raises(CommandRefused) as interlock:
        await xrd.measure(scan("X-9", two_theta_stop=150.0))
    assert interlock.value.code is ErrorCode.INTERLOCK and "150" in interlock.value.reason


async def test_resubmitting_a_job_id_is_idempotent(xrd: XRDClient) -> None:
    await xrd.load("P-1")
    first = await xrd.measure(scan("X-1"))
    second = await xrd.measure(scan("X-1"))
    assert second.job_id == first.job_id and second.state is JobState.RUNNING
    with pytest.raises(CommandRefused) as conflict:
        await xrd.measure(scan("X-1", step=0.2))
    assert conflict.value.code is ErrorCode.JOB_CONFLICT and conflict.value.field == "params.job_id"
    done = await xrd.wait("X-1", DEADLINE_S)
    assert await xrd.measure(scan("X-1")) == done


async def test_a_new_client_reattaches_to_a_running_job(stage: Stage) -> None:
    config = xrd_config(stage.server.endpoint)
    async with XRDClient(config) as first:
        await first.load("P-1")
        await first.measure(scan("X-1"))
    async with XRDClient(config) as second:
        assert (await second.job("X-1")).state is JobState.RUNNING
        pattern = await second.measure_pattern("P-1", scan("X-1"), DEADLINE_S)
        assert pattern.job_id == "X-1"
        assert (await second.status()).job_id == "X-1"  # measured once, not again


@pytest.mark.parametrize(
    "fault",
    [
        FaultKind.TIMEOUT,
        FaultKind.CORRUPT_MESSAGE,
        FaultKind.TRUNCATED_MESSAGE,
        FaultKind.DISCONNECT,
    ],
)
async def test_a_wire_fault_is_retried(stage: Stage, xrd: XRDClient, fault: FaultKind) -> None:
    stage.lab.faults.schedule(fault, "xrd.load")
    assert (await xrd.load("P-1")).state is StageState.LOADED
    assert [f.kind for f in stage.lab.faults.injected] == [fault]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (FaultKind.TIMEOUT, DriverTimeout),
        (FaultKind.CORRUPT_MESSAGE, DriverProtocolError),
        (FaultKind.TRUNCATED_MESSAGE, DriverProtocolError),
    ],
)
async def test_a_persistent_wire_fault_is_a_typed_error(
    stage: Stage, xrd: XRDClient, fault: FaultKind, error: type[Exception]
) -> None:
    stage.lab.faults.schedule(fault, "xrd.load", count=3)
    with pytest.raises(error) as info:
        await xrd.load("P-1")
    assert "xrd load" in str(info.value)
    assert (await xrd.load("P-1")).state is StageState.LOADED


async def test_a_device_error_fails_the_job_and_refuses_commands(
    stage: Stage, xrd: XRDClient
) -> None:
    stage.lab.faults.schedule(FaultKind.DEVICE_ERROR, "xrd.measure")
    with pytest.raises(JobFailed) as failed:
        await xrd.measure_pattern("P-1", scan("X-1"), DEADLINE_S)
    assert failed.value.job_id == "X-1" and failed.value.state == JobState.FAILED
    assert "tripped" in str(failed.value)
    with pytest.raises(CommandRefused) as refused:
        await xrd.load("P-1")
    assert refused.value.code is ErrorCode.DEVICE_ERROR
    assert (await xrd.reset()).state is StageState.LOADED
    assert (await xrd.measure_pattern("P-1", scan("X-2"), DEADLINE_S)).job_id == "X-2"


async def test_a_stuck_job_misses_its_deadline(stage: Stage, xrd: XRDClient) -> None:
    stage.lab.faults.schedule(FaultKind.STUCK_JOB, "xrd.measure")
    await xrd.load("P-1")
    await xrd.measure(scan("X-1"))
    with pytest.raises(DriverTimeout) as late:
        await xrd.wait("X-1", deadline_s=1.5)
    assert late.value.command == "job X-1" and "running" in str(late.value)
    await xrd.reset()
    assert (await xrd.job("X-1")).state is JobState.ABORTED


async def test_the_client_recovers_after_a_server_restart(stage: Stage) -> None:
    config = xrd_config(stage.server.endpoint, retry={"reply_timeout_s": 0.3, "attempts": 8})
    async with XRDClient(config) as xrd:
        await stage.server.stop()
        pending = asyncio.create_task(xrd.status())
        await asyncio.sleep(0.3)
        assert not pending.done()
        stage.server = XRDServer(stage.lab)
        await stage.server.start()
        assert (await pending).state is StageState.EMPTY  # a restarted stage forgot its sample
        assert (await xrd.measure_pattern("P-1", scan("X-new"), DEADLINE_S)).job_id == "X-new"


async def test_a_stage_restarted_between_load_and_measure_is_loaded_again(stage: Stage) -> None:
    """The measure's reply is lost and the stage restarts before it is resent: the resent
    measure reaches a stage without the sample, so measure_pattern loads it again."""
    config = xrd_config(stage.server.endpoint, retry={"reply_timeout_s": 1.0, "attempts": 4})
    stage.lab.faults.schedule(FaultKind.TIMEOUT, "xrd.measure")
    async with XRDClient(config) as xrd:
        measured = asyncio.create_task(xrd.measure_pattern("P-1", scan("X-1"), DEADLINE_S))
        await eventually(lambda: bool(stage.lab.faults.injected))  # measured; reply dropped
        await stage.server.stop()
        stage.server = XRDServer(stage.lab)
        await stage.server.start()
        pattern = await measured
        assert pattern.job_id == "X-1"
        assert (await xrd.status()).sample_id == "P-1"


async def test_an_absent_stage_is_unavailable(stage: Stage) -> None:
    endpoint = stage.server.endpoint
    await stage.server.stop()
    with pytest.raises(InstrumentUnavailable) as info:
        await XRDClient(xrd_config(endpoint)).connect()
    assert info.value.instrument == "xrd" and endpoint in str(info.value)


async def test_heartbeat_marks_a_silent_stage_unhealthy_and_recovers(stage: Stage) -> None:
    config = xrd_config(stage.server.endpoint, heartbeat={"interval_s": 0.05, "misses": 2})
    async with XRDClient(config) as xrd:
        seen = xrd.last_seen
        await eventually(lambda: xrd.last_seen != seen, DEADLINE_S)
        await stage.server.stop()
        await eventually(lambda: not xrd.healthy, DEADLINE_S)
        stage.server = XRDServer(stage.lab)
        await stage.server.start()
        await eventually(lambda: xrd.healthy, DEADLINE_S)


async def test_curve_end_to_end(sim_settings: SimSettings, tmp_path: Path) -> None:
    security = {"enabled": True, "key_dir": tmp_path / "keys"}
    settings = sim_settings.model_copy(
        update={
            "xrd": sim_settings.xrd.model_validate(
                sim_settings.xrd.model_dump() | {"security": security}
            )
        }
    )
    stage = await started(settings)
    try:
        keys = curve_keys(stage.server.public_key)
        async with XRDClient(xrd_config(stage.server.endpoint, curve=keys)) as xrd:
            assert (await xrd.measure_pattern("P-1", scan("X-1"), DEADLINE_S)).job_id == "X-1"
        wrong = CurveClientKeys(server_public_key=zmq.curve_keypair()[0].decode())
        with pytest.raises(InstrumentUnavailable):
            await XRDClient(xrd_config(stage.server.endpoint, curve=wrong)).connect()
        with pytest.raises((InstrumentUnavailable, DriverTimeout)):  # plain text never answers
            await XRDClient(xrd_config(stage.server.endpoint)).connect()
    finally:
        await stage.server.stop()
        stage.lab.close()
