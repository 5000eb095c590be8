"""The XRD stage as an ophyd-async device: scan settings, a triggered measurement, the pattern.

Every instrument value goes through :class:`~voltlab.drivers.XRDClient`: ``trigger`` measures
(a job keyed by a client-chosen id, so re-triggering a known id returns its existing pattern
instead of measuring twice) and the pattern signals read that job's pattern from the stage.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from ophyd_async.core import (
    Array1D,
    AsyncStatus,
    StandardReadable,
    StandardReadableFormat,
    soft_signal_rw,
)

from voltlab.drivers.config import XRDConfig
from voltlab.drivers.devices._backend import (
    ClientLink,
    SharedRead,
    driver_signal_r,
    driver_signal_rw,
    new_job_id,
)
from voltlab.drivers.errors import JobFailed
from voltlab.drivers.xrd_client import INSTRUMENT, XRDClient
from voltlab.protocol import JobState
from voltlab.protocol.xrd import MeasureParams, Pattern

DEFAULT_DEADLINE_S = 600.0
"""Wall time a measurement may take before the trigger fails with DriverTimeout."""


class XRDStage(StandardReadable):
    """A powder diffractometer.

    Read in each event: ``counts`` (hinted) on the ``two_theta`` grid (degrees 2-theta) of the
    last measurement, its ``sample_id``, ``job_id`` and ``wavelength`` (Angstrom).
    Configuration: ``two_theta_start``, ``two_theta_stop``, ``step`` (degrees) and
    ``count_time`` (s per step), settings sent with each measurement.
    Control: ``loaded_sample`` (putting a powder id loads it), ``state``, ``progress`` (0-1),
    ``next_job_id`` (the id the next trigger measures under; empty: a fresh one).
    """

    def __init__(
        self, config: XRDConfig, name: str = "", deadline_s: float = DEFAULT_DEADLINE_S
    ) -> None:
        self._link = ClientLink(INSTRUMENT, config.endpoint, lambda: XRDClient(config))
        self._deadline_s = deadline_s
        self._measured: str | None = None
        self._loaded: str | None = None
        self._pattern: Pattern | None = None
        link = self._link
        status = SharedRead(lambda: link.client.status())
        pattern = SharedRead(self._last_pattern)

        def from_pattern(field: str, empty: Any) -> Callable[[], Awaitable[Any]]:
            async def read() -> Any:
                measured = await pattern()
                return empty if measured is None else getattr(measured, field)

            return read

        def from_status(field: str, empty: Any) -> Callable[[], Awaitable[Any]]:
            async def read() -> Any:
                value = getattr(await status(), field)
                return empty if value is None else value

            return read

        with self.add_children_as_readables(StandardReadableFormat.HINTED_UNCACHED_SIGNAL):
            self.counts = driver_signal_r(
                Array1D[np.float64], link, "pattern.counts", from_pattern("counts", []),
                units="counts",
            )  # fmt: skip
        with self.add_children_as_readables(StandardReadableFormat.UNCACHED_SIGNAL):
            self.two_theta = driver_signal_r(
                Array1D[np.float64], link, "pattern.two_theta", from_pattern("two_theta", []),
                units="deg",
            )  # fmt: skip
            self.sample_id = driver_signal_r(
                str, link, "pattern.sample_id", from_pattern("sample_id", "")
            )
            self.job_id = driver_signal_r(str, link, "pattern.job_id", from_pattern("job_id", ""))
            self.wavelength = driver_signal_r(
                float, link, "pattern.wavelength_angstrom",
                from_pattern("wavelength_angstrom", 0.0), units="angstrom",
            )  # fmt: skip
        with self.add_children_as_readables(StandardReadableFormat.CONFIG_SIGNAL):
            self.two_theta_start = soft_signal_rw(float, 10.0, units="deg")
            self.two_theta_stop = soft_signal_rw(float, 80.0, units="deg")
            self.step = soft_signal_rw(float, 0.02, units="deg")
            self.count_time = soft_signal_rw(float, 1.0, units="s")
        self.loaded_sample = driver_signal_rw(
            str, link, "status.sample_id", from_status("sample_id", ""), self._load
        )
        self.state = driver_signal_r(str, link, "status.state", from_status("state", ""))
        self.progress = driver_signal_r(float, link, "status.progress", from_status("progress", 0))
        self.next_job_id = soft_signal_rw(str, "")
        super().__init__(name=name)

    @AsyncStatus.wrap
    async def trigger(self) -> None:
        """Measure the loaded sample with the configured scan; JobFailed unless it completes."""
        params = MeasureParams(
            job_id=await self.next_job_id.get_value() or new_job_id(INSTRUMENT),
            two_theta_start=await self.two_theta_start.get_value(),
            two_theta_stop=await self.two_theta_stop.get_value(),
            step=await self.step.get_value(),
            count_time_s=await self.count_time.get_value(),
        )
        client = self._link.client
        if self._loaded is None:
            job = await client.measure(params)
        else:  # the stage may have restarted since the load and forgotten the sample
            job = await client.measure_loaded(self._loaded, params)
        done = await client.wait(job.job_id, self._deadline_s)
        await self.next_job_id.set("")
        if done.state is not JobState.COMPLETED:
            raise JobFailed(INSTRUMENT, done.job_id, done.state, done.error)
        self._measured = done.job_id

    async def close(self) -> None:
        """Close the driver client; connect again (``force_reconnect=True``) to reuse."""
        await self._link.close()

    async def _load(self, sample_id: str) -> None:
        """Load ``sample_id`` unless it is already on the stage (a measurement of it may be
        running after a restart, and loading would be refused as busy)."""
        client = self._link.client
        if (await client.status()).sample_id != sample_id:
            await client.load(sample_id)
        self._loaded = sample_id

    async def _last_pattern(self) -> Pattern | None:
        """The last measurement's pattern, fetched once per job (a finished pattern never changes)."""
        if self._measured is None:
            return None
        if self._pattern is None or self._pattern.job_id != self._measured:
            self._pattern = await self._link.client.get_pattern(self._measured)
        return self._pattern
