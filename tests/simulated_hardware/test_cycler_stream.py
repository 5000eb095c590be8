"""The simulated cycler's point stream: order, sequence numbers, final batches, slow joiners,
corrupt batches, stops mid-stream, 500 concurrent channels and the reference fast-charge cell."""

import asyncio
import json
import time

import msgpack
import numpy as np
import pytest
import zmq
import zmq.asyncio

from tests.simulated_hardware.cycler_harness import (
    Client,
    Subscriber,
    columns,
    running_cycler,
    settings_with,
    shared_pool,
    start_params,
    zmq_context,
)
from voltlab.protocol.cycler import (
    STATUS_TOPIC,
    unpack_points,
)
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.servers.cell_pool import CellPool
from voltlab.simulated_hardware.servers.cycler_stream import batch_dict, pack
from voltlab.simulated_hardware.world.cell_types import CellTrace

pytestmark = pytest.mark.servers
INF = float("inf")


pool = pytest.fixture(scope="module")(shared_pool)
zctx = pytest.fixture(zmq_context)


def test_stream_batches_are_point_batches_without_validation_on_the_server() -> None:
    """Transport only: a trace built from numpy arrays, packed as the server packs it."""
    n = 7
    trace = CellTrace(
        time_s=np.arange(n) * 30.0,
        voltage_v=np.linspace(3.0, 4.2, n),
        current_a=np.full(n, -0.001),
        capacity_ah=np.linspace(0, 1e-4, n),
        cycle=np.ones(n, dtype=np.int32),
        step=np.array([0, 0, 0, 1, 1, 2, 2], dtype=np.int32),
        nominal_capacity_ah=0.003,
    )
    batch = unpack_points(pack(batch_dict("job", 5, trace, 2, 6, final=False)))
    assert (batch.job_id, batch.channel, batch.first_seq, len(batch), batch.final) == (
        "job",
        5,
        2,
        4,
        False,
    )
    assert batch.voltage_v == trace.voltage_v[2:6].tolist() and batch.step == [0, 1, 1, 2]
    assert isinstance(batch.cycle[0], int) and batch.total_points is None


