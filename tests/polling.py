"""Waiting in a test for something another task or process makes true."""

import asyncio
from collections.abc import Callable

WAIT_S = 100.0
"""How long a condition may take before the test fails; generous, for a loaded CI machine."""


async def eventually(
    condition: Callable[[], bool], timeout_s: float = WAIT_S, interval_s: float = 0.01
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not condition():
        assert loop.time() < end, f"condition not met within {timeout_s} s"
        await asyncio.sleep(interval_s)
