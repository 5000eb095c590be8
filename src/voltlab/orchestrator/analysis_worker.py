"""Heavy analyses in a worker process, so the event loop keeps the GIL.

The XRD whole-pattern fit is about 0.3 s of Python (scipy's least squares calling our residual)
per pattern. On a thread it would hold the GIL the event loop needs to answer instruments and
API clients; in its own process it also runs on the other core. One worker, started on first
use and kept for the process's life (its pymatgen caches with it). Forkserver, because forking a
process that runs ZMQ threads is unsafe; the server preloads this process's main module, so a
worker does not import the command line's whole world again.
"""

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from voltlab.worker_lifetime import leave_with_parent

P = ParamSpec("P")
T = TypeVar("T")

_executor: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _pool(broken: ProcessPoolExecutor | None = None) -> ProcessPoolExecutor:
    """The worker pool, made anew if it is ``broken`` (its process died)."""
    global _executor
    with _lock:
        if _executor is not None and _executor is broken:
            _executor.shutdown(wait=False, cancel_futures=True)
            _executor = None
        if _executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["__main__", "voltlab.orchestrator.metrics_of"])
            _executor = ProcessPoolExecutor(
                1, mp_context=context, initializer=leave_with_parent, initargs=(os.getpid(),)
            )
        return _executor


async def in_worker(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in the analysis process (``fn`` and its arguments pickle);
    raises what ``fn`` raised. A worker that died is replaced once."""
    pool = _pool()
    try:
        return await asyncio.wrap_future(pool.submit(fn, *args, **kwargs))
    except BrokenProcessPool:
        return await asyncio.wrap_future(_pool(broken=pool).submit(fn, *args, **kwargs))
