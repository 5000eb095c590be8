"""The reply deadline around asyncua calls: its expiry is a TimeoutError even when the library
answers the cancellation with a CancelledError subclass (asyncua's wait_for2 does when the reply
races the deadline), and a cancellation from outside is still a cancellation."""

import asyncio
import sys

import pytest

from voltlab.drivers._deadline import deadline


class CancelledWithResult(asyncio.CancelledError):
    """What wait_for2 raises when the awaited reply completed as it was being cancelled."""


async def reply_racing_the_deadline() -> str:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        raise CancelledWithResult("reply") from None
    return "reply"


async def test_plain_timeout_lets_the_subclass_through_on_this_python() -> None:
    """Why the helper exists: 3.11's asyncio.timeout converts only CancelledError itself."""
    expected = asyncio.CancelledError if sys.version_info < (3, 12) else TimeoutError
    with pytest.raises(expected):
        async with asyncio.timeout(0.01):
            await reply_racing_the_deadline()


async def test_the_deadline_turns_a_racing_reply_into_a_timeout() -> None:
    with pytest.raises(TimeoutError, match=r"deadline of 0\.01 s"):
        async with deadline(0.01):
            await reply_racing_the_deadline()
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_cancellation_from_outside_still_cancels() -> None:
    async def call() -> None:
        async with deadline(10):
            await reply_racing_the_deadline()

    task = asyncio.create_task(call())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_reply_in_time_passes_through() -> None:
    async with deadline(1):
        await asyncio.sleep(0)
