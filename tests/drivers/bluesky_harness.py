"""What the device and plan tests share: a bluesky session that must shut down clean, and a
simulated lab served from its own thread (the RunEngine blocks the thread that calls it)."""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

from voltlab.drivers.documents import ValidatingSink
from voltlab.drivers.session import BlueskySession
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.lab import Instrument, InstrumentServer, running_lab

CALL_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def bluesky_session() -> AsyncIterator[tuple[BlueskySession, ValidatingSink]]:
    """A session whose documents all pass validation; closing it must cancel no task. Async,
    so servers on the test's loop keep answering while the RunEngine's thread works."""
    sink = ValidatingSink()
    session = BlueskySession(sink)
    try:
        yield session, sink
    finally:
        leftover = await session.aclose()
    assert not leftover, f"tasks left running on the RunEngine's loop: {leftover}"


class LabThread:
    """Every simulated instrument on one lab context, served from a daemon thread's loop."""

    def __init__(self, settings: SimSettings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lab: contextlib.AbstractAsyncContextManager[Any] = running_lab(settings)
        self.lab: LabContext
        self.servers: dict[Instrument, InstrumentServer]

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT_S)

    def __enter__(self) -> "LabThread":
        self._thread.start()
        self.lab, self.servers = self.run(self._lab.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self._lab.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT_S)
        self._loop.close()
