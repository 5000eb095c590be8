"""The simulated XRD stage: load a powder, measure a 2-theta scan, fetch the pattern (pyzmq).

Commands arrive as JSON envelopes on a ROUTER socket (:class:`ZmqCommandServer`), so REQ and DEALER
clients both work. A measurement takes n_points x count_time_s of instrument time, advancing its
progress as it goes; the pattern itself is computed in a worker thread so the stage keeps answering
other clients. Device faults are drawn when a measurement starts: a device error fails the job and
puts the stage in its error state until ``reset`` (status, job, get_pattern and resubmitting a
known job still answer; load, unload and new measurements get DEVICE_ERROR); a stuck job stays
running with frozen progress until ``reset`` aborts it.

Jobs live in memory: a restarted stage forgets its jobs (a client resubmitting a job id after a
restart measures again, with the same noise, since noise is seeded by the job id).
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np
import zmq.asyncio

from voltlab.protocol import ErrorCode, JobState, ProtocolError
from voltlab.protocol.xrd import (
    JobParams,
    LoadParams,
    MeasureParams,
    NoParams,
    Pattern,
    StageState,
    StageStatus,
    XRDCommand,
    XRDJob,
)
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.registry import Powder, UnknownSampleError
from voltlab.simulated_hardware.servers.zmq_command_server import Command, ZmqCommandServer
from voltlab.simulated_hardware.world.xrd import simulate_pattern, warm_fixed_phases
from voltlab.simulated_hardware.world.xrd_profile import WAVELENGTH_ANGSTROM

log = logging.getLogger(__name__)

PROGRESS_SLICES = 50
"""A measurement's instrument time is slept in this many slices, each advancing the progress."""
STUCK_AT_PROGRESS = 0.4
FAILS_AT_PROGRESS = 0.5
DEVICE_FAULT_REASON = "detector high-voltage supply tripped"


