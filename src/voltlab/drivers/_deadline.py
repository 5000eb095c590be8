"""A reply deadline that always ends as ``TimeoutError`` when it expires.

asyncua (through ``wait_for2`` on Python 3.11) raises ``CancelledWithResultError``, a subclass of
``CancelledError``, when a reply arrives in the same instant as the cancellation that
``asyncio.timeout`` sends at its deadline. Python 3.11's ``asyncio.timeout`` converts only
``CancelledError`` itself into ``TimeoutError``, so such a race would leave the caller's task
looking cancelled from outside (and a campaign would stop as if an operator had asked).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def deadline(seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout(seconds)``, with any cancellation caused by its expiry raised as
    ``TimeoutError``; a cancellation from outside still propagates as it came."""
    async with asyncio.timeout(seconds) as scope:
        try:
            yield
        except asyncio.CancelledError:
            if scope.expired():
                raise TimeoutError(f"deadline of {seconds} s passed") from None
            raise
