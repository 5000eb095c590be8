"""Async client of an XRD stage speaking :mod:`voltlab.protocol.xrd` over ZMQ.

Measurements are keyed by the caller's job id: resubmitting one returns the existing job, and a
new client (after a restart) reattaches with :meth:`XRDClient.wait` and :meth:`get_pattern`.
"""

import zmq.asyncio

from voltlab.drivers._jobs import wait_final
from voltlab.drivers._zmq_client import ZmqInstrumentClient
from voltlab.drivers.config import XRDConfig
from voltlab.drivers.errors import CommandRefused, JobFailed
from voltlab.protocol import ErrorCode, JobState
from voltlab.protocol.xrd import (
    JobParams,
    LoadParams,
    MeasureParams,
    Pattern,
    StageStatus,
    XRDCommand,
    XRDJob,
)

INSTRUMENT = "xrd"


class XRDClient(ZmqInstrumentClient):
    """``async with XRDClient(config) as xrd:``; ``ctx`` may be shared with other clients."""

    def __init__(self, config: XRDConfig, ctx: zmq.asyncio.Context | None = None) -> None:
        super().__init__(INSTRUMENT, config, (XRDCommand.STATUS, {}), ctx)

    async def status(self) -> StageStatus:
        return StageStatus.model_validate(await self._rpc.call(XRDCommand.STATUS, {}))

    async def load(self, sample_id: str) -> StageStatus:
        result = await self._rpc.call(XRDCommand.LOAD, LoadParams(sample_id=sample_id))
        return StageStatus.model_validate(result)

    async def unload(self) -> StageStatus:
        return StageStatus.model_validate(await self._rpc.call(XRDCommand.UNLOAD, {}))

    async def measure(self, params: MeasureParams) -> XRDJob:
        """Start (or, for a known job id, return) a measurement of the loaded sample."""
        return XRDJob.model_validate(await self._rpc.call(XRDCommand.MEASURE, params))

    async def job(self, job_id: str) -> XRDJob:
        return XRDJob.model_validate(await self._rpc.call(XRDCommand.JOB, JobParams(job_id=job_id)))

    async def get_pattern(self, job_id: str) -> Pattern:
        result = await self._rpc.call(XRDCommand.GET_PATTERN, JobParams(job_id=job_id))
        return Pattern.model_validate(result)

    async def measure_loaded(self, sample_id: str, params: MeasureParams) -> XRDJob:
        """Start a measurement of ``sample_id``, which the caller has loaded. A stage restarted
        since the load (a measure resent after a lost reply can reach one) has forgotten the
        sample and refuses NOT_READY: the sample is loaded once more and the measure resent."""
        try:
            return await self.measure(params)
        except CommandRefused as exc:
            if exc.code is not ErrorCode.NOT_READY:
                raise
        await self.load(sample_id)
        return await self.measure(params)

    async def reset(self) -> StageStatus:
        """Clear the stage's error state; a running (or stuck) measurement is aborted."""
        return StageStatus.model_validate(await self._rpc.call(XRDCommand.RESET, {}))

    async def wait(self, job_id: str, deadline_s: float) -> XRDJob:
        """The job once finished (in any final state); DriverTimeout if not by ``deadline_s``."""
        return await wait_final(
            INSTRUMENT, job_id, self.job, deadline_s, self._config.poll_interval_s
        )

    async def measure_pattern(
        self, sample_id: str, params: MeasureParams, deadline_s: float
    ) -> Pattern:
        """Load ``sample_id``, measure, wait and return the pattern; JobFailed if the
        measurement did not complete. Safe to call again with the same job id after a crash:
        a known job is not measured twice (the sample is only loaded for a new job)."""
        try:
            job = await self.job(params.job_id)
        except CommandRefused as exc:
            if exc.code is not ErrorCode.UNKNOWN_JOB:
                raise
            await self.load(sample_id)
            job = await self.measure_loaded(sample_id, params)
        done = await self.wait(job.job_id, deadline_s)
        if done.state is not JobState.COMPLETED:
            raise JobFailed(INSTRUMENT, done.job_id, done.state, done.error)
        return await self.get_pattern(done.job_id)
