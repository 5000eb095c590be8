"""Bounded retries of one command with exponential pauses, shared by the ZMQ and OPC UA clients.

An attempt signals a failure worth retrying by raising :class:`AttemptFailed`; anything else it
raises (a device's refusal, say) ends the command at once. After each failure the caller cleans
up (throws away the socket or session) before the next attempt.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from voltlab.drivers.config import RetryPolicy
from voltlab.drivers.errors import DriverError

T = TypeVar("T")


class AttemptFailed(Exception):
    """One attempt's failure, ``error``; ``final`` when retrying cannot mend it."""

    def __init__(self, error: DriverError, final: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.final = final


async def with_retries(
    policy: RetryPolicy,
    attempts: int | None,
    attempt: Callable[[], Awaitable[T]],
    after_failure: Callable[[int, DriverError], Awaitable[None]],
) -> T:
    """``attempt()``'s result, trying up to ``attempts`` times (None: the policy's count).

    ``after_failure(number, error)`` runs after each failed attempt (numbered from 1). Raises
    the last failure's error when no attempt succeeds.
    """
    failure: DriverError | None = None
    for number in range(1, (attempts or policy.attempts) + 1):
        if number > 1:
            await asyncio.sleep(policy.backoff_s(number - 1))
        try:
            return await attempt()
        except AttemptFailed as exc:
            failure = exc.error
            await after_failure(number, failure)
            if exc.final:
                break
    assert failure is not None
    raise failure
