"""Error codes carried in replies, and the exception that names them."""

from enum import StrEnum

from voltlab.errors import VoltlabError


class ErrorCode(StrEnum):
    """Why an instrument refused or failed a command. Stable strings: clients match on them."""

    BAD_MESSAGE = "BAD_MESSAGE"
    """Not decodable (not UTF-8 JSON, truncated, not an object)."""
    OVERSIZED = "OVERSIZED"
    VERSION_MISMATCH = "VERSION_MISMATCH"
    UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
    INVALID_FIELD = "INVALID_FIELD"
    """A field is missing, of the wrong type, or out of its schema range."""
    UNKNOWN_JOB = "UNKNOWN_JOB"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    UNKNOWN_SAMPLE = "UNKNOWN_SAMPLE"
    JOB_CONFLICT = "JOB_CONFLICT"
    """A known job id was resubmitted with different parameters."""
    BUSY = "BUSY"
    """The device or channel is running another job."""
    NOT_READY = "NOT_READY"
    """The job has not produced the requested result yet."""
    INTERLOCK = "INTERLOCK"
    """The command is outside the device's safety limits; the message gives the limit."""
    DEVICE_ERROR = "DEVICE_ERROR"
    """The device is in its error state and needs a reset."""
    TIMEOUT = "TIMEOUT"
    INTERNAL = "INTERNAL"


class ProtocolError(VoltlabError):
    """An error reply from an instrument, or a message that breaks the protocol.

    Carries the :class:`ErrorCode` and, for field errors, the offending field's name.
    """

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field
