"""What the cycler tests share: a started server on loopback, a plain DEALER client and a
subscriber that stitches streamed batches and fetches together the way a driver must."""

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import zmq
import zmq.asyncio

from voltlab.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    Recipe,
    Reply,
    decode_reply,
    new_message_id,
)
from voltlab.protocol.cycler import (
    POINT_TOPIC_PREFIX,
    STATUS_TOPIC,
    PointBatch,
    point_topic,
    unpack_points,
)
from voltlab.protocol.envelope import ErrorBody
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.registry import Powder
from voltlab.simulated_hardware.servers.cell_pool import CellPool
from voltlab.simulated_hardware.servers.cycler import CyclerServer
from voltlab.simulated_hardware.world.product import make_product

RECIPE = Recipe(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=850, calcination_time_h=10
)
POWDER_ID = "powder-1"
CELL_ID = "cell-1"
CELL = {"cell_id": CELL_ID, "sample_id": POWDER_ID}
SHORT = {
    "kind": "galvanostatic",
    "cycles": 2,
    "charge_c_rate": 1.0,
    "discharge_c_rate": 1.0,
    "v_min": 2.8,
    "v_max": 4.2,
}
"""Two cycles (one formation cycle at C/10): about 2,000 points at the 30 s sampling period."""
DEADLINE_S = 30.0
"""Guards against a hang, not a speed check: a PyBaMM solve on a busy 2-core machine can take
several seconds before the first point."""


def start_params(job_id: str, channel: int = 0, **protocol: object) -> dict[str, object]:
    """Params of ``start`` for cell-1 under the short protocol, with ``protocol`` overrides."""
    return {"channel": channel, "job_id": job_id, "cell": CELL, "protocol": SHORT | protocol}


def settings_with(
    base: SimSettings, acceleration: float | None = None, **cycler: Any
) -> SimSettings:
    section = type(base.cycler).model_validate(base.cycler.model_dump() | cycler)
    update: dict[str, Any] = {"cycler": section}
    if acceleration is not None:
        update["acceleration"] = acceleration
    return base.model_copy(update=update)


def shared_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellPool]:
    """One cell-model pool per test module (workers take seconds to start); wrap it with
    ``pytest.fixture(scope="module")``."""
    pool = CellPool(tmp_path_factory.mktemp("cells"), seed=0, sample_period_s=30.0)
    yield pool
    pool.shutdown()


class KeepingContext(zmq.asyncio.Context):
    """Keeps every socket it made until ``destroy`` closes them: a socket collected while still
    open would raise ResourceWarning (an error under the test settings)."""

    # declared on the class: zmq treats unknown instance attributes as socket options
    kept: "list[zmq.asyncio.Socket] | None" = None

    def __init__(self) -> None:
        super().__init__()
        self.kept = []

    def socket(self, socket_type: int, **kwargs: Any) -> zmq.asyncio.Socket:  # type: ignore[override]
        sock = super().socket(socket_type, **kwargs)
        assert self.kept is not None
        self.kept.append(sock)
        return sock


async def zmq_context() -> AsyncIterator[zmq.asyncio.Context]:
    ctx = KeepingContext()
    yield ctx
    ctx.destroy(linger=0)


@contextlib.asynccontextmanager
async def running_cycler(
    settings: SimSettings, pool: CellPool
) -> AsyncIterator[tuple[CyclerServer, LabContext]]:
    """A started cycler with powder ``powder-1`` and cell ``cell-1`` in its registry."""
    lab = LabContext.from_settings(settings)
    product = make_product(RECIPE, lab.rng("test-powder"))
    lab.registry.add_powder(Powder(POWDER_ID, RECIPE, product, mass_g=5.0))
    lab.registry.add_cell(CELL_ID, POWDER_ID)
    server = CyclerServer(lab, pool)
    await server.start()
    try:
        yield server, lab
    finally:
        await server.stop()
        lab.close()