async def test_a_subscriber_gets_every_point_in_order_then_a_final_batch(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    async with running_cycler(settings_with(sim_settings, acceleration=INF), pool) as (server, _):
        client = Client(zctx, server.command_endpoint)
        sub = Subscriber(zctx, server.stream_endpoint, channel=4)
        await sub.sync(client, probe_channel=15)
        await client.ok("start", **start_params("whole", channel=4))
        batches, states = [], []
        while not batches or not batches[-1].final:
            topic, payload = await sub.receive()
            if topic == STATUS_TOPIC:
                states.append(msgpack.unpackb(payload)["state"])
            else:
                batches.append(unpack_points(payload))
        expected_seq = 0
        for batch in batches:
            assert batch.first_seq == expected_seq and batch.channel == 4
            assert 0 < len(batch) <= 500
            expected_seq += len(batch)
        everything = await client.fetch_all("whole")
        assert expected_seq == len(everything) > 1000
        streamed = np.concatenate([columns(b) for b in batches])
        np.testing.assert_array_equal(streamed, columns(everything))
        assert np.all(np.diff(everything.time_s) > 0)
        assert {everything.cycle[0], everything.cycle[-1]} == {1, 2}
        _, payload = await sub.receive()
        assert [*states, msgpack.unpackb(payload)["state"]] == ["running", "completed"]


async def test_a_late_subscriber_fetches_the_head_without_duplicates(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    # ~90,000 s of instrument time at 1e5x: the job streams for about 0.9 s of wall time
    async with running_cycler(settings_with(sim_settings, acceleration=1e5), pool) as (server, _):
        client = Client(zctx, server.command_endpoint)
        await client.ok("start", **start_params("warm", channel=1))  # trace into the cache
        await client.wait_job("warm")
        await client.ok("stop", job_id="warm")
        await client.ok("start", **start_params("late", channel=2))
        started = time.monotonic()
        await client.wait_job("late")
        sub = Subscriber(zctx, server.stream_endpoint, channel=2)
        stitched = await sub.stitch(client, "late")
        wall_s = time.monotonic() - started

        everything = await client.fetch_all("late")
        assert stitched.first_streamed_seq is not None and stitched.first_streamed_seq > 0
        assert stitched.fetched > 0 and stitched.streamed > 0
        assert stitched.fetched + stitched.streamed == len(everything)
        np.testing.assert_array_equal(stitched.points(), columns(everything))
        assert wall_s >= 0.7 * everything.time_s[-1] / 1e5  # paced by the clock


@pytest.mark.parametrize("kind", [FaultKind.CORRUPT_MESSAGE, FaultKind.TRUNCATED_MESSAGE])
async def test_an_undecodable_batch_is_backfilled_by_fetch(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context, kind: FaultKind
) -> None:
    async with running_cycler(settings_with(sim_settings, acceleration=INF), pool) as (server, lab):
        client = Client(zctx, server.command_endpoint)
        sub = Subscriber(zctx, server.stream_endpoint, channel=0)
        await sub.sync(client, probe_channel=15)
        lab.faults.schedule(kind, "cycler.stream")
        await client.ok("start", **start_params("faulty"))
        stitched = await sub.stitch(client, "faulty")
        everything = await client.fetch_all("faulty")
        assert stitched.undecodable == 1 and 0 < stitched.fetched <= 500
        np.testing.assert_array_equal(stitched.points(), columns(everything))
        assert [(f.kind, f.operation) for f in lab.faults.injected] == [(kind, "cycler.stream")]


async def test_stop_mid_stream_ends_with_a_final_batch_and_keeps_the_data(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    async with running_cycler(settings_with(sim_settings, acceleration=1e4), pool) as (server, _):
        client = Client(zctx, server.command_endpoint)
        sub = Subscriber(zctx, server.stream_endpoint, channel=3)
        await sub.sync(client, probe_channel=15)
        await client.ok("start", **start_params("halted", channel=3))
        topic, first = await sub.receive()
        while topic != sub.topic:
            topic, first = await sub.receive()
        stopped = await client.ok("stop", job_id="halted")
        assert stopped["state"] == "stopped" and 0 < stopped["points"] < 1000
        last = unpack_points(first)
        while not last.final:
            topic, payload = await sub.receive()
            if topic == sub.topic:
                last = unpack_points(payload)
        assert len(last) == 0 and last.first_seq == stopped["points"]
        kept = await client.fetch_all("halted")
        assert len(kept) == stopped["points"] and kept.total_points == stopped["points"]
        assert (await client.ok("job", job_id="halted"))["points"] == stopped["points"]


async def test_500_channels_stream_concurrently_without_loss(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    settings = settings_with(sim_settings, acceleration=INF, channels=500)
    async with running_cycler(settings, pool) as (server, _):
        client = Client(zctx, server.command_endpoint)
        await client.ok("start", **start_params("solo", channel=0))  # trace into the cache
        total = (await client.wait_job("solo", "completed"))["points"]
        sub = Subscriber(zctx, server.stream_endpoint, channel=None)
        await sub.sync(client, probe_channel=0)

        next_seq: dict[str, int] = {}

        async def follow_all() -> None:
            finished = 0
            while finished < 500:
                topic, payload = await sub.receive()
                if topic == STATUS_TOPIC:
                    continue
                batch = unpack_points(payload)
                assert batch.first_seq == next_seq.get(batch.job_id, 0), "lost or reordered batch"
                next_seq[batch.job_id] = batch.first_seq + len(batch)
                finished += batch.final

        reader = asyncio.create_task(follow_all())  # read while the starts go out
        for channel in range(500):
            await client.send("start", **start_params(f"many-{channel}", channel=channel))
        for _ in range(500):
            assert json.loads(await client.receive())["ok"] is True
        await reader
        assert len(next_seq) == 500 and set(next_seq.values()) == {total}
        assert server.channels.jobs["many-499"].emitted == total
        assert server.dropped_batches == 0


async def test_fast_charge_on_the_reference_cell(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    async with running_cycler(settings_with(sim_settings, acceleration=INF), pool) as (server, _):
        client = Client(zctx, server.command_endpoint)
        protocol = {"kind": "fast_charge", "cycles": 2, "cc1_c_rate": 4.8, "cc2_c_rate": 4.8}
        reference = {"cell_id": "ref-1", "sample_id": None}
        job = await client.ok("start", channel=7, job_id="fc-1", cell=reference, protocol=protocol)
        assert job["cell"] == reference and job["protocol"]["kind"] == "fast_charge"
        done = await client.wait_job("fc-1", "completed")
        trace = await client.fetch_all("fc-1")
        assert len(trace) == done["points"] and done["cycle"] == 2
        cc1 = np.array(trace.current_a)[(np.array(trace.step) == 0) & (np.array(trace.cycle) == 1)]
        assert cc1.mean() == pytest.approx(-4.8 * 0.0027, rel=0.05)  # 4.8C of a 2.7 mAh cell
