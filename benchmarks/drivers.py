"""Driver overheads on loopback, measured side by side in one run against the simulated lab.

- command round trips through the clients: ZMQ (XRD ``status``, cycler ``status``) and OPC UA
  (robot ``GetJob`` method call, state-variable read); median and p99 in ms;
- streamed points/s of one cycling job end to end through ``CyclerClient.stream`` against a raw
  pyzmq SUB socket decoding the same batches (msgpack only), for the same protocol.

Run: ``.venv/bin/python benchmarks/drivers.py``. Goals: ZMQ median <= 5 ms, OPC UA <= 20 ms,
stream >= 0.5 of raw.
"""

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgpack
import numpy as np
import zmq
import zmq.asyncio

from voltlab.drivers import (
    CyclerClient,
    CyclerConfig,
    HeartbeatPolicy,
    RobotClient,
    RobotConfig,
    XRDClient,
    XRDConfig,
)
from voltlab.protocol import Recipe
from voltlab.protocol.cycler import STATUS_TOPIC, StartParams, point_topic
from voltlab.simulated_hardware.config import load_sim_settings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.registry import Powder
from voltlab.simulated_hardware.servers.cycler import CyclerServer
from voltlab.simulated_hardware.servers.robot import RobotServer
from voltlab.simulated_hardware.servers.xrd import XRDServer
from voltlab.simulated_hardware.world.product import make_product

ROUND_TRIPS = 500
STREAM_CYCLES = 40
RECIPE = Recipe(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=850, calcination_time_h=10
)
QUIET = HeartbeatPolicy(interval_s=60.0)


async def timed(call: Callable[[], Awaitable[object]], n: int = ROUND_TRIPS) -> np.ndarray:
    for _ in range(10):
        await call()
    samples = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        await call()
        samples[i] = time.perf_counter() - t0
    return samples * 1e3


def start_params(job_id: str, channel: int) -> StartParams:
    protocol = {
        "kind": "galvanostatic",
        "cycles": STREAM_CYCLES,
        "charge_c_rate": 1.0,
        "discharge_c_rate": 1.0,
        "v_min": 2.8,
        "v_max": 4.2,
    }
    cell = {"cell_id": "cell-1", "sample_id": "powder-1"}
    return StartParams.model_validate(
        {"channel": channel, "job_id": job_id, "cell": cell, "protocol": protocol}
    )


async def raw_stream(ctx: zmq.asyncio.Context, endpoint: str, cycler: CyclerClient) -> float:
    """Points/s of a raw SUB that only unpacks msgpack, for one job (after a warm-up job)."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(endpoint)
    sub.subscribe(point_topic(1))
    sub.subscribe(STATUS_TOPIC)
    try:
        await cycler.start(start_params("raw-warm", 1))  # joins the stream, warms the trace
        await cycler.wait("raw-warm", 120)
        await asyncio.sleep(0.2)
        while await sub.poll(50):
            await sub.recv_multipart()
        points, t0 = 0, time.perf_counter()
        await cycler.start(start_params("raw", 1))
        while True:
            topic, payload = await sub.recv_multipart()
            if topic == STATUS_TOPIC:
                continue
            batch = msgpack.unpackb(payload, raw=False)
            points += len(batch["time_s"])
            if batch["final"]:
                return points / (time.perf_counter() - t0)
    finally:
        sub.close(linger=0)


async def client_stream(cycler: CyclerClient) -> float:
    t0 = time.perf_counter()
    await cycler.start(start_params("driver", 2))
    points = 0
    async for batch in cycler.stream("driver", channel=2):
        points += len(batch)
    return points / (time.perf_counter() - t0)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_sim_settings(
            acceleration=float("inf"),
            state_dir=Path(tmp),
            robot={"port": 0},
            cycler={"command_port": 0, "stream_port": 0},
            xrd={"port": 0},
        )
        lab = LabContext.from_settings(settings)
        product = make_product(RECIPE, lab.rng("bench"))
        lab.registry.add_powder(Powder("powder-1", RECIPE, product, 5.0))
        lab.registry.add_cell("cell-1", "powder-1")
        xrd_server, cycler_server, robot_server = (
            XRDServer(lab),
            CyclerServer(lab),
            RobotServer(lab),
        )
        for server in (xrd_server, cycler_server, robot_server):
            await server.start()
        ctx = zmq.asyncio.Context()
        try:
            xrd = XRDClient(XRDConfig(endpoint=xrd_server.endpoint, heartbeat=QUIET), ctx)
            cycler = CyclerClient(
                CyclerConfig(
                    endpoint=cycler_server.command_endpoint,
                    stream_endpoint=cycler_server.stream_endpoint,
                    heartbeat=QUIET,
                ),
                ctx,
            )
            robot = RobotClient(RobotConfig(url=robot_server.url, heartbeat=QUIET))
            async with xrd, cycler, robot:
                await robot.submit("bench-job", RECIPE)
                rows = [
                    ("ZMQ XRD status", await timed(xrd.status), 5.0),
                    ("ZMQ cycler status", await timed(lambda: cycler.status(0)), 5.0),
                    ("OPC UA GetJob (method)", await timed(lambda: robot.job("bench-job")), 20.0),
                    ("OPC UA read (6 variables)", await timed(robot.readings), 20.0),
                ]
                raw = await raw_stream(ctx, cycler_server.stream_endpoint, cycler)
                driven = await client_stream(cycler)
        finally:
            for server in (robot_server, cycler_server, xrd_server):
                await server.stop()
            ctx.destroy(linger=0)
            lab.close()
    print(f"{'command round trip':<28}{'median ms':>10}{'p99 ms':>10}{'goal ms':>10}")
    for name, samples, goal in rows:
        median, p99 = np.median(samples), np.percentile(samples, 99)
        print(f"{name:<28}{median:>10.3f}{p99:>10.3f}{goal:>10.1f}")
    print()
    print(f"{'stream (one job)':<28}{'points/s':>12}")
    print(f"{'raw pyzmq SUB + msgpack':<28}{raw:>12.0f}")
    print(f"{'CyclerClient.stream':<28}{driven:>12.0f}")
    print(f"{'ratio (goal >= 0.5)':<28}{driven / raw:>12.2f}")


if __name__ == "__main__":
    asyncio.run(main())
