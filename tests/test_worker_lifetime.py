"""Worker processes do not outlive the process that made them: the orchestrator's analysis
worker and the simulator's cell-model workers both leave when their parent is killed outright
(gone without shutting its pool down, as after ``kill -9``)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from voltlab.worker_lifetime import PARENT_CHECK_S, process_gone

KILLED_ORCHESTRATOR = """
import asyncio, os
from voltlab.orchestrator.analysis_worker import in_worker

async def main():
    print(await in_worker(os.getpid), flush=True)
    os._exit(0)

if __name__ == "__main__":
    asyncio.run(main())
"""

KILLED_SIMULATOR = """
import multiprocessing, os, sys
from pathlib import Path
from voltlab.simulated_hardware.servers.cell_pool import CellPool

if __name__ == "__main__":
    CellPool(Path(sys.argv[1]), seed=0, sample_period_s=1.0, max_workers=2).warm()
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    os._exit(0)
"""


@pytest.mark.parametrize(
    "script", [KILLED_ORCHESTRATOR, KILLED_SIMULATOR], ids=["analysis", "cell-model"]
)
def test_workers_leave_when_their_parent_is_killed(script: str, tmp_path: Path) -> None:
    printed = tmp_path / "worker-pids"
    with printed.open("w") as out:  # not a pipe: a worker left behind would hold it open
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "cache")], stdout=out, timeout=120
        )
    workers = [int(pid) for pid in printed.read_text().split()]
    assert workers, "the parent started no worker"
    give_up = time.monotonic() + 10 * PARENT_CHECK_S
    for worker in workers:
        while not process_gone(worker):
            assert time.monotonic() < give_up, f"worker {worker} outlived its parent"
            time.sleep(0.1)
