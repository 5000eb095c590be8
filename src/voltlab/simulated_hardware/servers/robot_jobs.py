"""The synthesis robot's jobs, independent of OPC UA: queue, commands, interlocks, states.

One furnace and one arm: jobs run one at a time in submission order (FIFO); what each job does
is in :mod:`.robot_programs`. Jobs are idempotent by their client-chosen id and live in memory
only: a restarted robot forgets them (the powders and cells it made stay in the registry). The
sample a job makes carries the job's id: powder ``<job_id>`` or cell ``<job_id>``.

``Stop`` ends a job early keeping what it made; ``Abort`` ends it at once and makes nothing;
either withdraws a queued job (its precursors go back on the shelf). A device error fails the
running job and holds the queue until ``Reset``; meanwhile only GetJob and Reset are served.
"""

import asyncio
import logging
import re
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from voltlab.errors import VoltlabError
from voltlab.protocol import JOB_ID_PATTERN, ErrorCode, JobState, ProtocolError, Recipe
from voltlab.protocol.opcua import Precursor, RobotState
from voltlab.protocol.robot import RobotJob, RobotJobKind
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.registry import UnknownSampleError
from voltlab.simulated_hardware.servers.robot_inventory import Inventory, precursor_grams
from voltlab.simulated_hardware.servers.robot_programs import (
    DeviceFault,
    JobFailed,
    JobRecord,
    RobotHardware,
)
from voltlab.simulated_hardware.world.cell_types import CELL_CATHODE_MASS_G

log = logging.getLogger(__name__)

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.STOPPED, JobState.ABORTED}),
    JobState.RUNNING: frozenset(
        {JobState.COMPLETED, JobState.STOPPED, JobState.ABORTED, JobState.FAILED}
    ),
}
"""Job state changes the robot may make; final states have none."""


class IllegalTransition(VoltlabError, RuntimeError):
    """A job state change outside :data:`TRANSITIONS` (a bug in the robot, never ignored)."""


@dataclass(frozen=True)
class RobotStatus:
    """What the robot shows on its state variables. Temperatures in C, progress in %."""

    state: RobotState
    error: str | None
    last_error: str
    active_job_id: str
    progress: float
    temperature_c: float
    setpoint_c: float
    inventory_g: dict[Precursor, float]


class RobotListener(Protocol):
    """Where the robot publishes its status and job changes (the OPC UA address space)."""

    async def status_changed(self, status: RobotStatus) -> None: ...

    async def job_changed(self, job: RobotJob) -> None: ...


def check_job_id(job_id: str) -> None:
    if not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, f"JobId {job_id[:64]!r} must match {JOB_ID_PATTERN}", "JobId"
        )


