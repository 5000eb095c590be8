"""The API's reads, on several connections to the lab file at once.

SQLite in WAL mode lets readers run beside each other and beside the one writer, so a long read
(a whole cycling series, a hypervolume history) does not queue every other request behind it,
as it would on the writer's single thread. Each worker thread opens its own connection (and its
own notebook :class:`Lab` view on it) the first time it runs a read.
"""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.store import Store

T = TypeVar("T")
READ_WORKERS = 4
"""Reads in flight at once: a few, since each holds the GIL while it turns rows into objects."""


class ReadPool:
    """Runs read-only functions of a :class:`Store` (or a :class:`Lab`) on worker threads."""

    def __init__(self, path: Path, workers: int = READ_WORKERS) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="voltlab-read")
        self._local = threading.local()
        self._labs: list[Lab] = []
        self._labs_lock = threading.Lock()

    async def read(self, fn: Callable[[Store], T]) -> T:
        return await self.lab(lambda lab: fn(lab.store))

    async def lab(self, fn: Callable[[Lab], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._thread_lab()))

    def close(self) -> None:
        """Finish the reads under way, then close every connection."""
        self._executor.shutdown(wait=True)
        with self._labs_lock:
            for lab in self._labs:
                lab.close()
            self._labs.clear()

    def _thread_lab(self) -> Lab:
        lab: Lab | None = getattr(self._local, "lab", None)
        if lab is None:
            lab = self._local.lab = Lab(Store.open(self._path))
            with self._labs_lock:
                self._labs.append(lab)
        return lab
