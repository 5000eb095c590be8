"""A ROUTER socket serving JSON-envelope commands: the shared core of the ZMQ instruments.

Each instrument registers its commands (a params model and an async handler); this class decodes,
validates, dispatches, replies, and applies injected wire faults (no reply, garbled or truncated
reply, dropped connections). A bad message from one client gets an error reply naming the
problem; the loop keeps serving every other client.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from pydantic import BaseModel, ValidationError
from zmq.auth.asyncio import AsyncioAuthenticator

from voltlab.protocol import (
    ErrorCode,
    ProtocolError,
    Reply,
    decode_request,
    encode,
    error_reply,
    ok_reply,
)
from voltlab.protocol.envelope import field_error
from voltlab.simulated_hardware.config import CurveSecurity
from voltlab.simulated_hardware.faults import FaultInjector, FaultKind
from voltlab.simulated_hardware.servers.curve import (
    ensure_keypair,
    make_curve_server,
    start_authenticator,
)

log = logging.getLogger(__name__)

WIRE_FAULTS = (
    FaultKind.TIMEOUT,
    FaultKind.CORRUPT_MESSAGE,
    FaultKind.TRUNCATED_MESSAGE,
    FaultKind.DISCONNECT,
)
TRANSPORT_MAX_BYTES = 64 * 1_048_576
"""libzmq drops peers sending more than this; up to it, oversized commands get a reply."""
REBIND_DELAY_S = 0.2
POLL_INTERVAL_MS = 100
"""How often the serve loop looks up from its socket to honour a requested connection drop."""


@dataclass(frozen=True)
class Command:
    """One command: the model its params must validate against, and what runs it."""

    params: type[BaseModel]
    run: Callable[[Any], Awaitable[BaseModel | Mapping[str, Any]]]


class ZmqCommandServer:
    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        commands: Mapping[str, Command],
        faults: FaultInjector,
        ctx: zmq.asyncio.Context,
        curve: CurveSecurity | None = None,
        key_dir: Path | None = None,
    ) -> None:
        self.name = name
        self._host = host
        self._requested_port = port
        self._commands = dict(commands)
        self._faults = faults
        self._ctx = ctx
        self._curve = curve if curve is not None and curve.enabled else None
        self._key_dir = key_dir
        self._socket: zmq.asyncio.Socket | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._drop_requested = False
        self._auth: AsyncioAuthenticator | None = None
        self.port = port
        self.public_key: bytes | None = None

    @property
    def endpoint(self) -> str:
        return f"tcp://{self._host}:{self.port}"

    async def start(self) -> None:
        if self._curve is not None:  # before binding, so no client slips in unauthenticated
            self._auth = start_authenticator(self._ctx, self._curve)
        self._bind()
        self._loop_task = asyncio.create_task(self._serve(), name=f"{self.name}-commands")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        self._close()
        if self._auth is not None:
            self._auth.stop()
            self._auth = None

    def _bind(self) -> None:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, TRANSPORT_MAX_BYTES)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        if self._curve is not None:
            public, secret = ensure_keypair(self._curve_dir(), self.name)
            make_curve_server(sock, public, secret)
            self.public_key = public
        port = self.port or self._requested_port
        if port:
            sock.bind(f"tcp://{self._host}:{port}")
        else:
            port = sock.bind_to_random_port(f"tcp://{self._host}")
        self.port = port
        self._socket = sock
        log.info("%s serving commands on %s", self.name, self.endpoint)

    def _curve_dir(self) -> Path:
        key_dir = self._curve.key_dir if self._curve and self._curve.key_dir else self._key_dir
        if key_dir is None:
            raise ValueError(f"{self.name}: CURVE enabled but no key_dir configured")
        return key_dir

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    async def _serve(self) -> None:
        while True:
            if self._drop_requested:
                await self._drop_connections()
            assert self._socket is not None
            if not await self._socket.poll(POLL_INTERVAL_MS, zmq.POLLIN):
                continue
            frames = await self._socket.recv_multipart()
            task = asyncio.create_task(self._handle(frames))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _handle(self, frames: list[bytes]) -> None:
        route, payload = frames[:-1], frames[-1]
        reply = await self.dispatch(payload)
        fault = self._faults.draw(f"{self.name}.{reply.get('command', '?')}", WIRE_FAULTS)
        data = encode(reply["reply"])
        if fault is FaultKind.TIMEOUT:
            return
        if fault is FaultKind.DISCONNECT:
            self._drop_requested = True
            return
        if fault is FaultKind.CORRUPT_MESSAGE:
            data = bytes(b ^ 0x5A for b in data)
        elif fault is FaultKind.TRUNCATED_MESSAGE:
            data = data[: len(data) // 2]
        if self._socket is not None:
            await self._socket.send_multipart([*route, data])

    async def dispatch(self, payload: bytes) -> dict[str, Any]:
        """Decode and run one command; returns ``{"command": name, "reply": Reply}``."""
        msg_id: str | None = None
        command = "?"
        try:
            request = decode_request(payload)
            msg_id, command = request.msg_id, request.command
            spec = self._commands.get(command)
            if spec is None:
                known = ", ".join(sorted(self._commands))
                raise ProtocolError(
                    ErrorCode.UNKNOWN_COMMAND,
                    f"{self.name} has no command {command!r}; known: {known}",
                    field="command",
                )
            try:
                params = spec.params.model_validate(request.params)
            except ValidationError as exc:
                err = field_error(exc)
                err.field = f"params.{err.field}" if err.field else "params"
                err.message = f"params.{err.message}"
                raise err from exc
            reply: Reply = ok_reply(msg_id, await spec.run(params))
        except ProtocolError as exc:
            reply = error_reply(msg_id, exc)
        except Exception as exc:  # a bug in one handler must not stop the instrument
            log.exception("%s: command %s failed", self.name, command)
            reply = error_reply(msg_id, ProtocolError(ErrorCode.INTERNAL, repr(exc)))
        return {"command": command, "reply": reply}

    async def _drop_connections(self) -> None:
        """Simulate a network drop: close the socket and rebind on the same port shortly after."""
        log.warning("%s: dropping all connections", self.name)
        self._drop_requested = False
        self._close()
        await asyncio.sleep(REBIND_DELAY_S)
        self._bind()