@dataclass
class _Run:
    job: XRDJob
    powder: Powder
    pattern: Pattern | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class XRDServer:
    name = "xrd"

    def __init__(self, lab: LabContext) -> None:
        self._lab = lab
        self._settings = lab.settings.xrd
        self._ctx: zmq.asyncio.Context | None = None
        self._server: ZmqCommandServer | None = None
        self._state = StageState.EMPTY
        self._powder: Powder | None = None
        self._error: str | None = None
        self._runs: dict[str, _Run] = {}
        self._current: _Run | None = None

    @property
    def endpoint(self) -> str:
        port = self._server.port if self._server else self._settings.port
        return f"tcp://{self._settings.host}:{port}"

    @property
    def public_key(self) -> bytes | None:
        """The server's CURVE public key (Z85), once started with security enabled."""
        return self._server.public_key if self._server else None

    def describe(self) -> str:
        curve = ", CURVE" if self._settings.security.enabled else ""
        return f"XRD stage (ZMQ request/reply{curve}) on {self.endpoint}"

    async def start(self) -> None:
        await asyncio.to_thread(warm_fixed_phases)
        self._ctx = zmq.asyncio.Context()
        commands = {
            XRDCommand.STATUS: Command(NoParams, self._status),
            XRDCommand.LOAD: Command(LoadParams, self._load),
            XRDCommand.UNLOAD: Command(NoParams, self._unload),
            XRDCommand.MEASURE: Command(MeasureParams, self._measure),
            XRDCommand.JOB: Command(JobParams, self._job),
            XRDCommand.GET_PATTERN: Command(JobParams, self._get_pattern),
            XRDCommand.RESET: Command(NoParams, self._reset),
        }
        self._server = ZmqCommandServer(
            self.name,
            self._settings.host,
            self._settings.port,
            {str(name): cmd for name, cmd in commands.items()},
            self._lab.faults,
            self._ctx,
            curve=self._settings.security,
            key_dir=self._lab.settings.state_dir / "keys",
        )
        await self._server.start()

    async def stop(self) -> None:
        for run in self._runs.values():
            if run.task is not None:
                run.task.cancel()
        await asyncio.gather(
            *(r.task for r in self._runs.values() if r.task), return_exceptions=True
        )
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None

    def _refuse_if_error(self) -> None:
        """Hardware commands wait for a reset once the stage is in its error state."""
        if self._state is StageState.ERROR:
            raise ProtocolError(
                ErrorCode.DEVICE_ERROR, f"stage in error state ({self._error}); send reset"
            )

    def status(self) -> StageStatus:
        run = self._current
        return StageStatus(
            state=self._state,
            sample_id=self._powder.sample_id if self._powder else None,
            job_id=run.job.job_id if run else None,
            progress=run.job.progress if run else 0.0,
            error=self._error,
        )

    async def _status(self, _: object) -> StageStatus:
        return self.status()

    async def _load(self, params: LoadParams) -> StageStatus:
        """Put a powder on the stage, replacing whatever sample was there."""
        self._refuse_if_error()
        self._refuse_if_measuring("load")
        try:
            powder = self._lab.registry.powder(params.sample_id)
        except UnknownSampleError as exc:
            raise ProtocolError(
                ErrorCode.UNKNOWN_SAMPLE, str(exc.args[0]), field="params.sample_id"
            ) from exc
        self._powder, self._state = powder, StageState.LOADED
        return self.status()

    async def _unload(self, _: object) -> StageStatus:
        self._refuse_if_error()
        self._refuse_if_measuring("unload")
        self._powder, self._state = None, StageState.EMPTY
        return self.status()

    def _refuse_if_measuring(self, action: str) -> None:
        if self._state is StageState.MEASURING:
            job = self._current.job.job_id if self._current else "?"
            raise ProtocolError(ErrorCode.BUSY, f"cannot {action}: measuring job {job}")

    async def _measure(self, params: MeasureParams) -> XRDJob:
        known = self._runs.get(params.job_id)
        if known is not None:
            if known.job.params != params:
                raise ProtocolError(
                    ErrorCode.JOB_CONFLICT,
                    f"job {params.job_id} exists with other parameters: {known.job.params}",
                    field="params.job_id",
                )
            return known.job
        self._refuse_if_error()
        self._check_interlocks(params)
        self._refuse_if_measuring("measure")
        if self._powder is None:
            raise ProtocolError(ErrorCode.NOT_READY, "no sample loaded; send load first")
        run = _Run(
            XRDJob(
                job_id=params.job_id,
                sample_id=self._powder.sample_id,
                params=params,
                state=JobState.RUNNING,
            ),
            self._powder,
        )
        fault = self._lab.faults.draw("xrd.measure", [FaultKind.DEVICE_ERROR, FaultKind.STUCK_JOB])
        self._runs[params.job_id] = self._current = run
        self._state = StageState.MEASURING
        run.task = asyncio.create_task(self._run(run, fault), name=f"xrd-job-{params.job_id}")
        return run.job

    def _check_interlocks(self, p: MeasureParams) -> None:
        s = self._settings
        limits = [
            (p.two_theta_start < s.two_theta_min, f"two_theta_start {p.two_theta_start} is below two_theta_min {s.two_theta_min}"),
            (p.two_theta_stop > s.two_theta_max, f"two_theta_stop {p.two_theta_stop} is above two_theta_max {s.two_theta_max}"),
            (p.step < s.min_step, f"step {p.step} is below min_step {s.min_step}"),
            (p.n_points > s.max_points, f"{p.n_points} points exceed max_points {s.max_points}"),
            (p.count_time_s > s.max_count_time_s, f"count_time_s {p.count_time_s} exceeds max_count_time_s {s.max_count_time_s}"),
        ]  # fmt: skip
        for broken, message in limits:
            if broken:
                raise ProtocolError(ErrorCode.INTERLOCK, message)

    async def _run(self, run: _Run, fault: FaultKind | None) -> None:
        params = run.job.params
        slice_s = params.n_points * params.count_time_s / PROGRESS_SLICES
        for i in range(1, PROGRESS_SLICES + 1):
            await self._lab.clock.sleep(slice_s)
            run.job.progress = i / PROGRESS_SLICES * 0.99  # 1.0 only once the pattern exists
            if fault is FaultKind.DEVICE_ERROR and i / PROGRESS_SLICES >= FAILS_AT_PROGRESS:
                self._fail(run, f"{DEVICE_FAULT_REASON} during job {params.job_id}")
                return
            if fault is FaultKind.STUCK_JOB and i / PROGRESS_SLICES >= STUCK_AT_PROGRESS:
                log.warning("xrd job %s stuck at %.0f%%", params.job_id, 100 * run.job.progress)
                await asyncio.Event().wait()  # frozen until reset cancels it
        try:
            run.pattern = await asyncio.to_thread(self._pattern, run)
        except Exception as exc:
            log.exception("xrd job %s: pattern simulation failed", params.job_id)
            self._fail(run, f"pattern simulation failed: {exc!r}")
            return
        run.job.progress, run.job.state = 1.0, JobState.COMPLETED
        self._state = StageState.LOADED

    def _pattern(self, run: _Run) -> Pattern:
        """Counts on the requested grid, noise seeded by the job id (runs in a worker thread)."""
        params = run.job.params
        grid = params.two_theta_start + params.step * np.arange(params.n_points)
        rng = self._lab.rng("xrd", params.job_id)
        counts = simulate_pattern(run.powder.product, grid, params.count_time_s, rng)
        return Pattern(
            job_id=params.job_id,
            sample_id=run.job.sample_id,
            wavelength_angstrom=WAVELENGTH_ANGSTROM,
            two_theta=grid.tolist(),
            counts=counts.tolist(),
            count_time_s=params.count_time_s,
        )

    def _fail(self, run: _Run, reason: str) -> None:
        log.error("xrd job %s failed: %s", run.job.job_id, reason)
        run.job.state, run.job.error = JobState.FAILED, reason
        self._state, self._error = StageState.ERROR, reason

    async def _job(self, params: JobParams) -> XRDJob:
        return self._run_of(params.job_id).job

    async def _get_pattern(self, params: JobParams) -> Pattern:
        run = self._run_of(params.job_id)
        if run.pattern is None:
            job = run.job
            detail = f"{job.progress:.0%} measured" if job.state is JobState.RUNNING else job.error
            raise ProtocolError(
                ErrorCode.NOT_READY, f"job {job.job_id} is {job.state} ({detail}): no pattern"
            )
        return run.pattern

    def _run_of(self, job_id: str) -> _Run:
        run = self._runs.get(job_id)
        if run is None:
            raise ProtocolError(
                ErrorCode.UNKNOWN_JOB, f"no XRD job {job_id!r}", field="params.job_id"
            )
        return run

    async def _reset(self, _: object) -> StageStatus:
        """Clear the error state; a running (or stuck) measurement is aborted."""
        run = self._current
        if run is not None and run.task is not None and not run.task.done():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task
            run.job.state, run.job.error = JobState.ABORTED, "aborted by reset"
        self._error = None
        self._state = StageState.LOADED if self._powder else StageState.EMPTY
        return self.status()
