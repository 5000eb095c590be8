"""Simulated lab throughput: the cycler's point stream against raw pyzmq, measured in one run.

Cycler: a CyclerServer with 500 channels at acceleration ``inf``; every channel runs a job on the
same registered cell and protocol, so the cell model computes the trace once (the rest are cache
hits shared in flight). One SUB in a separate process subscribes to every channel and counts
points from the first to the last point received, checking sequence numbers for gaps.

Raw: a bare PUB socket (same NODROP setting) sends the same trace as msgpack batches of the
same size and columnar layout, and as one msgpack record per message, to the same subscriber
code. Goal: cycler >= 0.3 of raw batched throughput.

Also timed: one XRD pattern (3501 points) and PyBaMM per 100 galvanostatic cycles.

    .venv/bin/python benchmarks/sim_throughput.py [--runs 3] [--channels 500] [--cycles 2]
"""

import argparse
import asyncio
import json
import math
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import zmq
import zmq.asyncio

from voltlab.protocol import PROTOCOL_VERSION, Recipe
from voltlab.protocol.cycler import STATUS_TOPIC, GalvanostaticCycling
from voltlab.simulated_hardware.config import load_sim_settings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.registry import Powder
from voltlab.simulated_hardware.servers.cycler import CyclerServer
from voltlab.simulated_hardware.servers.cycler_channels import MAX_BATCH_POINTS
from voltlab.simulated_hardware.servers.cycler_stream import SNDHWM_BATCHES, batch_dict
from voltlab.simulated_hardware.world.cell_descriptors import cell_descriptors
from voltlab.simulated_hardware.world.cell_model import simulate_cell
from voltlab.simulated_hardware.world.cell_types import CellSpec, CellTrace
from voltlab.simulated_hardware.world.product import make_product
from voltlab.simulated_hardware.world.xrd import simulate_pattern

RECIPE = Recipe(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=850, calcination_time_h=10
)
SYNC_TOPIC = b"sync"
RAW_PREFIX = b"raw.ch"
PER_RECORD_POINTS = 100_000


def count_points(
    endpoint: str, prefix: bytes, job_prefix: str, jobs: int, conn: Connection
) -> None:
    """Subscriber process: report ready on the first sync/status message, then count points of
    jobs named ``job_prefix...`` until ``jobs`` final batches; send (points, seconds, gaps)."""
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, SNDHWM_BATCHES)
    sub.connect(endpoint)
    for topic in (prefix, STATUS_TOPIC, SYNC_TOPIC):
        sub.subscribe(topic)
    ready = False
    next_seq: dict[str, int] = {}
    points = gaps = finals = 0
    first = last = 0.0
    while finals < jobs:
        topic, payload = sub.recv_multipart()
        if not topic.startswith(prefix):
            if not ready:
                conn.send("ready")
                ready = True
            continue
        message = msgpack.unpackb(payload)
        job = message["job_id"]
        if not job.startswith(job_prefix):
            continue
        if not points:
            first = time.perf_counter()
        if "seq" in message:  # one record per message
            seq, n = message["seq"], 1
        else:
            seq, n = message["first_seq"], len(message["time_s"])
        gaps += seq - next_seq.get(job, 0)
        next_seq[job] = seq + n
        points += n
        finals += bool(message["final"])
        last = time.perf_counter()
    conn.send((points, last - first, gaps))
    ctx.destroy(linger=0)


def start_counter(
    endpoint: str, prefix: bytes, job_prefix: str, jobs: int
) -> tuple[Any, Connection]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=count_points, args=(endpoint, prefix, job_prefix, jobs, child), daemon=True
    )
    process.start()
    return process, parent


# --- cycler -----------------------------------------------------------------------------------


class Dealer:
    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    async def send(self, command: str, **params: Any) -> None:
        request = {"v": PROTOCOL_VERSION, "msg_id": "b", "command": command, "params": params}
        await self.sock.send(json.dumps(request).encode())

    async def reply(self) -> dict[str, Any]:
        reply = json.loads(await asyncio.wait_for(self.sock.recv(), 30.0))
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
        return reply["result"]

    async def call(self, command: str, **params: Any) -> dict[str, Any]:
        await self.send(command, **params)
        return await self.reply()


