"""Async client of a battery cycler speaking :mod:`voltlab.protocol.cycler` over ZMQ.

Commands go over a DEALER (:mod:`._zmq_rpc`); points come from the PUB stream, stitched with
``fetch`` (:mod:`._point_stream`). Jobs are keyed by the caller's job id: resubmitting one
returns the existing job, and a new client reattaches with ``stream(job_id, from_seq=n)``
from the first point it does not hold yet.
"""

from collections.abc import AsyncIterator

import zmq.asyncio

from voltlab.drivers._jobs import wait_final
from voltlab.drivers._point_stream import PointFollower
from voltlab.drivers._zmq_client import ZmqInstrumentClient
from voltlab.drivers._zmq_rpc import curve_options
from voltlab.drivers.config import CyclerConfig
from voltlab.protocol.cycler import (
    ChannelParams,
    ChannelStatus,
    CyclerCommand,
    CyclerJob,
    FetchParams,
    JobParams,
    PointBatch,
    StartParams,
)

INSTRUMENT = "cycler"
HEARTBEAT_CHANNEL = 0


class CyclerClient(ZmqInstrumentClient):
    """``async with CyclerClient(config) as cycler:``; ``ctx`` may be shared with other clients."""

    def __init__(self, config: CyclerConfig, ctx: zmq.asyncio.Context | None = None) -> None:
        probe = (CyclerCommand.STATUS, ChannelParams(channel=HEARTBEAT_CHANNEL))
        super().__init__(INSTRUMENT, config, probe, ctx)
        self._follower = PointFollower(
            INSTRUMENT, config, self._ctx, curve_options(config), self.fetch, self.job
        )

    async def list_channels(self) -> list[ChannelStatus]:
        result = await self._rpc.call(CyclerCommand.LIST_CHANNELS, {})
        return [ChannelStatus.model_validate(c) for c in result["channels"]]

    async def status(self, channel: int) -> ChannelStatus:
        result = await self._rpc.call(CyclerCommand.STATUS, ChannelParams(channel=channel))
        return ChannelStatus.model_validate(result)

    async def start(self, params: StartParams) -> CyclerJob:
        """Start a protocol on a channel (or, for a known job id, return the existing job)."""
        return CyclerJob.model_validate(await self._rpc.call(CyclerCommand.START, params))

    async def stop(self, job_id: str) -> CyclerJob:
        """End a job early, keeping its points; stopping a finished job returns it unchanged."""
        result = await self._rpc.call(CyclerCommand.STOP, JobParams(job_id=job_id))
        return CyclerJob.model_validate(result)

    async def job(self, job_id: str) -> CyclerJob:
        result = await self._rpc.call(CyclerCommand.JOB, JobParams(job_id=job_id))
        return CyclerJob.model_validate(result)

    async def fetch(self, job_id: str, from_seq: int = 0, max_points: int = 10_000) -> PointBatch:
        """Recorded points ``[from_seq, from_seq + max_points)`` (fewer if not yet recorded)."""
        params = FetchParams(job_id=job_id, from_seq=from_seq, max_points=max_points)
        return PointBatch.model_validate(await self._rpc.call(CyclerCommand.FETCH, params))

    async def reset(self, channel: int) -> ChannelStatus:
        """Abort the channel's running job, if any, and clear its error state."""
        result = await self._rpc.call(CyclerCommand.RESET, ChannelParams(channel=channel))
        return ChannelStatus.model_validate(result)

    async def wait(self, job_id: str, deadline_s: float) -> CyclerJob:
        """The job once finished (any final state); DriverTimeout naming it if not by then."""
        return await wait_final(
            INSTRUMENT, job_id, self.job, deadline_s, self._config.poll_interval_s
        )

    def stream(
        self,
        job_id: str,
        from_seq: int = 0,
        channel: int | None = None,
        deadline_s: float | None = None,
    ) -> AsyncIterator[PointBatch]:
        """The job's points from ``from_seq`` to its end, in order, each exactly once: batches
        with consecutive sequence numbers. Backfills what was recorded before (reattach),
        then follows the live stream. DriverTimeout naming the job if it has not ended by
        ``deadline_s``. ``channel`` saves a ``job`` round trip when the caller knows it."""
        return self._follower.follow(job_id, channel, from_seq, deadline_s)
