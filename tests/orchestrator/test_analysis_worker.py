"""The analysis worker process: work runs outside the caller's process, errors come back as
they were raised, and a worker whose orchestrator was killed does not outlive it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voltlab.orchestrator.analysis_worker import PARENT_CHECK_S, in_worker

KILLED_ORCHESTRATOR = """
import asyncio, os
from voltlab.orchestrator.analysis_worker import in_worker

async def main():
    print(await in_worker(os.getpid), flush=True)
    os._exit(0)  # gone without shutting the pool down, as after kill -9

if __name__ == "__main__":
    asyncio.run(main())
"""


async def test_work_runs_in_another_process_and_errors_come_back() -> None:
    assert await in_worker(os.getpid) != os.getpid()
    with pytest.raises(ValueError, match="invalid literal"):
        await in_worker(int, "not a number")


def test_a_worker_leaves_when_its_orchestrator_is_killed(tmp_path: Path) -> None:
    printed = tmp_path / "worker-pid"
    with printed.open("w") as out:  # not a pipe: a worker left behind would hold it open
        subprocess.run([sys.executable, "-c", KILLED_ORCHESTRATOR], stdout=out, timeout=120)
    worker = int(printed.read_text())
    give_up = time.monotonic() + 10 * PARENT_CHECK_S
    while _alive(worker):
        assert time.monotonic() < give_up, f"worker {worker} outlived its orchestrator"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    return stat.split(")")[-1].split()[0] != "Z"  # a zombie has exited already