async def cycler_runs(
    runs: int, channels: int, protocol: GalvanostaticCycling
) -> tuple[list[float], CellTrace]:
    """Points/s received by one subscriber of all ``channels``, one value per run, and the trace
    every channel streamed (fetched back, for the raw benchmark to send the same records)."""
    with tempfile.TemporaryDirectory() as state:
        settings = load_sim_settings(
            acceleration=math.inf,
            state_dir=Path(state),
            cycler={"channels": channels, "command_port": 0, "stream_port": 0},
        )
        lab = LabContext.from_settings(settings)
        product = make_product(RECIPE, lab.rng("bench"))
        lab.registry.add_powder(Powder("powder-1", RECIPE, product, 5.0))
        lab.registry.add_cell("cell-1", "powder-1")
        server = CyclerServer(lab)
        await server.start()
        ctx = zmq.asyncio.Context()
        client = Dealer(ctx, server.command_endpoint)
        start = {
            "cell": {"cell_id": "cell-1", "sample_id": "powder-1"},
            "protocol": protocol.model_dump(),
        }
        try:
            await client.call("start", channel=0, job_id="warm", **start)  # fills the cache
            for _ in range(1200):  # the first trace takes a PyBaMM solve: poll up to 60 s
                if (await client.call("job", job_id="warm"))["state"] == "completed":
                    break
                await asyncio.sleep(0.05)
            fetched = await client.call("fetch", job_id="warm", max_points=100_000)
            rates = []
            for run in range(runs):
                process, conn = start_counter(
                    server.stream_endpoint, b"cycler.ch", f"run{run}-", channels
                )
                probe = 0
                while not conn.poll():  # slow joiner: probe jobs until the subscriber hears one
                    await client.call("start", channel=0, job_id=f"probe{run}-{probe}", **start)
                    await client.call("stop", job_id=f"probe{run}-{probe}")
                    probe += 1
                    await asyncio.sleep(0.05)
                conn.recv()
                for channel in range(channels):
                    await client.send(
                        "start", channel=channel, job_id=f"run{run}-{channel}", **start
                    )
                for _ in range(channels):
                    await client.reply()
                points, seconds, gaps = await asyncio.to_thread(conn.recv)
                process.join()
                if gaps:
                    raise RuntimeError(f"cycler run {run}: {gaps} points missing from the stream")
                rates.append(points / seconds)
            return rates, _as_trace(fetched)
        finally:
            ctx.destroy(linger=0)
            await server.stop()
            lab.close()


def _as_trace(batch: dict[str, Any]) -> CellTrace:
    return CellTrace(
        time_s=np.array(batch["time_s"]),
        voltage_v=np.array(batch["voltage_v"]),
        current_a=np.array(batch["current_a"]),
        capacity_ah=np.array(batch["capacity_ah"]),
        cycle=np.array(batch["cycle"], dtype=np.int32),
        step=np.array(batch["step"], dtype=np.int32),
        nominal_capacity_ah=0.0,
    )


# --- raw pyzmq --------------------------------------------------------------------------------


