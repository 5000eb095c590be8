"""The synthesis robot as an ophyd-async device: ``set`` runs a job, signals read the robot.

Every value goes through :class:`~voltlab.drivers.RobotClient` (OPC UA). ``set`` submits a
synthesis or a cell assembly under a client-chosen job id (so setting a known job again waits
for the existing one instead of making a second batch) and completes when the job does.
"""

import math
from collections.abc import Awaitable, Callable
from typing import Any

from ophyd_async.core import AsyncStatus, StandardReadable, StandardReadableFormat
from pydantic import BaseModel, ConfigDict, Field

from voltlab.drivers.config import RobotConfig
from voltlab.drivers.devices._backend import ClientLink, SharedRead, driver_signal_r
from voltlab.drivers.errors import JobFailed
from voltlab.drivers.robot_client import INSTRUMENT, RobotClient, RobotReadings
from voltlab.protocol import JOB_ID_PATTERN, JobState, Recipe
from voltlab.protocol.robot import RobotJob

DEFAULT_DEADLINE_S = 3600.0
"""Wall time a robot job may take before ``set`` fails with DriverTimeout."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(pattern=JOB_ID_PATTERN)


class Synthesis(_Request):
    """Make a powder from ``recipe``; the robot names the powder (``product_id``)."""

    recipe: Recipe


class CellAssembly(_Request):
    """Build a coin cell from powder ``sample_id``."""

    sample_id: str = Field(pattern=JOB_ID_PATTERN)


class Robot(StandardReadable):
    """The synthesis robot.

    Read in each event: of the device's last job, ``job_id``, ``job_state``, ``product_id`` and
    ``mass_g`` (g of powder made; NaN when none was weighed), hinted; of the robot, ``state`` and
    ``furnace_temperature`` (C). Control: ``progress`` (%, of the active job),
    ``active_job_id``, ``device_state`` and ``last_error``.
    """

    def __init__(
        self, config: RobotConfig, name: str = "", deadline_s: float = DEFAULT_DEADLINE_S
    ) -> None:
        self._link = link = ClientLink(INSTRUMENT, config.url, lambda: RobotClient(config))
        self._deadline_s = deadline_s
        self._job_id: str | None = None
        readings = SharedRead(lambda: link.client.readings())
        job = SharedRead(self._job)

        def from_robot(read: Callable[[RobotReadings], Any]) -> Callable[[], Awaitable[Any]]:
            async def read_robot() -> Any:
                return read(await readings())

            return read_robot

        def from_job(read: Callable[[RobotJob], Any], empty: Any) -> Callable[[], Awaitable[Any]]:
            async def read_job() -> Any:
                current = await job()
                return empty if current is None else read(current)

            return read_job

        with self.add_children_as_readables(StandardReadableFormat.HINTED_UNCACHED_SIGNAL):
            self.mass_g = driver_signal_r(
                float,
                link,
                "job.mass_g",
                from_job(lambda j: math.nan if j.mass_g is None else j.mass_g, math.nan),
                units="g",
            )
        with self.add_children_as_readables(StandardReadableFormat.UNCACHED_SIGNAL):
            self.job_id = driver_signal_r(str, link, "job.job_id", from_job(lambda j: j.job_id, ""))
            self.job_state = driver_signal_r(
                str, link, "job.state", from_job(lambda j: j.state, "")
            )
            self.product_id = driver_signal_r(
                str, link, "job.product_id", from_job(lambda j: j.product_id, "")
            )
            self.state = driver_signal_r(str, link, "state", from_robot(lambda r: r.state))
            self.furnace_temperature = driver_signal_r(
                float,
                link,
                "furnace_temperature",
                from_robot(lambda r: r.furnace_temperature_c),
                units="degC",
            )
        self.progress = driver_signal_r(
            float, link, "progress", from_robot(lambda r: r.progress), units="%"
        )
        self.active_job_id = driver_signal_r(
            str, link, "active_job_id", from_robot(lambda r: r.active_job_id)
        )
        self.device_state = driver_signal_r(
            str, link, "device_state", from_robot(lambda r: r.device_state)
        )
        self.last_error = driver_signal_r(
            str, link, "last_error", from_robot(lambda r: r.last_error)
        )
        super().__init__(name=name)

    @AsyncStatus.wrap
    async def set(self, value: Synthesis | CellAssembly) -> None:
        """Submit the job (or find the known one) and wait for it; JobFailed unless completed."""
        client = self._link.client
        if isinstance(value, Synthesis):
            job = await client.submit(value.job_id, value.recipe)
        else:
            job = await client.assemble_cell(value.job_id, value.sample_id)
        self._job_id = job.job_id
        done = await client.wait(job.job_id, self._deadline_s)
        if done.state is not JobState.COMPLETED:
            raise JobFailed(INSTRUMENT, done.job_id, done.state, done.error)

    async def close(self) -> None:
        """Close the OPC UA session; connect again (``force_reconnect=True``) to reuse."""
        await self._link.close()

    async def _job(self) -> RobotJob | None:
        return None if self._job_id is None else await self._link.client.job(self._job_id)
