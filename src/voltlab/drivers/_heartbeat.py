"""Liveness of an instrument: a cheap probe on a period, and the time anything was last heard.

Any successful exchange counts (commands report it with :meth:`Heartbeat.alive`), so a busy
instrument is not probed needlessly hard; after ``misses`` failed probes in a row it is marked
unhealthy until one succeeds, so a silent instrument is noticed without waiting on a job.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from voltlab.drivers.config import HeartbeatPolicy
from voltlab.drivers.errors import DriverError

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self, instrument: str, probe: Callable[[], Awaitable[object]], policy: HeartbeatPolicy
    ) -> None:
        self._instrument = instrument
        self._probe = probe
        self._policy = policy
        self._task: asyncio.Task[None] | None = None
        self._missed = 0
        self.last_seen: float | None = None
        """Wall-clock time (``time.time()``, s) of the last successful exchange."""

    @property
    def healthy(self) -> bool:
        return self.last_seen is not None and self._missed < self._policy.misses

    def alive(self) -> None:
        self.last_seen = time.time()
        if self._missed >= self._policy.misses:
            log.info("%s: instrument answers again", self._instrument)
        self._missed = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._beat(), name=f"{self._instrument}-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._policy.interval_s)
            try:
                await self._probe()
            except DriverError as exc:
                self._missed += 1
                if self._missed == self._policy.misses:
                    log.warning(
                        "%s: unhealthy after %d missed heartbeats: %s",
                        self._instrument,
                        self._missed,
                        exc,
                    )
            else:
                self.alive()