def raw_runs(runs: int, channels: int, trace: CellTrace, batch_points: int) -> list[float]:
    """Points/s of a bare PUB sending ``trace`` per channel in batches of ``batch_points``
    (columnar, as the cycler does) or, with ``batch_points=1``, one record per message."""
    rates = []
    for run in range(runs):
        ctx = zmq.Context()
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.SNDHWM, SNDHWM_BATCHES)
        pub.setsockopt(zmq.XPUB_NODROP, 1)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        jobs = channels if batch_points > 1 else max(1, PER_RECORD_POINTS // len(trace))
        process, conn = start_counter(f"tcp://127.0.0.1:{port}", RAW_PREFIX, f"raw{run}-", jobs)
        while not conn.poll(0.05):
            pub.send_multipart([SYNC_TOPIC, b""])
        conn.recv()
        send = _send_batches if batch_points > 1 else _send_records
        for channel in range(jobs):
            send(pub, f"raw{run}-{channel}", channel, trace, batch_points)
        points, seconds, gaps = conn.recv()
        process.join()
        ctx.destroy(linger=0)
        if gaps:
            raise RuntimeError(f"raw run {run}: {gaps} points missing")
        rates.append(points / seconds)
    return rates


def _send_batches(pub: zmq.Socket, job: str, channel: int, trace: CellTrace, size: int) -> None:
    topic = RAW_PREFIX + f"{channel:03d}".encode()
    n = len(trace)
    for start in range(0, n, size):
        stop = min(start + size, n)
        message = batch_dict(job, channel, trace, start, stop, final=stop == n)
        pub.send_multipart([topic, msgpack.packb(message)])


def _send_records(pub: zmq.Socket, job: str, channel: int, trace: CellTrace, _: int) -> None:
    topic = RAW_PREFIX + f"{channel:03d}".encode()
    columns = [
        trace.time_s.tolist(),
        trace.voltage_v.tolist(),
        trace.current_a.tolist(),
        trace.capacity_ah.tolist(),
        trace.cycle.tolist(),
        trace.step.tolist(),
    ]
    n = len(trace)
    for seq, (t, v, i, q, cycle, step) in enumerate(zip(*columns, strict=True)):
        record = {
            "job_id": job,
            "channel": channel,
            "seq": seq,
            "time_s": t,
            "voltage_v": v,
            "current_a": i,
            "capacity_ah": q,
            "cycle": cycle,
            "step": step,
            "final": seq == n - 1,
        }
        pub.send_multipart([topic, msgpack.packb(record)])


# --- world models (hooks) -----------------------------------------------------------------------


def xrd_pattern_seconds(patterns: int = 20) -> tuple[float, float]:
    """(first call, median of the next ``patterns``) seconds for a 3501-point pattern 10-80 deg."""
    product = make_product(RECIPE, np.random.default_rng(0))
    two_theta = np.linspace(10.0, 80.0, 3501)
    rng = np.random.default_rng(1)
    times = [
        _timed(lambda: simulate_pattern(product, two_theta, 1.0, rng)) for _ in range(patterns + 1)
    ]
    return times[0], statistics.median(times[1:])


def pybamm_seconds_per_100_cycles(cells: int = 3) -> tuple[float, float, float]:
    """(first uncached incl. model build, median uncached, median cached) seconds for one
    100-cycle galvanostatic simulation (C/2 charge, 1C discharge); each cell id misses the cache."""
    protocol = GalvanostaticCycling(
        cycles=100, charge_c_rate=0.5, discharge_c_rate=1.0, v_min=2.8, v_max=4.2
    )
    descriptors = cell_descriptors(make_product(RECIPE, np.random.default_rng(0)))
    specs = [CellSpec(f"pybamm-bench-{i}", descriptors) for i in range(cells + 1)]
    with tempfile.TemporaryDirectory() as cache:
        uncached = [
            _timed(lambda s=s: simulate_cell(Path(cache), 0, s, protocol, 30.0)) for s in specs
        ]
        cached = [
            _timed(lambda s=s: simulate_cell(Path(cache), 0, s, protocol, 30.0)) for s in specs
        ]
    return uncached[0], statistics.median(uncached[1:]), statistics.median(cached)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--skip-world", action="store_true", help="only the stream benchmarks")
    args = parser.parse_args()
    protocol = GalvanostaticCycling(
        cycles=args.cycles, charge_c_rate=1.0, discharge_c_rate=1.0, v_min=2.8, v_max=4.2
    )

    cycler, trace = asyncio.run(cycler_runs(args.runs, args.channels, protocol))
    raw_batched = raw_runs(args.runs, args.channels, trace, MAX_BATCH_POINTS)
    raw_single = raw_runs(args.runs, args.channels, trace, 1)

    med = {
        name: statistics.median(v)
        for name, v in [
            ("cycler", cycler),
            ("raw_batched", raw_batched),
            ("raw_single", raw_single),
        ]
    }
    total = args.channels * len(trace)
    print(
        f"{args.channels} channels x {len(trace)} points ({args.cycles} cycles) = {total:,} points per run, "
        f"median of {args.runs} runs"
    )
    print(f"{'measurement':<48}{'median':>14}  runs")
    rows = [
        ("cycler stream, acceleration inf (points/s)", cycler),
        (f"raw PUB/SUB, msgpack batches of {MAX_BATCH_POINTS} (points/s)", raw_batched),
        ("raw PUB/SUB, one record per message (points/s)", raw_single),
    ]
    for name, values in rows:
        print(
            f"{name:<48}{statistics.median(values):>14,.0f}  "
            + ", ".join(f"{v:,.0f}" for v in values)
        )
    print(
        f"{'ratio cycler / raw batched (goal >= 0.3)':<48}{med['cycler'] / med['raw_batched']:>14.2f}"
    )
    print(
        f"{'ratio cycler / raw one record per message':<48}{med['cycler'] / med['raw_single']:>14.2f}"
    )
    if not args.skip_world:
        first, typical = xrd_pattern_seconds()
        print(
            f"{'XRD pattern, 3501 points (ms; first call)':<48}{typical * 1e3:>14.1f}  {first * 1e3:.0f}"
        )
        first, uncached, cached = pybamm_seconds_per_100_cycles()
        print(f"{'PyBaMM, 100 cycles uncached (s; first call)':<48}{uncached:>14.2f}  {first:.2f}")
        print(f"{'PyBaMM, 100 cycles from the cell cache (ms)':<48}{cached * 1e3:>14.1f}")


if __name__ == "__main__":
    main()
