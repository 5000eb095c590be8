"""Shared fixtures: free loopback ports, simulator settings in a temporary state dir, and a
guard that fails any test leaking asyncio tasks."""

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from voltlab.simulated_hardware.config import SimSettings, load_sim_settings

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
os.environ.setdefault("SPGLIB_OLD_ERROR_HANDLING", "0")

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@pytest.fixture
def sim_settings(tmp_path: Path) -> SimSettings:
    """Simulator settings on free loopback ports, running as fast as possible, state in tmp."""
    return load_sim_settings(
        acceleration=float("inf"),
        state_dir=tmp_path / "sim-state",
        robot={"port": free_port()},
        cycler={"command_port": free_port(), "stream_port": free_port()},
        xrd={"port": free_port()},
    )


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> "Iterator[None]":
    """Fail a test that leaves asyncio tasks running behind it (ophyd-async's habit)."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
    if leaked:
        for task in leaked:
            task.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
        names = ", ".join(sorted(t.get_name() for t in leaked))
        pytest.fail(f"test leaked asyncio tasks: {names}")
