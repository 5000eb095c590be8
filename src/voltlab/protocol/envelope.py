"""The request/reply envelope of every ZMQ instrument command.

Commands and replies are single-frame UTF-8 JSON objects, so a plain zmq socket and ``json``
can drive an instrument. Each request carries the protocol version, a client-chosen message id
(echoed in the reply, so replies can be matched after a reconnect) and the command's parameters.
"""

import json
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voltlab.protocol._version import MAX_COMMAND_BYTES, PROTOCOL_VERSION
from voltlab.protocol.errors import ErrorCode, ProtocolError


def new_message_id() -> str:
    return uuid.uuid4().hex


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: str = PROTOCOL_VERSION
    msg_id: str = Field(default_factory=new_message_id, min_length=1, max_length=128)
    command: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    field: str | None = None


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: str = PROTOCOL_VERSION
    msg_id: str | None
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None

    def raise_for_error(self) -> dict[str, Any]:
        """Return the result, or raise the reply's error as a :class:`ProtocolError`."""
        if not self.ok:
            err = self.error or ErrorBody(code=ErrorCode.INTERNAL, message="error without body")
            raise ProtocolError(err.code, err.message, err.field)
        return self.result or {}


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_none=False).encode()


def decode_request(frame: bytes) -> Request:
    """Parse one command frame; every failure is a :class:`ProtocolError` naming the problem."""
    if len(frame) > MAX_COMMAND_BYTES:
        raise ProtocolError(
            ErrorCode.OVERSIZED, f"message of {len(frame)} bytes exceeds {MAX_COMMAND_BYTES}"
        )
    try:
        raw = json.loads(frame.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"not a UTF-8 JSON document: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "a command must be a JSON object")
    version = raw.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.VERSION_MISMATCH,
            f"protocol version {version!r} is not supported; expected {PROTOCOL_VERSION!r}",
            field="v",
        )
    try:
        return Request.model_validate(raw)
    except ValidationError as exc:
        raise field_error(exc) from exc


def decode_reply(frame: bytes) -> Reply:
    try:
        return Reply.model_validate_json(frame)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"malformed reply: {exc}") from exc


def field_error(exc: ValidationError) -> ProtocolError:
    """Turn pydantic's validation error into an INVALID_FIELD error naming the first bad field."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return ProtocolError(ErrorCode.INVALID_FIELD, f"{field}: {first['msg']}", field=field)


def ok_reply(msg_id: str | None, result: BaseModel | dict[str, Any]) -> Reply:
    body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return Reply(msg_id=msg_id, ok=True, result=body)


def error_reply(msg_id: str | None, error: ProtocolError) -> Reply:
    return Reply(
        msg_id=msg_id,
        ok=False,
        error=ErrorBody(code=error.code, message=error.message, field=error.field),
    )
