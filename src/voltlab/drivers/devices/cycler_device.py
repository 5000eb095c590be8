"""Battery cycler channels as ophyd-async devices: start a job, step through its point stream.

``set(CyclingRequest)`` starts a protocol on the channel (idempotent by job id, so setting a known
job reattaches to it) and opens the job's stream through :meth:`CyclerClient.stream`, which
backfills gaps so no point is lost or doubled. Each ``trigger`` then takes the next batch of
points, which the column signals read: one event per batch. ``ended`` turns true when a trigger
finds the job's last point already delivered. ``unstage`` closes the stream; the job itself runs
on (stopping a days-long cycling job is the orchestrator's decision, not a plan abort's).
"""

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Any, cast

import numpy as np
from ophyd_async.core import (
    Array1D,
    AsyncStatus,
    Device,
    DeviceVector,
    StandardReadable,
    StandardReadableFormat,
)
from pydantic import BaseModel, ConfigDict, Field

from voltlab.drivers.config import CyclerConfig
from voltlab.drivers.cycler_client import INSTRUMENT, CyclerClient
from voltlab.drivers.devices._backend import (
    ClientLink,
    DeviceError,
    SharedRead,
    driver_signal_r,
)
from voltlab.protocol import JOB_ID_PATTERN
from voltlab.protocol.cycler import (
    CellRef,
    ChannelParams,
    CyclerJob,
    CyclingProtocol,
    PointBatch,
    StartParams,
)

FLOAT_COLUMNS = {"time_s": "s", "voltage_v": "V", "current_a": "A", "capacity_ah": "Ah"}
INT_COLUMNS = ("cycle", "step")


