"""The wire contract between voltlab's drivers and its (simulated or real) instruments.

Imports nothing else of voltlab: both the simulated servers and the drivers depend on it.
"""

from voltlab.protocol._version import MAX_COMMAND_BYTES, PROTOCOL_VERSION
from voltlab.protocol.envelope import (
    Reply,
    Request,
    decode_reply,
    decode_request,
    encode,
    error_reply,
    new_message_id,
    ok_reply,
)
from voltlab.protocol.errors import ErrorCode, ProtocolError
from voltlab.protocol.jobs import JOB_ID_PATTERN, JobState
from voltlab.protocol.recipe import Dopant, Recipe

__all__ = [
    "JOB_ID_PATTERN",
    "MAX_COMMAND_BYTES",
    "PROTOCOL_VERSION",
    "Dopant",
    "ErrorCode",
    "JobState",
    "ProtocolError",
    "Recipe",
    "Reply",
    "Request",
    "decode_reply",
    "decode_request",
    "encode",
    "error_reply",
    "new_message_id",
    "ok_reply",
]
