"""The analysis worker process: work runs outside the caller's process, and errors come back
as they were raised. (That it leaves with a killed orchestrator: tests/test_worker_lifetime.py.)"""

import os

import pytest

from voltlab.orchestrator.analysis_worker import in_worker


async def test_work_runs_in_another_process_and_errors_come_back() -> None:
    assert await in_worker(os.getpid) != os.getpid()
    with pytest.raises(ValueError, match="invalid literal"):
        await in_worker(int, "not a number")
