"""The retry loop both instrument clients share: how many attempts, the pauses between them,
when it stops early, and which error the caller finally sees."""

import asyncio

import pytest

from voltlab.drivers._retry import AttemptFailed, with_retries
from voltlab.drivers.config import RetryPolicy
from voltlab.drivers.errors import CommandRefused, DriverError, DriverTimeout

POLICY = RetryPolicy(attempts=4, backoff_initial_s=0.01, backoff_max_s=0.02)


class Script:
    """An attempt that fails with the given errors in turn, then answers ``"done"``."""

    def __init__(self, *failures: AttemptFailed | Exception) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.started: list[float] = []
        self.cleaned: list[tuple[int, str]] = []

    async def attempt(self) -> str:
        self.calls += 1
        self.started.append(asyncio.get_running_loop().time())
        if self.failures:
            raise self.failures.pop(0)
        return "done"

    async def after_failure(self, number: int, error: DriverError) -> None:
        self.cleaned.append((number, str(error)))


def timeout(n: int) -> AttemptFailed:
    return AttemptFailed(DriverTimeout("xrd", "measure", f"no reply {n}"))


async def test_a_later_attempt_succeeds_after_cleanups_and_growing_pauses() -> None:
    script = Script(timeout(1), timeout(2))
    assert await with_retries(POLICY, None, script.attempt, script.after_failure) == "done"
    assert script.calls == 3
    assert [n for n, _ in script.cleaned] == [1, 2]
    pauses = [b - a for a, b in zip(script.started, script.started[1:], strict=False)]
    assert pauses[0] >= 0.01 and pauses[1] >= 0.02


async def test_the_last_failure_is_raised_when_every_attempt_fails() -> None:
    script = Script(*(timeout(n) for n in range(1, 10)))
    with pytest.raises(DriverTimeout, match="no reply 4"):
        await with_retries(POLICY, None, script.attempt, script.after_failure)
    assert script.calls == POLICY.attempts


async def test_an_explicit_attempt_count_overrides_the_policy() -> None:
    script = Script(*(timeout(n) for n in range(1, 10)))
    with pytest.raises(DriverTimeout, match="no reply 1"):
        await with_retries(POLICY, 1, script.attempt, script.after_failure)
    assert script.calls == 1


async def test_a_final_failure_stops_at_once_after_its_cleanup() -> None:
    refused = AttemptFailed(DriverTimeout("robot", "login", "bad password"), final=True)
    script = Script(refused, timeout(2))
    with pytest.raises(DriverTimeout, match="bad password"):
        await with_retries(POLICY, None, script.attempt, script.after_failure)
    assert script.calls == 1
    assert script.cleaned == [(1, str(refused.error))]


async def test_other_errors_end_the_command_without_a_retry() -> None:
    script = Script(CommandRefused("xrd", "measure", "busy", "stage busy", None), timeout(2))
    with pytest.raises(CommandRefused):
        await with_retries(POLICY, None, script.attempt, script.after_failure)
    assert script.calls == 1
    assert script.cleaned == []
