"""The cycler's PUB socket: streamed point batches and job state changes.

High-water mark policy: at acceleration ``inf`` with hundreds of channels the server produces
points faster than a subscriber can decode them, and a plain PUB socket would drop them silently.
The socket is therefore set to ``XPUB_NODROP``: when a subscriber's queue (``SNDHWM`` batches)
is full the send fails instead, and the publisher retries (one waiting sender at a time, the
others queue behind it in order), so channels are paced by their subscribers and nothing is lost
while they keep up. A subscriber that stops reading must not freeze every channel: after
``STALL_TIMEOUT_S`` of waiting the publisher drops batches (counted in ``dropped``, logged) until
a send succeeds again. Every point keeps its sequence number either way, so a subscriber that
sees a gap fetches the missing range.

The socket is used synchronously with ``DONTWAIT``: asyncio sockets cannot wait for room on a
PUB socket, which always reports itself writable.
"""

import asyncio
import logging
from typing import Any

import msgpack
import zmq
import zmq.asyncio

from voltlab.simulated_hardware.servers.curve import make_curve_server
from voltlab.simulated_hardware.world.cell_types import CellTrace

log = logging.getLogger(__name__)

SNDHWM_BATCHES = 2_000
"""Batches queued per subscriber before sends wait (up to ~60 MB at 500 points a batch)."""
STALL_TIMEOUT_S = 2.0
RETRY_INTERVAL_S = 0.0005


class PointPublisher:
    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        host: str,
        port: int,
        curve_keys: tuple[bytes, bytes] | None = None,
    ) -> None:
        sock = zmq.Context.shadow(ctx.underlying).socket(zmq.PUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, SNDHWM_BATCHES)
        sock.setsockopt(zmq.XPUB_NODROP, 1)
        if curve_keys is not None:
            make_curve_server(sock, *curve_keys)
        try:
            if port:
                sock.bind(f"tcp://{host}:{port}")
            else:
                port = sock.bind_to_random_port(f"tcp://{host}")
        except zmq.ZMQError:
            sock.close(linger=0)  # the context cannot terminate while it is open
            raise
        self._socket = sock
        self._waiting = asyncio.Lock()
        self._congested = False
        self.endpoint = f"tcp://{host}:{port}"
        self.port = port
        self.dropped = 0
        """Batches dropped because a subscriber stalled; they can still be fetched."""

    async def publish(self, topic: bytes, payload: bytes) -> bool:
        """Send one two-frame message; False if it was dropped for a stalled subscriber."""
        frames = [topic, payload]
        if not self._waiting.locked() and self._try(frames):
            return True
        if self._congested:
            return self._drop()
        async with self._waiting:
            deadline = asyncio.get_running_loop().time() + STALL_TIMEOUT_S
            while not self._try(frames):
                if self._congested or asyncio.get_running_loop().time() >= deadline:
                    return self._drop()
                await asyncio.sleep(RETRY_INTERVAL_S)
        return True

    def close(self) -> None:
        self._socket.close(linger=0)

    def _try(self, frames: list[bytes]) -> bool:
        try:
            self._socket.send_multipart(frames, flags=zmq.DONTWAIT)
        except zmq.Again:
            return False
        if self._congested:
            log.info("cycler stream: subscribers caught up after %d dropped batches", self.dropped)
            self._congested = False
        return True

    def _drop(self) -> bool:
        if not self._congested:
            log.warning("cycler stream: a subscriber stalled; dropping batches until it reads")
            self._congested = True
        self.dropped += 1
        return False


def batch_dict(
    job_id: str,
    channel: int,
    trace: CellTrace,
    start: int,
    stop: int,
    final: bool,
    total_points: int | None = None,
) -> dict[str, Any]:
    """Points ``[start, stop)`` of a trace with exactly :class:`~voltlab.protocol.cycler.PointBatch`'s
    fields, built without model validation because it runs once per streamed batch."""
    return {
        "job_id": job_id,
        "channel": channel,
        "first_seq": start,
        "time_s": trace.time_s[start:stop].tolist(),
        "voltage_v": trace.voltage_v[start:stop].tolist(),
        "current_a": trace.current_a[start:stop].tolist(),
        "capacity_ah": trace.capacity_ah[start:stop].tolist(),
        "cycle": trace.cycle[start:stop].tolist(),
        "step": trace.step[start:stop].tolist(),
        "final": final,
        "total_points": total_points,
    }


def empty_batch(
    job_id: str, channel: int, first_seq: int, final: bool, total_points: int | None = None
) -> dict[str, Any]:
    """A batch with no points: the end of a job stopped early, or a fetch past the last point."""
    return {
        "job_id": job_id,
        "channel": channel,
        "first_seq": first_seq,
        "time_s": [],
        "voltage_v": [],
        "current_a": [],
        "capacity_ah": [],
        "cycle": [],
        "step": [],
        "final": final,
        "total_points": total_points,
    }


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)
