"""The store for asyncio code: every call runs on one worker thread, in order, so SQLite work
(bulk point inserts included) never blocks the event loop and the connection has one user."""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from voltlab.orchestrator.store.lab_store import Store

T = TypeVar("T")


class AsyncStore:
    """Wraps a :class:`Store`; ``await store.call(lambda s: s.method(...))``."""

    def __init__(self, store: Store) -> None:
        self.sync = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voltlab-store")

    async def call(self, fn: Callable[[Store], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, self.sync)

    def close(self) -> None:
        """Finish queued calls, then close the file."""
        self._executor.shutdown(wait=True)
        self.sync.close()
