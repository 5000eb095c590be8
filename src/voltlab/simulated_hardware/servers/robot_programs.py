"""What the synthesis robot physically does for a job, stage by stage, in instrument time.

A synthesis weighs and mixes the precursors (15 min), ramps the furnace at 5 C/min, dwells for
the recipe's calcination time and cools at 10 C/min; a cell assembly takes
``cell_assembly_time_s``. Progress and the furnace temperature move along in
:data:`TICKS_PER_STAGE` steps per stage. A stop request cuts the ramp or dwell short and cools
down: the powder is kept, registered with the dwell actually done, unless the dwell never
started. Faults are drawn once per job (operations ``robot.synthesis``, ``robot.cell_assembly``).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voltlab.errors import VoltlabError
from voltlab.protocol import JobState
from voltlab.protocol.opcua import Precursor
from voltlab.protocol.robot import RobotJob, RobotJobKind
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.registry import Powder, UnknownSampleError
from voltlab.simulated_hardware.world.product import make_product

log = logging.getLogger(__name__)

AMBIENT_C = 25.0
RAMP_RATE_C_PER_MIN = 5.0
COOL_RATE_C_PER_MIN = 10.0
WEIGH_MIX_TIME_S = 900.0
TICKS_PER_STAGE = 20
SYNTHESIS_FAULTS = (FaultKind.FAILED_SYNTHESIS, FaultKind.DEVICE_ERROR, FaultKind.STUCK_JOB)
ASSEMBLY_FAULTS = (FaultKind.DEVICE_ERROR, FaultKind.STUCK_JOB)


class DeviceFault(VoltlabError):
    """The robot hardware failed: the job fails and the robot enters its error state."""


class JobFailed(VoltlabError):
    """The job failed on its own (e.g. a cracked crucible); the robot stays ready."""


@dataclass(eq=False)
class JobRecord:
    """A job and what the robot keeps about it while it lives."""

    job: RobotJob
    grams: dict[Precursor, float] = field(default_factory=dict)
    """Precursors reserved for it, g."""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: "asyncio.Task[None] | None" = None


@dataclass(frozen=True)
class Outcome:
    state: JobState
    error: str | None = None


def _minutes(delta_c: float, rate_c_per_min: float) -> float:
    """Minutes to move the furnace by ``delta_c`` degrees at ``rate_c_per_min`` (0 if none)."""
    return max(0.0, delta_c) / rate_c_per_min


class RobotHardware:
    """The furnace and the arm. ``on_tick`` publishes the robot's status after every step."""

    def __init__(self, lab: LabContext, on_tick: Callable[[], Awaitable[None]]) -> None:
        self._lab = lab
        self._settings = lab.settings.robot
        self._on_tick = on_tick
        self.temperature_c = AMBIENT_C
        self.setpoint_c = AMBIENT_C

    def switch_off(self) -> None:
        """Furnace off at once (abort, device error); the simulation does not model cooling."""
        self.temperature_c = self.setpoint_c = AMBIENT_C

    async def run(self, record: JobRecord) -> Outcome:
        if record.job.kind is RobotJobKind.SYNTHESIS:
            return await self._synthesize(record)
        return await self._assemble(record)

    async def _synthesize(self, record: JobRecord) -> Outcome:
        assert record.job.recipe is not None
        recipe, job_id = record.job.recipe, record.job.job_id
        target = recipe.calcination_temperature_c
        fault = self._lab.faults.draw("robot.synthesis", SYNTHESIS_FAULTS)
        ramp_s = _minutes(target - AMBIENT_C, RAMP_RATE_C_PER_MIN) * 60
        dwell_s = recipe.calcination_time_h * 3600
        cool_s = _minutes(target - AMBIENT_C, COOL_RATE_C_PER_MIN) * 60
        total_s = WEIGH_MIX_TIME_S + ramp_s + dwell_s + cool_s
        await self._stage(record, total_s, WEIGH_MIX_TIME_S, AMBIENT_C)
        self.setpoint_c = target
        if fault is FaultKind.DEVICE_ERROR:
            await self._stage(record, total_s, ramp_s / 2, (AMBIENT_C + target) / 2)
            raise DeviceFault(f"furnace thermocouple open circuit at {self.temperature_c:.0f} C")
        await self._stage(record, total_s, ramp_s, target, interruptible=True)
        if fault is FaultKind.FAILED_SYNTHESIS:
            raise JobFailed(f"crucible cracked at {self.temperature_c:.0f} C")
        dwelt_s = await self._stage(record, total_s, dwell_s / 2, target, interruptible=True)
        if fault is FaultKind.STUCK_JOB:
            log.warning("robot job %s stuck mid-dwell", job_id)
            await record.stop.wait()
        dwelt_s += await self._stage(record, total_s, dwell_s / 2, target, interruptible=True)
        self.setpoint_c = AMBIENT_C
        cool_s = _minutes(self.temperature_c - AMBIENT_C, COOL_RATE_C_PER_MIN) * 60
        await self._stage(record, total_s, cool_s, AMBIENT_C)
        stopped = record.stop.is_set()
        if stopped and dwelt_s <= 0:
            return Outcome(JobState.STOPPED, "stopped before calcination; no powder made")
        made = (
            recipe.model_copy(update={"calcination_time_h": dwelt_s / 3600}) if stopped else recipe
        )
        product = make_product(made, self._lab.rng("synthesis", job_id))
        self._lab.registry.add_powder(Powder(job_id, made, product, self._settings.batch_mass_g))
        return Outcome(JobState.STOPPED if stopped else JobState.COMPLETED)

    async def _assemble(self, record: JobRecord) -> Outcome:
        assert record.job.source_sample_id is not None
        duration_s = self._settings.cell_assembly_time_s
        fault = self._lab.faults.draw("robot.cell_assembly", ASSEMBLY_FAULTS)
        await self._stage(record, duration_s, duration_s / 2, AMBIENT_C, interruptible=True)
        if fault is FaultKind.DEVICE_ERROR:
            raise DeviceFault("gripper dropped the cell can while crimping")
        if fault is FaultKind.STUCK_JOB:
            log.warning("robot job %s stuck while crimping", record.job.job_id)
            await record.stop.wait()
        await self._stage(record, duration_s, duration_s / 2, AMBIENT_C, interruptible=True)
        if record.stop.is_set():
            return Outcome(JobState.STOPPED, "stopped before crimping; no cell made")
        try:
            self._lab.registry.add_cell(record.job.job_id, record.job.source_sample_id)
        except UnknownSampleError as exc:
            raise JobFailed(str(exc)) from exc
        return Outcome(JobState.COMPLETED)

    async def _stage(
        self,
        record: JobRecord,
        job_total_s: float,
        duration_s: float,
        end_temperature_c: float,
        interruptible: bool = False,
    ) -> float:
        """Advance ``duration_s`` of instrument time, moving the furnace linearly towards
        ``end_temperature_c``; returns the time done, s (less if a stop cut it short)."""
        if duration_s <= 0:
            return 0.0
        start_c, step_s, done_s = self.temperature_c, duration_s / TICKS_PER_STAGE, 0.0
        for tick in range(1, TICKS_PER_STAGE + 1):
            if interruptible and record.stop.is_set():
                break
            await self._lab.clock.sleep(step_s)
            done_s += step_s
            self.temperature_c = start_c + (end_temperature_c - start_c) * tick / TICKS_PER_STAGE
            progress = min(100.0, record.job.progress + 100.0 * step_s / job_total_s)
            record.job = record.job.model_copy(update={"progress": progress})
            await self._on_tick()
        return done_s
