"""CyclerClient against the simulated cycler on loopback: commands, lossless streaming under
faults, reattach, restart, device faults and CURVE."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from tests.drivers.conftest import DEADLINE_S, curve_keys, cycler_config
from tests.simulated_hardware.cycler_harness import (
    CELL,
    columns,
    running_cycler,
    settings_with,
    shared_pool,
)
from voltlab.drivers import CommandRefused, CyclerClient, DriverTimeout
from voltlab.protocol import ErrorCode, JobState
from voltlab.protocol.cycler import ChannelState, PointBatch, StartParams
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.servers.cell_pool import CellPool
from voltlab.simulated_hardware.servers.cycler import CyclerServer

pytestmark = pytest.mark.servers

SHORT = {
    "kind": "galvanostatic",
    "cycles": 2,
    "charge_c_rate": 1.0,
    "discharge_c_rate": 1.0,
    "v_min": 2.8,
    "v_max": 4.2,
}
LIVE = 5e4
"""Acceleration at which the short protocol streams for about 2 s: the job is still running."""

pool = pytest.fixture(scope="module")(shared_pool)


def start(job_id: str, channel: int = 0, **protocol: object) -> StartParams:
    return StartParams.model_validate(
        {"channel": channel, "job_id": job_id, "cell": CELL, "protocol": SHORT | protocol}
    )


@contextlib.asynccontextmanager
async def lab_cycler(
    settings: SimSettings, pool: CellPool
) -> AsyncIterator[tuple[CyclerServer, LabContext, CyclerClient]]:
    async with running_cycler(settings, pool) as (server, lab):
        keys = curve_keys(server.public_key)
        config = cycler_config(server.command_endpoint, server.stream_endpoint, curve=keys)
        async with CyclerClient(config) as client:
            yield server, lab, client


@pytest.fixture
async def fast(
    sim_settings: SimSettings, pool: CellPool
) -> AsyncIterator[tuple[CyclerServer, LabContext, CyclerClient]]:
    async with lab_cycler(sim_settings, pool) as running:
        yield running


async def collect(stream: AsyncIterator[PointBatch]) -> np.ndarray:
    """Every streamed point as rows, checking that sequence numbers are consecutive."""
    rows, expected = [], None
    async for batch in stream:
        assert len(batch) > 0
        assert expected is None or batch.first_seq == expected, "gap or duplicate"
        expected = batch.first_seq + len(batch)
        rows.append(columns(batch))
    return np.concatenate(rows) if rows else np.empty((0, 6))


async def everything(client: CyclerClient, job_id: str) -> np.ndarray:
    batch = await client.fetch(job_id, 0, 100_000)
    assert batch.final
    return columns(batch)


async def test_every_command(
    fast: tuple[CyclerServer, LabContext, CyclerClient],
) -> None:
    _, _, cycler = fast
    assert cycler.healthy and cycler.last_seen is not None
    channels = await cycler.list_channels()
    assert [c.channel for c in channels] == list(range(16))
    job = await cycler.start(start("job-a", channel=3))
    assert (job.job_id, job.channel, job.state) == ("job-a", 3, JobState.RUNNING)
    done = await cycler.wait("job-a", DEADLINE_S)
    assert done.state is JobState.COMPLETED and done.points > 1000
    assert (await cycler.job("job-a")).points == done.points
    batch = await cycler.fetch("job-a", from_seq=10, max_points=5)
    assert (batch.first_seq, len(batch), batch.total_points) == (10, 5, done.points)
    status = await cycler.status(3)
    assert (status.state, status.job_id) == (ChannelState.IDLE, "job-a")
    assert (await cycler.stop("job-a")).state is JobState.COMPLETED  # already over
    assert (await cycler.reset(3)).state is ChannelState.IDLE
    with pytest.raises(CommandRefused) as unknown:
        await cycler.status(99)
    assert unknown.value.code is ErrorCode.UNKNOWN_CHANNEL and "0-15" in unknown.value.reason


async def test_start_is_idempotent(sim_settings: SimSettings, pool: CellPool) -> None:
    async with lab_cycler(settings_with(sim_settings, acceleration=LIVE), pool) as (_, _, cycler):
        first = await cycler.start(start("job-b"))
        again = await cycler.start(start("job-b"))
        assert again.job_id == first.job_id and again.state is JobState.RUNNING
        with pytest.raises(CommandRefused) as conflict:
            await cycler.start(start("job-b", channel=1))
        assert conflict.value.code is ErrorCode.JOB_CONFLICT
        stopped = await cycler.stop("job-b")
        assert stopped.state is JobState.STOPPED
        assert len(await collect(cycler.stream("job-b"))) == stopped.points


async def test_a_stream_is_complete_and_in_order(
    fast: tuple[CyclerServer, LabContext, CyclerClient],
) -> None:
    _, _, cycler = fast
    await cycler.start(start("job-s"))
    streamed = await collect(cycler.stream("job-s", deadline_s=DEADLINE_S))
    np.testing.assert_array_equal(streamed, await everything(cycler, "job-s"))


async def test_a_stream_survives_disconnects_and_garbled_batches(
    fast: tuple[CyclerServer, LabContext, CyclerClient],
) -> None:
    _, lab, cycler = fast
    lab.faults.schedule(FaultKind.CORRUPT_MESSAGE, "cycler.stream", count=2)
    lab.faults.schedule(FaultKind.TRUNCATED_MESSAGE, "cycler.stream", count=1)
    lab.faults.schedule(FaultKind.DISCONNECT, "cycler.fetch", count=2)
    await cycler.start(start("job-f"))
    streamed = await collect(cycler.stream("job-f", deadline_s=DEADLINE_S))
    np.testing.assert_array_equal(streamed, await everything(cycler, "job-f"))
    kinds = {f.kind for f in lab.faults.injected}
    assert {FaultKind.CORRUPT_MESSAGE, FaultKind.TRUNCATED_MESSAGE, FaultKind.DISCONNECT} <= kinds


async def test_a_stream_ends_when_every_batch_is_garbled(
    fast: tuple[CyclerServer, LabContext, CyclerClient],
) -> None:
    """The final batch too: the stream must end through fetch, not wait for it forever."""
    _, lab, cycler = fast
    lab.faults.schedule(FaultKind.TRUNCATED_MESSAGE, "cycler.stream", count=10_000)
    await cycler.start(start("job-g"))
    streamed = await collect(cycler.stream("job-g", deadline_s=DEADLINE_S))
    np.testing.assert_array_equal(streamed, await everything(cycler, "job-g"))


async def test_a_new_client_reattaches_and_gets_the_rest(
    sim_settings: SimSettings, pool: CellPool
) -> None:
    async with lab_cycler(settings_with(sim_settings, acceleration=LIVE), pool) as (
        server,
        _,
        first,
    ):
        await first.start(start("job-r"))
        async with contextlib.aclosing(first.stream("job-r")) as stream:
            head = columns(await anext(stream))
        config = cycler_config(server.command_endpoint, server.stream_endpoint)
        async with CyclerClient(config) as second:
            assert (await second.job("job-r")).state is JobState.RUNNING
            rest = await collect(second.stream("job-r", from_seq=len(head)))
            whole = np.concatenate([head, rest])
            np.testing.assert_array_equal(whole, await everything(second, "job-r"))


async def test_a_device_error_fails_the_job_and_the_channel(
    fast: tuple[CyclerServer, LabContext, CyclerClient],
) -> None:
    _, lab, cycler = fast
    lab.faults.schedule(FaultKind.DEVICE_ERROR, "cycler.start")
    await cycler.start(start("job-d", channel=2))
    streamed = await collect(cycler.stream("job-d", deadline_s=DEADLINE_S))
    failed = await cycler.wait("job-d", DEADLINE_S)
    assert failed.state is JobState.FAILED and len(streamed) == failed.points
    with pytest.raises(CommandRefused) as refused:
        await cycler.start(start("job-d2", channel=2))
    assert refused.value.code is ErrorCode.DEVICE_ERROR
    await cycler.reset(2)
    assert (await cycler.start(start("job-d2", channel=2))).state is JobState.RUNNING


async def test_a_stuck_job_misses_its_deadline(
    fast: tuple[CyclerServer, LabContext, CyclerClient],
) -> None:
    _, lab, cycler = fast
    lab.faults.schedule(FaultKind.STUCK_JOB, "cycler.start")
    await cycler.start(start("job-x", channel=4))
    with pytest.raises(DriverTimeout) as late:
        await collect(cycler.stream("job-x", deadline_s=1.0))
    assert late.value.command == "job job-x"
    with pytest.raises(DriverTimeout):
        await cycler.wait("job-x", deadline_s=0.3)
    await cycler.reset(4)
    assert (await cycler.job("job-x")).state is JobState.ABORTED


async def test_the_client_recovers_after_a_server_restart(
    sim_settings: SimSettings, pool: CellPool
) -> None:
    async with running_cycler(sim_settings, pool) as (server, _):
        config = cycler_config(
            server.command_endpoint,
            server.stream_endpoint,
            retry={"reply_timeout_s": 0.3, "attempts": 10},
        )
        async with CyclerClient(config) as cycler:
            await server.stop()
            pending = asyncio.create_task(cycler.list_channels())
            await asyncio.sleep(0.3)
            assert not pending.done()
            await server.start()
            assert len(await pending) == 16
            await cycler.start(start("job-after"))
            streamed = await collect(cycler.stream("job-after", deadline_s=DEADLINE_S))
            np.testing.assert_array_equal(streamed, await everything(cycler, "job-after"))


async def test_curve_end_to_end(sim_settings: SimSettings, pool: CellPool, tmp_path: Path) -> None:
    security = {"enabled": True, "key_dir": tmp_path / "keys"}
    async with lab_cycler(settings_with(sim_settings, security=security), pool) as (
        server,
        _,
        cycler,
    ):
        assert server.public_key is not None
        await cycler.start(start("job-c"))
        streamed = await collect(cycler.stream("job-c", deadline_s=DEADLINE_S))
        np.testing.assert_array_equal(streamed, await everything(cycler, "job-c"))