class CyclingRequest(BaseModel):
    """A job for a channel: the cell, its protocol and the client-chosen job id. ``from_seq``
    is the first point wanted (a restarted client that kept n points asks for n);
    ``deadline_s`` bounds the whole stream (DriverTimeout after it), None: no bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    cell: CellRef
    protocol: CyclingProtocol
    from_seq: int = Field(default=0, ge=0)
    deadline_s: float | None = Field(default=None, gt=0.0)


class _BatchCursor:
    """A channel's place in its job's point stream: the latest batch, and whether it ended."""

    def __init__(self) -> None:
        self.job_id: str | None = None
        self.batch: PointBatch | None = None
        self.next_seq = 0
        """Sequence number of the first point not delivered yet."""
        self.ended = False
        self._stream: AsyncGenerator[PointBatch, None] | None = None

    async def follow(
        self, job_id: str, from_seq: int, stream: AsyncGenerator[PointBatch, None]
    ) -> None:
        await self.close()
        self.job_id, self.next_seq, self.batch, self.ended = job_id, from_seq, None, False
        self._stream = stream

    async def advance(self) -> None:
        """Take the next batch (waiting for it); past the last one, mark the stream ended."""
        if self._stream is None:
            if self.ended:
                return
            raise DeviceError("no cycling job on this channel: set a CyclingRequest first")
        batch = await anext(self._stream, None)
        self.batch = batch
        if batch is None:
            self.ended, self._stream = True, None
        else:
            self.next_seq = batch.first_seq + len(batch)

    def column(self, name: str) -> list[float] | list[int]:
        return [] if self.batch is None else getattr(self.batch, name)

    async def close(self) -> None:
        """Stop following (closes the stream's socket at once)."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.aclose()


class CyclerChannel(StandardReadable):
    """One cycler channel.

    Read in each event (the latest batch): ``voltage_v`` (hinted, V), ``time_s`` (s since the
    job's start), ``current_a`` (A, positive = discharge), ``capacity_ah`` (Ah within the step),
    ``cycle`` and ``step`` (arrays of the batch's length, which varies), ``first_seq`` (sequence
    number of the batch's first point). Configuration: ``job_id``, ``cell_id`` and
    ``sample_id`` (the powder the cell was built from; empty for a reference cell).
    Control: ``state`` of the channel; of the stream, ``ended`` and ``next_seq`` (the first
    point not delivered yet: all the job's points once it ended).
    """

    def __init__(self, link: ClientLink[CyclerClient], channel: int, name: str = "") -> None:
        self.channel = ChannelParams(channel=channel).channel
        self._link = link
        self._cursor = cursor = _BatchCursor()
        status = SharedRead(lambda: link.client.status(channel))
        job = SharedRead(self._job)

        def column(name: str) -> Callable[[], Awaitable[Any]]:
            async def read() -> Any:
                return cursor.column(name)

            return read

        def from_job(read: Callable[[CyclerJob], Any]) -> Callable[[], Awaitable[Any]]:
            async def read_job() -> Any:
                current = await job()
                return "" if current is None else read(current) or ""

            return read_job

        async def first_seq() -> int:
            return -1 if cursor.batch is None else cursor.batch.first_seq

        async def state() -> str:
            return (await status()).state

        async def ended() -> bool:
            return cursor.ended

        async def next_seq() -> int:
            return cursor.next_seq

        where = f"ch{channel}"
        columns = {
            name: driver_signal_r(
                Array1D[np.float64], link, f"{where}.{name}", column(name), units=unit,
                variable_length=True,
            )
            for name, unit in FLOAT_COLUMNS.items()
        } | {
            name: driver_signal_r(
                Array1D[np.int64], link, f"{where}.{name}", column(name), variable_length=True
            )
            for name in INT_COLUMNS
        }  # fmt: skip
        with self.add_children_as_readables(StandardReadableFormat.HINTED_UNCACHED_SIGNAL):
            self.voltage_v = columns["voltage_v"]
        with self.add_children_as_readables(StandardReadableFormat.UNCACHED_SIGNAL):
            self.time_s = columns["time_s"]
            self.current_a = columns["current_a"]
            self.capacity_ah = columns["capacity_ah"]
            self.cycle = columns["cycle"]
            self.step = columns["step"]
            self.first_seq = driver_signal_r(int, link, f"{where}.first_seq", first_seq)
        with self.add_children_as_readables(StandardReadableFormat.CONFIG_SIGNAL):
            self.job_id = driver_signal_r(
                str, link, f"{where}.job_id", from_job(lambda j: j.job_id)
            )
            self.cell_id = driver_signal_r(
                str, link, f"{where}.cell_id", from_job(lambda j: j.cell.cell_id)
            )
            self.sample_id = driver_signal_r(
                str, link, f"{where}.sample_id", from_job(lambda j: j.cell.sample_id)
            )
        self.state = driver_signal_r(str, link, f"{where}.state", state)
        self.ended = driver_signal_r(bool, link, f"{where}.ended", ended)
        self.next_seq = driver_signal_r(int, link, f"{where}.next_seq", next_seq)
        super().__init__(name=name)

    @AsyncStatus.wrap
    async def set(self, value: CyclingRequest) -> None:
        """Start (or reattach to) the job and open its point stream from ``value.from_seq``."""
        client = self._link.client
        params = StartParams(
            channel=self.channel, job_id=value.job_id, cell=value.cell, protocol=value.protocol
        )
        job = await client.start(params)
        if job.channel != self.channel:
            raise DeviceError(
                f"cycler job {job.job_id} runs on channel {job.channel}, not {self.channel}"
            )
        stream = client.stream(job.job_id, value.from_seq, self.channel, value.deadline_s)
        # CyclerClient.stream is an async generator: closing it closes its socket at once
        await self._cursor.follow(
            job.job_id, value.from_seq, cast(AsyncGenerator[PointBatch, None], stream)
        )

    @AsyncStatus.wrap
    async def trigger(self) -> None:
        """Wait for the next batch of points (or the end of the job's stream)."""
        await self._cursor.advance()

    @AsyncStatus.wrap
    async def unstage(self) -> None:
        await self._cursor.close()
        await super().unstage()

    async def close(self) -> None:
        """Stop following the stream (the cycler keeps running the job)."""
        await self._cursor.close()

    async def _job(self) -> CyclerJob | None:
        client = self._link.client
        job_id = self._cursor.job_id or (await client.status(self.channel)).job_id
        return None if job_id is None else await client.job(job_id)


class Cycler(Device):
    """The cycler's chosen channels (``cycler.channels[k]``), sharing one driver client."""

    def __init__(self, config: CyclerConfig, channels: Iterable[int], name: str = "") -> None:
        self._link = ClientLink(INSTRUMENT, config.endpoint, lambda: CyclerClient(config))
        chosen = sorted(set(channels))
        if not chosen:
            raise DeviceError("a Cycler device needs at least one channel")
        self.channels = DeviceVector({k: CyclerChannel(self._link, k) for k in chosen})
        super().__init__(name=name)

    async def close(self) -> None:
        """Close every channel's stream, then the driver client."""
        for channel in self.channels.values():
            await channel.close()
        await self._link.close()
