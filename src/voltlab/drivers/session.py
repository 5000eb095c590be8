"""A bluesky session usable from asyncio code and from plain scripts.

The RunEngine always runs its own event loop in its own thread. Devices must be connected on that
loop (their driver clients' sockets belong to it), and plans are run by a blocking call, which
asyncio code makes from a worker thread so its own loop keeps running. This class does both, and
shuts the loop down cleanly: devices closed, left-over tasks cancelled, the thread joined.
"""

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

from bluesky import RunEngine
from bluesky.run_engine import RunEngineResult
from bluesky.utils import FailedStatus, MsgGenerator
from ophyd_async.core import Device, wait_for_connection

from voltlab.drivers.documents import DocumentSink
from voltlab.errors import VoltlabError

log = logging.getLogger(__name__)

T = TypeVar("T")
JOIN_TIMEOUT_S = 10.0


@runtime_checkable
class Closable(Protocol):
    async def close(self) -> None: ...


class BlueskySession:
    """A RunEngine (own thread and loop), its connected devices and a document sink.

    ``md`` is metadata added to every run's start document (e.g. the campaign id).
    """

    def __init__(self, sink: DocumentSink | None = None, md: Mapping[str, Any] | None = None):
        self.run_engine = RunEngine(dict(md or {}), context_managers=[], call_returns_result=True)
        if sink is not None:
            self.run_engine.subscribe(sink)
        self._devices: list[Device] = []

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.run_engine.loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the RunEngine's loop and return its result (blocks this thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """From another event loop: await ``coro`` run on the RunEngine's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def connect(self, devices: Mapping[str, Device], timeout_s: float = 10.0) -> None:
        """Name each device by its key and connect them all, in parallel, on the RunEngine's
        loop; NotConnectedError lists every device that failed."""

        async def connect_all() -> None:
            for name, device in devices.items():
                device.set_name(name)
            await wait_for_connection(
                **{name: device.connect(timeout=timeout_s) for name, device in devices.items()}
            )

        self._devices.extend(devices.values())
        self.call(connect_all())

    async def aconnect(self, devices: Mapping[str, Device], timeout_s: float = 10.0) -> None:
        await asyncio.to_thread(self.connect, devices, timeout_s)

    def run(self, plan: MsgGenerator[Any]) -> RunEngineResult:
        """Run ``plan`` to its end. A failure is raised after the run's stop document; a device
        operation that failed with a voltlab error (CommandRefused, JobFailed, ...) raises that
        error rather than bluesky's FailedStatus wrapping it."""
        try:
            return self.run_engine(plan)
        except FailedStatus as exc:
            if isinstance(exc.__cause__, VoltlabError):
                raise exc.__cause__  # noqa: B904 (it is the cause: keep its own chain)
            raise

    async def arun(self, plan: MsgGenerator[Any]) -> RunEngineResult:
        """Run ``plan`` from asyncio code without blocking its loop."""
        return await asyncio.to_thread(self.run, plan)

    def close(self) -> list[str]:
        """Close the devices, stop the RunEngine's loop and thread. Returns the names of tasks
        that were still running on the loop and had to be cancelled (none, normally)."""
        if self.run_engine.state != "idle":
            self.run_engine.halt()
        try:
            for device in self._devices:
                if isinstance(device, Closable):
                    self.call(device.close(), JOIN_TIMEOUT_S)
        finally:
            self._devices.clear()
            leftover = self.call(_cancel_other_tasks(), JOIN_TIMEOUT_S)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.run_engine._th.join(JOIN_TIMEOUT_S)  # the RunEngine's thread; no public handle
            self.loop.close()
        if leftover:
            log.warning("bluesky session: cancelled left-over tasks %s", leftover)
        return leftover

    async def aclose(self) -> list[str]:
        return await asyncio.to_thread(self.close)


async def _cancel_other_tasks() -> list[str]:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sorted(t.get_name() for t in tasks)
