"""Follow one cycler job's points: the PUB stream, stitched with ``fetch`` so none is lost or doubled.

Every point carries its sequence number. The follower keeps ``next_seq`` (the first point the
caller does not have) and:

- fetches from ``next_seq`` until caught up before listening, and again whenever it falls
  behind: a batch starting past ``next_seq`` (missed while joining, dropped by the server for a
  slow reader, or lost in a reconnect), an undecodable batch, a final job status, or a stream
  silent for ``stream_idle_s`` (so a lost or garbled final batch still ends the stream);
- trims the overlap of streamed batches it already holds from a fetch.

It yields non-empty batches with consecutive sequence numbers and ends after the job's last
point. A caller that stops iterating early should close the generator
(``contextlib.aclosing``) so its socket is closed at once.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import msgpack
import zmq
import zmq.asyncio

from voltlab.drivers.config import CyclerConfig
from voltlab.drivers.errors import DriverTimeout
from voltlab.protocol import JobState, ProtocolError
from voltlab.protocol.cycler import (
    STATUS_TOPIC,
    CyclerJob,
    PointBatch,
    point_topic,
    unpack_points,
)

log = logging.getLogger(__name__)

Fetch = Callable[[str, int, int], Awaitable[PointBatch]]
COLUMNS = ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")


def tail(batch: PointBatch, from_seq: int) -> PointBatch | None:
    """The part of ``batch`` from sequence number ``from_seq`` on; None if it has none."""
    skip = from_seq - batch.first_seq
    if skip < 0:
        raise ValueError(f"batch starts at {batch.first_seq}, after the wanted {from_seq}")
    if skip >= len(batch):
        return None
    if skip == 0:
        return batch
    columns = {name: getattr(batch, name)[skip:] for name in COLUMNS}
    return batch.model_copy(update={"first_seq": from_seq, **columns})


def _is_final_status(payload: bytes, job_id: str) -> bool:
    try:
        status = msgpack.unpackb(payload, raw=False)
        return status["job_id"] == job_id and JobState(status["state"]).is_final
    except (ValueError, TypeError, KeyError, msgpack.UnpackException):
        return True  # unreadable: check the job with a fetch rather than risk waiting forever


class PointFollower:
    def __init__(
        self,
        instrument: str,
        config: CyclerConfig,
        ctx: zmq.asyncio.Context,
        curve: dict[str, bytes],
        fetch: Fetch,
        job: Callable[[str], Awaitable[CyclerJob]],
    ) -> None:
        self._instrument = instrument
        self._config = config
        self._ctx = ctx
        self._curve = curve
        self._fetch = fetch
        self._job = job

    async def follow(
        self, job_id: str, channel: int | None, from_seq: int, deadline_s: float | None
    ) -> AsyncIterator[PointBatch]:
        """See the module docstring; ``channel`` None: looked up with a ``job`` command."""
        if channel is None:
            channel = (await self._job(job_id)).channel
        loop = asyncio.get_running_loop()
        end = None if deadline_s is None else loop.time() + deadline_s
        sub = self._subscribe(channel)
        next_seq, behind = from_seq, True
        limit = self._config.fetch_max_points
        try:
            while True:
                if end is not None and loop.time() > end:
                    raise DriverTimeout(
                        self._instrument,
                        f"job {job_id}",
                        f"stream not finished after {deadline_s} s (at point {next_seq})",
                    )
                while behind:
                    batch = await self._fetch(job_id, next_seq, limit)
                    if len(batch):
                        next_seq += len(batch)
                        yield batch
                    if batch.final:
                        return
                    behind = len(batch) == limit
                wait_s = self._config.stream_idle_s
                if end is not None:
                    wait_s = max(0.0, min(wait_s, end - loop.time()))
                if not await sub.poll(wait_s * 1000, zmq.POLLIN):
                    behind = True
                    continue
                topic, payload = await sub.recv_multipart()
                if topic == STATUS_TOPIC:
                    behind = _is_final_status(payload, job_id)
                    continue
                try:
                    batch = unpack_points(payload)
                except ProtocolError as exc:
                    log.info(
                        "%s: undecodable batch on channel %d: %s", self._instrument, channel, exc
                    )
                    behind = True
                    continue
                if batch.job_id != job_id:
                    continue
                if batch.first_seq > next_seq:
                    behind = True
                    continue
                piece = tail(batch, next_seq)
                if piece is not None:
                    next_seq = piece.first_seq + len(piece)
                    yield piece
                if batch.final:
                    return
        finally:
            sub.close(linger=0)

    def _subscribe(self, channel: int) -> zmq.asyncio.Socket:
        sub = self._ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        for option, value in self._curve.items():
            setattr(sub, option, value)
        sub.connect(self._config.stream_endpoint)
        sub.subscribe(point_topic(channel))
        sub.subscribe(STATUS_TOPIC)
        return sub
