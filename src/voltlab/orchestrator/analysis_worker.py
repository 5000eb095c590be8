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
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

PARENT_CHECK_S = 1.0
"""How often a worker looks whether the process that made it is still there."""

_executor: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _watch_parent(parent_pid: int) -> None:
    """Worker initialiser. A killed orchestrator cannot shut its pool down, and the worker
    would wait for work forever (keeping the forkserver alive too), so it leaves on its own
    once that process is gone. Ctrl-C reaches the whole process group: only the orchestrator
    reacts to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while not _gone(parent_pid):
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="voltlab-parent-watch", daemon=True).start()


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie, exited but not yet reaped, counts)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, PermissionError):
        return True
    except OSError:  # no /proc here: the signal check is all there is
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


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
                1, mp_context=context, initializer=_watch_parent, initargs=(os.getpid(),)
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
