"""Worker processes that leave when the process that made them is gone.

A process killed outright (``kill -9``, an OOM kill) cannot shut its worker pools down, and a
``ProcessPoolExecutor`` worker would wait for work forever, keeping the forkserver alive too:
the worker holds both ends of its own call queue, so it never reads an end of file. Both the
orchestrator's analysis worker and the simulator's cell-model workers start with
:func:`leave_with_parent` as their initialiser. A foundation like :mod:`voltlab.errors`: it
imports nothing of voltlab.
"""

import os
import signal
import threading
import time
from pathlib import Path

PARENT_CHECK_S = 1.0
"""How often a worker looks whether the process that made it is still there."""


def leave_with_parent(parent_pid: int) -> None:
    """Worker initialiser: exit once process ``parent_pid`` has. Ctrl-C reaches the whole
    process group, but only the parent should react (it shuts its workers down itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while not process_gone(parent_pid):
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="voltlab-parent-watch", daemon=True).start()


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie, exited but not yet reaped, counts)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, PermissionError):
        return True
    except OSError:  # no /proc here: the signal check is all there is
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
