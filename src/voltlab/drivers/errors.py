"""Typed driver errors; each names the instrument and the command (or job) it concerns.

Each also inherits the builtin that fits, so callers can catch ``TimeoutError`` or
``ConnectionError`` without knowing voltlab.
"""

from voltlab.errors import VoltlabError
from voltlab.protocol import ErrorCode


class DriverError(VoltlabError):
    def __init__(self, instrument: str, command: str, message: str) -> None:
        super().__init__(f"{instrument} {command}: {message}")
        self.instrument = instrument
        self.command = command
        self.message = message


class InstrumentUnavailable(DriverError, ConnectionError):
    """No connection to the instrument could be made (down, unreachable, security refused)."""


class CommandRefused(DriverError):
    """The instrument answered with an error: ``code`` and ``reason`` are the device's own."""

    def __init__(
        self, instrument: str, command: str, code: ErrorCode, reason: str, field: str | None = None
    ) -> None:
        super().__init__(instrument, command, f"refused ({code}): {reason}")
        self.code = code
        self.reason = reason
        self.field = field


class DriverProtocolError(DriverError, ValueError):
    """The instrument's replies could not be understood (garbled, truncated, wrong schema)."""


class DriverTimeout(DriverError, TimeoutError):
    """No reply in time, or a job (``command`` names it) did not finish by its deadline."""


class JobFailed(DriverError):
    """A job ended in a state other than completed; ``state`` and ``reason`` say how."""

    def __init__(self, instrument: str, job_id: str, state: str, reason: str | None) -> None:
        super().__init__(instrument, f"job {job_id}", f"ended {state}: {reason or 'no reason'}")
        self.job_id = job_id
        self.state = state
        self.reason = reason
