"""The JSON envelope: every malformed command becomes a ProtocolError naming the problem."""

import json

import pytest

from voltlab.protocol import (
    MAX_COMMAND_BYTES,
    PROTOCOL_VERSION,
    ErrorCode,
    ProtocolError,
    Request,
    decode_reply,
    decode_request,
    encode,
    error_reply,
    ok_reply,
)


def frame(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_round_trip_keeps_message_id_and_params() -> None:
    request = Request(command="status", params={"channel": 3})
    decoded = decode_request(encode(request))
    assert decoded == request
    assert len(decoded.msg_id) == 32


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        (b"\xff\xfe\x00garbage", ErrorCode.BAD_MESSAGE, "UTF-8 JSON"),
        (b'{"v": "1", "command": "st', ErrorCode.BAD_MESSAGE, "UTF-8 JSON"),
        (frame([1, 2, 3]), ErrorCode.BAD_MESSAGE, "JSON object"),
        (frame({"v": "0", "command": "status"}), ErrorCode.VERSION_MISMATCH, "'0'"),
        (frame({"command": "status"}), ErrorCode.VERSION_MISMATCH, "None"),
        (frame({"v": PROTOCOL_VERSION, "command": 7}), ErrorCode.INVALID_FIELD, "command"),
        (
            frame({"v": PROTOCOL_VERSION, "command": "x", "params": []}),
            ErrorCode.INVALID_FIELD,
            "params",
        ),
        (
            frame({"v": PROTOCOL_VERSION, "command": "x", "extra": 1}),
            ErrorCode.INVALID_FIELD,
            "extra",
        ),
        (b" " * (MAX_COMMAND_BYTES + 1), ErrorCode.OVERSIZED, str(MAX_COMMAND_BYTES)),
    ],
)
def test_bad_commands_name_the_problem(payload: bytes, code: ErrorCode, fragment: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_request(payload)
    assert info.value.code is code
    assert fragment in info.value.message


def test_invalid_field_error_carries_the_field_name() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_request(frame({"v": PROTOCOL_VERSION, "command": 7}))
    assert info.value.field == "command"


def test_replies_round_trip_and_raise_their_error() -> None:
    ok = decode_reply(encode(ok_reply("m1", {"answer": 42})))
    assert ok.raise_for_error() == {"answer": 42}
    err = ProtocolError(ErrorCode.UNKNOWN_JOB, "no job 'j9'", field="params.job_id")
    bad = decode_reply(encode(error_reply("m2", err)))
    assert bad.msg_id == "m2" and not bad.ok
    with pytest.raises(ProtocolError) as info:
        bad.raise_for_error()
    assert info.value.code is ErrorCode.UNKNOWN_JOB and info.value.field == "params.job_id"


def test_garbled_reply_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_reply(b"\x00\x01not json")
    assert info.value.code is ErrorCode.BAD_MESSAGE
