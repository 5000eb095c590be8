"""Worker processes that run the cell model, so a PyBaMM solve never blocks the cycler's loop.

PyBaMM takes seconds to import and to solve a long protocol. The pool is a long-lived
forkserver pool (fork is unsafe once ZMQ threads exist) whose server process preloads the cell
model, so each worker starts with PyBaMM already imported. Identical requests share one
computation while it runs, and the last ``RECENT_TRACES`` traces are kept in memory (traces are
never modified), so many channels cycling the same cell cost one solve and no worker round trip;
older traces come from the cell model's own disk cache.
"""

import asyncio
import logging
import multiprocessing
import os
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from voltlab.protocol.cycler import CyclingProtocol
from voltlab.simulated_hardware.world.cell_model import simulate_cell
from voltlab.simulated_hardware.world.cell_types import CellSpec, CellTrace
from voltlab.worker_lifetime import leave_with_parent

log = logging.getLogger(__name__)

_TraceKey = tuple[CellSpec, CyclingProtocol]
RECENT_TRACES = 16


WORKER_NICENESS = 10
"""Cell solves are background work: the servers' event loops answer commands first."""


def _init_worker(server_pid: int) -> None:
    """Worker initialiser: leave with the server (see :mod:`voltlab.worker_lifetime`), and
    yield the CPU to command handling."""
    leave_with_parent(server_pid)
    os.nice(WORKER_NICENESS)


class CellPool:
    """Runs the cell model in worker processes; the pool is created on first use."""

    def __init__(
        self,
        cache_dir: Path,
        seed: int,
        sample_period_s: float,
        max_workers: int | None = None,
    ) -> None:
        self._cache_dir = cache_dir
        self._seed = seed
        self._sample_period_s = sample_period_s
        self._max_workers = max_workers or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None
        self._in_flight: dict[_TraceKey, Future[CellTrace]] = {}
        self._recent: OrderedDict[_TraceKey, CellTrace] = OrderedDict()

    def warm(self) -> None:
        """Start the workers and wait until they are up (they import the cell model), so the
        first job does not pay for it. Blocking: call it in a thread."""
        executor = self._pool()
        for started in [executor.submit(os.getpid) for _ in range(self._max_workers)]:
            started.result()

    async def trace(self, spec: CellSpec, protocol: CyclingProtocol) -> CellTrace:
        """The cell's whole trace under ``protocol``; raises what the cell model raised."""
        key = (spec, protocol)
        if key in self._recent:
            self._recent.move_to_end(key)
            return self._recent[key]
        future = self._in_flight.get(key)
        if future is None:
            future = self._pool().submit(
                simulate_cell,
                self._cache_dir,
                self._seed,
                spec,
                protocol,
                self._sample_period_s,
            )
            self._in_flight[key] = future
            future.add_done_callback(lambda _: self._in_flight.pop(key, None))
        # shielded: a stopped job must not cancel a computation other channels are waiting for
        trace = await asyncio.shield(asyncio.wrap_future(future))
        self._recent[key] = trace
        while len(self._recent) > RECENT_TRACES:
            self._recent.popitem(last=False)
        return trace

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([simulate_cell.__module__])
            self._executor = ProcessPoolExecutor(
                self._max_workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
            log.info("cell model pool started with %d workers", self._max_workers)
        return self._executor
