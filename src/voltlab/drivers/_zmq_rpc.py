"""Request/reply over a DEALER socket: the command core shared by the cycler and XRD clients.

One command is in flight at a time. Each attempt has a deadline covering both the send (a
DEALER with ``IMMEDIATE`` waits in send until a connection, including its CURVE handshake, is up;
a refused handshake would otherwise block forever) and the reply, matched by message id. A lost,
late or garbled reply makes the attempt fail; the socket is then thrown away (so no stale reply
can be mistaken for a later one) and the command is resent on a fresh socket after an
exponential, bounded pause. Resending is safe: every instrument command is idempotent (jobs are
keyed by the client's job id, queries have no effect). An error reply is the device's answer
and is raised at once as :class:`CommandRefused`.
"""

import asyncio
import functools
import logging
from collections.abc import Mapping
from typing import Any

import zmq
import zmq.asyncio
from pydantic import BaseModel

from voltlab.drivers._heartbeat import Heartbeat
from voltlab.drivers._retry import AttemptFailed, with_retries
from voltlab.drivers.config import ZmqInstrumentConfig
from voltlab.drivers.errors import (
    CommandRefused,
    DriverError,
    DriverProtocolError,
    DriverTimeout,
    InstrumentUnavailable,
)
from voltlab.protocol import ProtocolError, Reply, Request, decode_reply, encode

log = logging.getLogger(__name__)

RECONNECT_IVL_MS = 50
RECONNECT_IVL_MAX_MS = 1_000

Params = Mapping[str, Any] | BaseModel


def curve_options(config: ZmqInstrumentConfig) -> dict[str, bytes]:
    """Socket options that make a client socket speak CURVE to the configured server (or none)."""
    keys = config.curve
    if keys is None:
        return {}
    if keys.client_public_key is not None and keys.client_secret_key is not None:
        public = keys.client_public_key.encode()
        secret = keys.client_secret_key.get_secret_value().encode()
    else:
        public, secret = zmq.curve_keypair()
    return {
        "curve_serverkey": keys.server_public_key.encode(),
        "curve_publickey": public,
        "curve_secretkey": secret,
    }


class ZmqRpc:
    """Commands to one instrument. ``probe`` is the cheap command the heartbeat sends."""

    def __init__(
        self,
        instrument: str,
        config: ZmqInstrumentConfig,
        ctx: zmq.asyncio.Context,
        probe: tuple[str, Params],
    ) -> None:
        self.instrument = instrument
        self._config = config
        self._ctx = ctx
        self._curve = curve_options(config)
        self._socket: zmq.asyncio.Socket | None = None
        self._lock = asyncio.Lock()
        self._probe = probe
        self.heartbeat = Heartbeat(instrument, self._send_probe, config.heartbeat)

    async def open(self) -> None:
        """Check that the instrument answers (raising the typed error if not), then keep a
        heartbeat going."""
        await self.call(*self._probe)
        self.heartbeat.start()

    async def close(self) -> None:
        await self.heartbeat.stop()
        async with self._lock:
            self._discard_socket()

    async def call(
        self, command: str, params: Params, attempts: int | None = None
    ) -> dict[str, Any]:
        """Send ``command`` and return its result, retrying lost or garbled replies."""
        body = params.model_dump(mode="json") if isinstance(params, BaseModel) else dict(params)
        request = Request(command=command, params=body)
        payload = encode(request)
        attempt = functools.partial(self._exchange, command, request.msg_id, payload)

        async def after_failure(number: int, failure: DriverError) -> None:
            self._discard_socket()
            log.info("%s: attempt %d failed: %s", self.instrument, number, failure)

        async with self._lock:
            reply = await with_retries(self._config.retry, attempts, attempt, after_failure)
            self.heartbeat.alive()
        if reply.ok:
            return reply.result or {}
        assert reply.error is not None
        error = reply.error
        raise CommandRefused(self.instrument, command, error.code, error.message, error.field)

    async def _exchange(self, command: str, msg_id: str, payload: bytes) -> Reply:
        sock = self._ensure_socket()
        timeout_s = self._config.retry.reply_timeout_s
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                await sock.send(payload)
        except TimeoutError:
            raise AttemptFailed(
                InstrumentUnavailable(
                    self.instrument,
                    command,
                    f"no connection to {self._config.endpoint} within {timeout_s} s",
                )
            ) from None
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    frame = (await sock.recv_multipart())[-1]
                    try:
                        reply = decode_reply(frame)
                    except ProtocolError as exc:
                        raise AttemptFailed(
                            DriverProtocolError(self.instrument, command, exc.message)
                        ) from exc
                    if reply.msg_id in (msg_id, None):
                        return reply
                    log.debug("%s: discarding reply to another request", self.instrument)
        except TimeoutError:
            raise AttemptFailed(
                DriverTimeout(self.instrument, command, f"no reply within {timeout_s} s")
            ) from None

    def _ensure_socket(self) -> zmq.asyncio.Socket:
        if self._socket is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)
            sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
            for option, value in self._curve.items():
                setattr(sock, option, value)
            sock.connect(self._config.endpoint)
            self._socket = sock
        return self._socket

    def _discard_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    async def _send_probe(self) -> None:
        await self.call(*self._probe, attempts=1)
