"""Cycler channel devices: a job started through CyclerClient, its points stepped through by
trigger, each exactly once and in order, from the RunEngine's loop."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pydantic
import pytest

from tests.drivers.bluesky_harness import bluesky_session
from tests.drivers.conftest import cycler_config
from tests.simulated_hardware.cycler_harness import (
    CELL,
    SHORT,
    Client,
    KeepingContext,
    columns,
    running_cycler,
    settings_with,
    shared_pool,
)
from voltlab.drivers import CommandRefused
from voltlab.drivers.devices import Cycler, CyclerChannel, CyclingRequest, DeviceError
from voltlab.drivers.session import BlueskySession
from voltlab.protocol import ErrorCode
from voltlab.protocol.cycler import PointBatch
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.servers.cell_pool import CellPool

pytestmark = pytest.mark.servers

pool = pytest.fixture(scope="module")(shared_pool)
LIVE = 5e4
"""Acceleration at which the short protocol streams for about 2 s."""
COLUMNS = ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")


def request(job_id: str, **changes: Any) -> CyclingRequest:
    return CyclingRequest.model_validate(
        {"job_id": job_id, "cell": CELL, "protocol": SHORT, "deadline_s": 20.0} | changes
    )


@contextlib.asynccontextmanager
async def cycler_lab(
    settings: SimSettings, pool: CellPool
) -> AsyncIterator[tuple[BlueskySession, Cycler, Client]]:
    """A cycler on the test's loop, a connected Cycler device (channels 0 and 1) and a raw client."""
    ctx = KeepingContext()
    try:
        async with running_cycler(settings, pool) as (server, _):
            raw = Client(ctx, server.command_endpoint)
            async with bluesky_session() as (session, _):
                config = cycler_config(server.command_endpoint, server.stream_endpoint)
                cycler = Cycler(config, channels=[1, 0])
                await session.aconnect({"cycler": cycler})
                yield session, cycler, raw
    finally:
        ctx.destroy(linger=0)


async def follow(channel: CyclerChannel, job: CyclingRequest) -> list[dict[str, Any]]:
    """Set the job and trigger until its stream ends; every reading in order."""
    await channel.set(job)
    readings = []
    while True:
        await channel.trigger()
        if await channel.ended.get_value():
            return readings
        readings.append(await channel.read())


def rows(readings: list[dict[str, Any]]) -> np.ndarray:
    name = "cycler-channels-0-{}"
    return np.concatenate(
        [np.column_stack([r[name.format(c)]["value"] for c in COLUMNS]) for r in readings]
    )


async def test_a_channel_delivers_every_point_once_in_order(
    sim_settings: SimSettings, pool: CellPool
) -> None:
    async with cycler_lab(settings_with(sim_settings, LIVE), pool) as (session, cycler, raw):
        channel = cycler.channels[0]

        async def run() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], int]:
            readings = await follow(channel, request("c-live"))
            config = await channel.read_configuration()
            return readings, config, await channel.describe(), await channel.next_seq.get_value()

        readings, config, keys, next_seq = await session.acall(run())
        truth = PointBatch.model_validate(await raw.ok("fetch", job_id="c-live", max_points=10**5))
    seqs = [r["cycler-channels-0-first_seq"]["value"] for r in readings]
    lengths = [len(r["cycler-channels-0-time_s"]["value"]) for r in readings]
    assert len(readings) > 1 and seqs == list(np.cumsum([0, *lengths[:-1]]))
    np.testing.assert_array_equal(rows(readings), columns(truth))
    assert next_seq == len(truth) == truth.total_points
    assert {k.removeprefix("cycler-channels-0-"): v["value"] for k, v in config.items()} == {
        "job_id": "c-live",
        "cell_id": "cell-1",
        "sample_id": "powder-1",
    }
    voltage = keys["cycler-channels-0-voltage_v"]
    assert (voltage["dtype"], voltage["shape"], voltage["units"]) == ("array", [None], "V")
    assert keys["cycler-channels-0-cycle"]["dtype_numpy"] == "<i8"


async def test_setting_a_known_job_reattaches_from_a_given_point(
    sim_settings: SimSettings, pool: CellPool
) -> None:
    async with cycler_lab(sim_settings, pool) as (session, cycler, raw):
        channel = cycler.channels[0]
        first = await session.acall(follow(channel, request("c-1")))
        again = await session.acall(follow(channel, request("c-1", from_seq=100)))
        job = await raw.ok("job", job_id="c-1")
    assert again[0]["cycler-channels-0-first_seq"]["value"] == 100
    np.testing.assert_array_equal(rows(again), rows(first)[100:])
    assert len(rows(first)) == job["points"]


async def test_refusals_and_misuse_are_clear_errors(
    sim_settings: SimSettings, pool: CellPool
) -> None:
    async with cycler_lab(sim_settings, pool) as (session, cycler, _):
        channel = cycler.channels[1]

        async def trigger() -> None:
            await channel.trigger()

        with pytest.raises(DeviceError, match="set a CyclingRequest first"):
            await session.acall(trigger())
        too_high = request("c-hot", protocol=SHORT | {"v_max": 4.9})
        with pytest.raises(CommandRefused) as refused:
            await session.acall(follow(channel, too_high))
        assert refused.value.code is ErrorCode.INTERLOCK and "4.9" in refused.value.reason
    with pytest.raises(DeviceError, match="at least one channel"):
        Cycler(cycler_config("tcp://127.0.0.1:1", "tcp://127.0.0.1:2"), channels=[])
    with pytest.raises(pydantic.ValidationError, match="channel"):
        Cycler(cycler_config("tcp://127.0.0.1:1", "tcp://127.0.0.1:2"), channels=[-1])
