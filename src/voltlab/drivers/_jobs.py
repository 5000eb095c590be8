"""Waiting for a job to end, whatever the instrument: poll its state until final or a deadline."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from voltlab.drivers.errors import DriverTimeout
from voltlab.protocol import JobState


class _HasState(Protocol):
    @property
    def state(self) -> JobState: ...


JobT = TypeVar("JobT", bound=_HasState)


async def wait_final(
    instrument: str,
    job_id: str,
    read: Callable[[str], Awaitable[JobT]],
    deadline_s: float,
    poll_s: float,
) -> JobT:
    """The job once in a final state. A job still running after ``deadline_s`` (e.g. stuck)
    raises :class:`DriverTimeout` naming it, with its last known state."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        job = await read(job_id)
        if job.state.is_final:
            return job
        if loop.time() + poll_s > end:
            raise DriverTimeout(
                instrument, f"job {job_id}", f"still {job.state} after {deadline_s} s: {job}"
            )
        await asyncio.sleep(poll_s)