class Client:
    """A DEALER speaking the JSON envelope; every wait has a deadline."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, **curve: bytes) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        for option, value in curve.items():
            setattr(self.sock, option, value)
        self.sock.connect(endpoint)

    async def send(self, command: str, **params: Any) -> None:
        request = {"v": PROTOCOL_VERSION, "msg_id": new_message_id(), "command": command}
        await self.send_raw(json.dumps(request | {"params": params}).encode())

    async def send_raw(self, payload: bytes) -> None:
        await self.sock.send(payload)

    async def receive(self, timeout_s: float = DEADLINE_S) -> bytes:
        if not await self.sock.poll(timeout_s * 1000, zmq.POLLIN):
            raise TimeoutError(f"no reply within {timeout_s} s")
        return (await self.sock.recv_multipart())[-1]

    async def call(self, command: str, **params: Any) -> Reply:
        await self.send(command, **params)
        return decode_reply(await self.receive())

    async def ok(self, command: str, **params: Any) -> dict[str, Any]:
        return (await self.call(command, **params)).raise_for_error()

    async def error(self, command: str, **params: Any) -> ErrorBody:
        reply = await self.call(command, **params)
        assert not reply.ok and reply.error is not None, f"{command} unexpectedly succeeded"
        return reply.error

    async def wait_job(self, job_id: str, state: str | None = None) -> dict[str, Any]:
        """Poll the job until it reaches ``state`` (or, without one, has points); deadline-bounded."""
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            job = await self.ok("job", job_id=job_id)
            if job["state"] == state or (state is None and job["points"] > 0):
                return job
        raise TimeoutError(f"job {job_id} not {state or 'recording'} within {DEADLINE_S} s: {job}")

    async def fetch_all(self, job_id: str) -> PointBatch:
        batch = PointBatch.model_validate(await self.ok("fetch", job_id=job_id, max_points=100_000))
        assert batch.final, "fetch_all is for finished jobs"
        return batch


def columns(batch: PointBatch) -> np.ndarray:
    """The batch's points as rows (time, V, I, Q, cycle, step), for exact comparison."""
    return np.column_stack(
        [batch.time_s, batch.voltage_v, batch.current_a, batch.capacity_ah, batch.cycle, batch.step]
    )


@dataclass
class Stitched:
    """Points of one job assembled from the stream plus fetches of what the stream missed."""

    rows: list[np.ndarray] = field(default_factory=list)
    next_seq: int = 0
    streamed: int = 0
    fetched: int = 0
    undecodable: int = 0
    first_streamed_seq: int | None = None

    def take(self, batch: PointBatch) -> None:
        """Append a batch that starts at ``next_seq``, skipping any part already held."""
        skip = self.next_seq - batch.first_seq
        assert skip >= 0, "a gap must be fetched before taking the batch"
        if len(batch) > skip:
            self.rows.append(columns(batch)[skip:])
            self.next_seq = batch.first_seq + len(batch)

    def points(self) -> np.ndarray:
        return np.concatenate(self.rows) if self.rows else np.empty((0, 6))


class Subscriber:
    """A SUB on one channel (every channel if None) plus the status topic."""

    def __init__(
        self, ctx: zmq.asyncio.Context, endpoint: str, channel: int | None, **curve: bytes
    ) -> None:
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        for option, value in curve.items():
            setattr(self.sock, option, value)
        self.sock.connect(endpoint)
        self.topic = POINT_TOPIC_PREFIX if channel is None else point_topic(channel)
        self.sock.subscribe(self.topic)
        self.sock.subscribe(STATUS_TOPIC)

    async def receive(self, timeout_s: float = DEADLINE_S) -> tuple[bytes, bytes]:
        if not await self.sock.poll(timeout_s * 1000, zmq.POLLIN):
            raise TimeoutError(f"nothing published within {timeout_s} s")
        topic, payload = await self.sock.recv_multipart()
        return topic, payload

    async def sync(self, client: Client, probe_channel: int) -> None:
        """Return once the subscription is live: start and stop probe jobs on another channel
        until their status message arrives (the slow-joiner handshake)."""
        for attempt in range(20):
            job_id = f"probe-{probe_channel}-{attempt}"
            await client.ok(
                "start", channel=probe_channel, job_id=job_id, cell=CELL, protocol=SHORT
            )
            await client.ok("stop", job_id=job_id)
            with contextlib.suppress(TimeoutError):
                while True:
                    topic, _ = await self.receive(timeout_s=0.3)
                    if topic == STATUS_TOPIC:
                        await self.drain()
                        return
        raise TimeoutError("subscription never became live")

    async def drain(self) -> None:
        while await self.sock.poll(50, zmq.POLLIN):
            await self.sock.recv_multipart()

    async def stitch(self, client: Client, job_id: str, into: Stitched | None = None) -> Stitched:
        """Follow the job's batches to its end, fetching every gap (missed, dropped or
        undecodable batches), as a driver does."""
        out = into or Stitched()
        while True:
            topic, payload = await self.receive()
            if topic != self.topic:
                continue
            try:
                batch = unpack_points(payload)
            except ProtocolError:
                out.undecodable += 1
                continue
            if batch.job_id != job_id:
                continue
            if out.first_streamed_seq is None and len(batch):
                out.first_streamed_seq = batch.first_seq
            if batch.first_seq > out.next_seq:
                await self._fetch(client, job_id, out, until=batch.first_seq)
            before = out.next_seq
            out.take(batch)
            out.streamed += out.next_seq - before
            if batch.final:
                await self._fetch(client, job_id, out, until=None)
                return out

    @staticmethod
    async def _fetch(client: Client, job_id: str, out: Stitched, until: int | None) -> None:
        """Fetch [next_seq, until) or, with ``until=None``, everything left of a final job."""
        while until is None or out.next_seq < until:
            limit = 100_000 if until is None else until - out.next_seq
            reply = await client.ok("fetch", job_id=job_id, from_seq=out.next_seq, max_points=limit)
            batch = PointBatch.model_validate(reply)
            out.take(batch)
            out.fetched += len(batch)
            if until is None and batch.final:
                return