class RobotJobs:
    def __init__(self, lab: LabContext, listener: RobotListener) -> None:
        self._lab = lab
        self._settings = lab.settings.robot
        self._listener = listener
        self._inventory = Inventory(self._settings.inventory_g)
        self._jobs: dict[str, JobRecord] = {}
        self._queue: deque[JobRecord] = deque()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._state = RobotState.IDLE
        self._error: str | None = None
        self._last_error = ""
        self._active: JobRecord | None = None
        self._hardware = RobotHardware(lab, self._publish)

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name="robot-jobs")

    async def close(self) -> None:
        """Stop working; jobs still queued or running are left as they are (memory is lost)."""
        tasks = [t for t in (self._worker, self._active and self._active.task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def status(self) -> RobotStatus:
        active = self._active
        return RobotStatus(
            state=self._state,
            error=self._error,
            last_error=self._last_error,
            active_job_id=active.job.job_id if active else "",
            progress=active.job.progress if active else 0.0,
            temperature_c=self._hardware.temperature_c,
            setpoint_c=self._hardware.setpoint_c,
            inventory_g=self._inventory.snapshot(),
        )

    # -- commands ---------------------------------------------------------------------------

    async def submit_synthesis(self, job_id: str, recipe: Recipe) -> RobotJob:
        check_job_id(job_id)
        known = self._known(job_id, RobotJobKind.SYNTHESIS, recipe=recipe)
        if known is not None:
            return known
        self._refuse_in_error()
        self._check_interlocks(recipe)
        grams = precursor_grams(recipe, self._settings.batch_mass_g)
        self._inventory.reserve(grams)
        job = RobotJob(
            job_id=job_id,
            kind=RobotJobKind.SYNTHESIS,
            state=JobState.QUEUED,
            progress=0.0,
            product_id=job_id,
            recipe=recipe,
            mass_g=self._settings.batch_mass_g,
        )
        return await self._enqueue(JobRecord(job, grams))

    async def submit_assembly(self, job_id: str, sample_id: str) -> RobotJob:
        check_job_id(job_id)
        known = self._known(job_id, RobotJobKind.CELL_ASSEMBLY, source=sample_id)
        if known is not None:
            return known
        self._refuse_in_error()
        try:
            self._lab.registry.powder(sample_id)
        except UnknownSampleError as exc:
            raise ProtocolError(ErrorCode.UNKNOWN_SAMPLE, str(exc), "SampleId") from exc
        job = RobotJob(
            job_id=job_id,
            kind=RobotJobKind.CELL_ASSEMBLY,
            state=JobState.QUEUED,
            progress=0.0,
            product_id=job_id,
            source_sample_id=sample_id,
            mass_g=CELL_CATHODE_MASS_G,
        )
        return await self._enqueue(JobRecord(job))

    def get(self, job_id: str) -> RobotJob:
        return self._record(job_id).job

    async def stop(self, job_id: str) -> RobotJob:
        """End a job early, keeping what it made so far; returns at once (the job is then
        cooling down, state ``Stopping``) unless the job was only queued."""
        record = self._record(job_id)
        if record.job.state.is_final:
            return record.job
        self._refuse_in_error()
        if record in self._queue:
            await self._withdraw(record, JobState.STOPPED, "stopped while queued; nothing made")
        else:
            record.stop.set()
            await self._set_state(RobotState.STOPPING)
        return record.job

    async def abort(self, job_id: str) -> RobotJob:
        """End a job now and discard it; returns once it is aborted."""
        record = self._record(job_id)
        if record.job.state.is_final:
            return record.job
        self._refuse_in_error()
        if record in self._queue:
            await self._withdraw(record, JobState.ABORTED, "aborted while queued")
        elif record.task is not None:
            record.task.cancel()  # before any await: the job cannot finish in between
            await self._set_state(RobotState.ABORTING)
            await record.done.wait()
        return record.job

    async def reset(self) -> RobotStatus:
        """Clear the error state; queued jobs then run. A no-op when the robot is ready."""
        if self._error is not None:
            self._error = None
            self._last_error = ""
            await self._set_state(RobotState.IDLE)
            self._wake.set()
        return self.status()

    # -- checks -----------------------------------------------------------------------------

    def _record(self, job_id: str) -> JobRecord:
        record = self._jobs.get(job_id)
        if record is None:
            raise ProtocolError(
                ErrorCode.UNKNOWN_JOB, f"no robot job {job_id[:128]!r} (ids are kept in memory)"
            )
        return record

    def _known(
        self,
        job_id: str,
        kind: RobotJobKind,
        recipe: Recipe | None = None,
        source: str | None = None,
    ) -> RobotJob | None:
        """The existing job for a resubmitted id, or None for a new id; a different request
        under a known id is a conflict."""
        record = self._jobs.get(job_id)
        if record is None:
            return None
        job = record.job
        if job.kind is not kind or job.recipe != recipe or job.source_sample_id != source:
            raise ProtocolError(
                ErrorCode.JOB_CONFLICT,
                f"job {job_id!r} already exists as a {job.kind} with different parameters",
                "JobId",
            )
        return job

    def _refuse_in_error(self) -> None:
        if self._error is not None:
            raise ProtocolError(
                ErrorCode.DEVICE_ERROR, f"robot is in its error state ({self._error}); call Reset"
            )

    def _check_interlocks(self, recipe: Recipe) -> None:
        low, high = (
            self._settings.min_furnace_temperature_c,
            self._settings.max_furnace_temperature_c,
        )
        temperature = recipe.calcination_temperature_c
        if not low <= temperature <= high:
            raise ProtocolError(
                ErrorCode.INTERLOCK,
                f"calcination temperature {temperature:g} C is outside the furnace limits "
                f"[{low:g}, {high:g}] C",
                "recipe.calcination_temperature_c",
            )
        hours, max_hours = recipe.calcination_time_h, self._settings.max_calcination_time_h
        if hours > max_hours:
            raise ProtocolError(
                ErrorCode.INTERLOCK,
                f"calcination time {hours:g} h exceeds the furnace limit of {max_hours:g} h",
                "recipe.calcination_time_h",
            )

    # -- queue ------------------------------------------------------------------------------

    async def _enqueue(self, record: JobRecord) -> RobotJob:
        self._jobs[record.job.job_id] = record
        self._queue.append(record)
        self._wake.set()
        await self._listener.job_changed(record.job)
        await self._publish()
        return record.job

    async def _withdraw(self, record: JobRecord, state: JobState, reason: str) -> None:
        self._queue.remove(record)
        self._inventory.give_back(record.grams)
        await self._finish(record, state, reason)
        await self._publish()

    async def _work(self) -> None:
        while True:
            while self._error is not None or not self._queue:
                self._wake.clear()
                await self._wake.wait()
            record = self._active = self._queue.popleft()
            record.task = asyncio.create_task(
                self._run(record), name=f"robot-job-{record.job.job_id}"
            )
            await asyncio.wait({record.task})
            if not record.job.state.is_final:  # aborted, or a bug ended the run early
                self._hardware.switch_off()
                if record.task.cancelled():
                    await self._finish(record, JobState.ABORTED, "aborted on request")
                else:
                    crash = record.task.exception()
                    log.error("robot job %s crashed", record.job.job_id, exc_info=crash)
                    await self._finish(record, JobState.FAILED, f"internal error: {crash!r}")
            self._active = None
            await self._set_state(RobotState.ERROR if self._error else RobotState.IDLE)
            record.done.set()

    async def _run(self, record: JobRecord) -> None:
        await self._update(record, state=JobState.RUNNING)
        await self._set_state(RobotState.STOPPING if record.stop.is_set() else RobotState.RUNNING)
        try:
            outcome = await self._hardware.run(record)
        except JobFailed as exc:
            self._last_error = f"job {record.job.job_id}: {exc}"
            await self._finish(record, JobState.FAILED, str(exc))
        except DeviceFault as exc:
            self._error = self._last_error = f"job {record.job.job_id}: {exc}"
            self._hardware.switch_off()
            await self._finish(record, JobState.FAILED, f"device error: {exc}")
        else:
            await self._finish(record, outcome.state, outcome.error)

    # -- publishing -------------------------------------------------------------------------

    async def _finish(self, record: JobRecord, state: JobState, error: str | None = None) -> None:
        progress = 100.0 if state is JobState.COMPLETED else record.job.progress
        await self._update(record, state=state, error=error, progress=progress)
        log.info("robot job %s %s%s", record.job.job_id, state, f": {error}" if error else "")

    async def _update(self, record: JobRecord, state: JobState, **changes: object) -> None:
        if state not in TRANSITIONS.get(record.job.state, ()):
            raise IllegalTransition(f"robot job {record.job.job_id}: {record.job.state} -> {state}")
        record.job = record.job.model_copy(update={"state": state, **changes})
        await self._listener.job_changed(record.job)

    async def _set_state(self, state: RobotState) -> None:
        self._state = state
        await self._publish()

    def _publish(self) -> Awaitable[None]:
        return self._listener.status_changed(self.status())
