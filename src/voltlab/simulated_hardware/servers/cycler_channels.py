"""Cycler channels and their jobs: state, streaming of traces in instrument time, faults.

A job's trace is computed once (in the cell pool) and kept; ``emitted`` counts the points the
channel has recorded so far. Points are streamed in order, paced by the lab clock, each carrying
``seq`` = its index in the trace, so ``fetch`` can return any recorded range and a subscriber can
stitch stream and fetch together without loss or duplicates.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from voltlab.protocol import JobState
from voltlab.protocol.cycler import (
    STATUS_TOPIC,
    ChannelState,
    CyclerJob,
    StartParams,
    point_topic,
)
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.servers.cell_pool import CellPool
from voltlab.simulated_hardware.servers.cycler_stream import (
    PointPublisher,
    batch_dict,
    empty_batch,
    pack,
)
from voltlab.simulated_hardware.world.cell_types import CellSpec, CellTrace

log = logging.getLogger(__name__)

START_FAULTS = (FaultKind.DEVICE_ERROR, FaultKind.STUCK_JOB)
STREAM_FAULTS = (FaultKind.CORRUPT_MESSAGE, FaultKind.TRUNCATED_MESSAGE)
MAX_BATCH_POINTS = 500
MAX_BATCH_WALL_S = 0.2
"""Under finite acceleration a batch spans at most this much wall time, so points arrive live."""


@dataclass(eq=False)
class Job:
    params: StartParams
    spec: CellSpec
    fault: FaultKind | None = None
    """A start fault drawn for this job; it strikes part-way through the trace."""
    state: JobState = JobState.RUNNING
    trace: CellTrace | None = None
    emitted: int = 0
    error: str | None = None
    task: asyncio.Task[None] | None = None

    @property
    def job_id(self) -> str:
        return self.params.job_id

    def report(self) -> CyclerJob:
        cycle = int(self.trace.cycle[self.emitted - 1]) if self.trace and self.emitted else 0
        return CyclerJob(
            job_id=self.job_id,
            channel=self.params.channel,
            cell=self.params.cell,
            protocol=self.params.protocol,
            state=self.state,
            points=self.emitted,
            cycle=cycle,
            error=self.error,
        )


@dataclass(eq=False)
class Channel:
    index: int
    job: Job | None = None
    error: str | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.state is JobState.RUNNING

    def status(self) -> dict[str, Any]:
        """A :class:`~voltlab.protocol.cycler.ChannelStatus` as a plain dict (500 per listing)."""
        if self.error:
            state = ChannelState.ERROR
        else:
            state = ChannelState.RUNNING if self.busy else ChannelState.IDLE
        return {
            "channel": self.index,
            "state": state,
            "job_id": self.job.job_id if self.job else None,
            "error": self.error,
        }


class CyclerChannels:
    """Every channel and every job the cycler has run; owns the streaming tasks."""

    def __init__(self, count: int, lab: LabContext, pool: CellPool, publisher: PointPublisher):
        self.channels = [Channel(i) for i in range(count)]
        self.jobs: dict[str, Job] = {}
        self._lab = lab
        self._pool = pool
        self._publisher = publisher

    async def start(self, job: Job) -> None:
        """Put an accepted job on its channel and start streaming it."""
        job.fault = self._lab.faults.draw("cycler.start", START_FAULTS)
        self.jobs[job.job_id] = job
        self.channels[job.params.channel].job = job
        await self._publish_status(job)  # before the task exists, so "running" comes first
        job.task = asyncio.create_task(self._run(job), name=f"cycler-job-{job.job_id}")

    async def stop(self, job: Job) -> None:
        await self._end(job, JobState.STOPPED, None)

    async def reset(self, channel: Channel) -> None:
        """Abort the channel's running job (if any) and clear its error state."""
        if channel.job is not None:
            await self._end(channel.job, JobState.ABORTED, "channel reset")
        channel.error = None

    def fetch(self, job: Job, from_seq: int, max_points: int) -> dict[str, Any]:
        stop = min(job.emitted, from_seq + max_points)
        final = job.state.is_final and from_seq + max_points >= job.emitted
        if job.trace is None or from_seq >= stop:
            return empty_batch(job.job_id, job.params.channel, from_seq, final, job.emitted)
        return batch_dict(
            job.job_id, job.params.channel, job.trace, from_seq, stop, final, job.emitted
        )

    async def close(self) -> None:
        tasks = [job.task for job in self.jobs.values() if job.task and not job.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, job: Job) -> None:
        await asyncio.sleep(0)  # the start command's reply goes out before any work is queued
        try:
            trace = await self._pool.trace(job.spec, job.params.protocol)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a solver failure fails this job only
            log.exception("cycler: cell model failed for job %s", job.job_id)
            await self._end(job, JobState.FAILED, f"cell model failed: {exc!r}")
            return
        job.trace = trace
        if not len(trace):  # the model stops at the last complete cycle, which may be none
            await self._end(job, JobState.FAILED, "the cell model recorded no complete cycle")
            return
        halt_at = len(trace)
        if job.fault is not None:
            fraction = self._lab.rng("cycler.fault", job.job_id).uniform(0.25, 0.75)
            halt_at = int(fraction * len(trace))
        await self._stream(job, halt_at)
        if job.fault is FaultKind.DEVICE_ERROR:
            channel = self.channels[job.params.channel]
            channel.error = f"channel {channel.index} tripped at point {halt_at} (device fault)"
            await self._end(job, JobState.FAILED, f"device error: {channel.error}")
        elif job.fault is FaultKind.STUCK_JOB:
            await asyncio.get_running_loop().create_future()  # until stopped or reset

    async def _stream(self, job: Job, halt_at: int) -> None:
        assert job.trace is not None
        trace, clock = job.trace, self._lab.clock
        topic, channel, n = point_topic(job.params.channel), job.params.channel, len(job.trace)
        loop = asyncio.get_running_loop()
        wall_start = loop.time()
        span_s = MAX_BATCH_WALL_S * clock.acceleration
        while job.emitted < halt_at:
            start = job.emitted
            stop = min(start + MAX_BATCH_POINTS, halt_at)
            if clock.unbounded:
                await asyncio.sleep(0)
            else:
                within = np.searchsorted(trace.time_s, trace.time_s[start] + span_s, "right")
                stop = min(stop, max(start + 1, int(within)))
                due_s = trace.time_s[stop - 1] - (loop.time() - wall_start) * clock.acceleration
                await clock.sleep(due_s)
            final = stop == n
            payload = pack(batch_dict(job.job_id, channel, trace, start, stop, final))
            # recorded before sending: a stop during the send must not lose what went out
            job.emitted = stop
            if final:
                job.state = JobState.COMPLETED
            await self._publisher.publish(topic, self._apply_stream_fault(payload))
        if job.state is JobState.COMPLETED:
            await self._publish_status(job)

    def _apply_stream_fault(self, payload: bytes) -> bytes:
        fault = self._lab.faults.draw("cycler.stream", STREAM_FAULTS)
        if fault is FaultKind.CORRUPT_MESSAGE:
            return bytes(b ^ 0x5A for b in payload)
        if fault is FaultKind.TRUNCATED_MESSAGE:
            return payload[: len(payload) // 2]
        return payload

    async def _end(self, job: Job, state: JobState, error: str | None) -> None:
        """Finish a running job early: no more points, a closing batch, a status message."""
        if job.state.is_final:
            return
        job.state, job.error = state, error
        task = job.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        batch = empty_batch(job.job_id, job.params.channel, job.emitted, final=True)
        await self._publisher.publish(point_topic(job.params.channel), pack(batch))
        await self._publish_status(job)

    async def _publish_status(self, job: Job) -> None:
        await self._publisher.publish(STATUS_TOPIC, pack(job.report().model_dump(mode="json")))
