"""Instruments as resources: the robot, the XRD stage and each cycler channel serve one
experiment at a time. Steps wait for theirs in FIFO order; busy time is kept for utilisation."""

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field


@dataclass
class _Unit:
    name: str
    busy_since: float | None = None
    busy_s: float = 0.0


@dataclass
class _Kind:
    units: dict[str, _Unit]
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class ResourcePool:
    """Named units grouped by kind, e.g. kind "cycler" with units "cycler:0" ... "cycler:15"."""

    def __init__(self, kinds: dict[str, Iterable[str]]) -> None:
        self._kinds = {k: _Kind({n: _Unit(n) for n in names}) for k, names in kinds.items()}
        self._created = time.monotonic()
        self.changed = asyncio.Event()
        """Set whenever a unit is released (the scheduler waits on it)."""

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def free(self, kind: str) -> int:
        return sum(u.busy_since is None for u in self._kinds[kind].units.values())

    def waiting(self, kind: str) -> int:
        return sum(not w.done() for w in self._kinds[kind].waiters)

    @contextlib.asynccontextmanager
    async def use(self, kind: str, preferred: str | None = None) -> AsyncIterator[str]:
        """Hold one unit of ``kind`` (``preferred`` if given: a reattached job keeps its
        channel) and yield its name."""
        name = await self._acquire(kind, preferred)
        try:
            yield name
        finally:
            self._release(kind, name)

    async def _acquire(self, kind: str, preferred: str | None) -> str:
        group = self._kinds[kind]
        woken = False
        while True:
            unit = self._pick(group, preferred)
            # A newcomer queues behind earlier waiters; a woken waiter (woken in FIFO order)
            # takes what is free.
            if unit is not None and (woken or preferred is not None or not group.waiters):
                unit.busy_since = time.monotonic()
                return unit.name
            waiter = asyncio.get_running_loop().create_future()
            group.waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    group.waiters.remove(waiter)
            woken = True

    @staticmethod
    def _pick(group: _Kind, preferred: str | None) -> _Unit | None:
        if preferred is not None:
            unit = group.units.get(preferred)
            return unit if unit is not None and unit.busy_since is None else None
        return next((u for u in group.units.values() if u.busy_since is None), None)

    def _release(self, kind: str, name: str) -> None:
        group = self._kinds[kind]
        unit = group.units[name]
        if unit.busy_since is not None:
            unit.busy_s += time.monotonic() - unit.busy_since
            unit.busy_since = None
        for waiter in group.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.changed.set()

    def utilisation(self, kind: str) -> float:
        """Fraction of the time since the pool was made that the units of ``kind`` were busy."""
        now = time.monotonic()
        units = self._kinds[kind].units.values()
        busy = sum(u.busy_s + (now - u.busy_since if u.busy_since else 0.0) for u in units)
        elapsed = (now - self._created) * len(units)
        return busy / elapsed if elapsed > 0 else 0.0
