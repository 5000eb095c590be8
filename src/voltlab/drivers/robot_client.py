"""Async client of the synthesis robot over OPC UA (asyncua), per :mod:`voltlab.protocol.opcua`.

Nodes are addressed by their string NodeIds (the dotted browse path) in the robot's namespace,
looked up by URI at connect. Every method returns the JSON reply envelope; an error reply is
raised as :class:`CommandRefused` with the robot's code and reason. A call that times out or
loses its connection is retried on a new session after an exponential, bounded pause: submits
are keyed by the caller's job id and every other method is idempotent, so nothing runs twice.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from asyncua import Client, Node, ua
from asyncua.ua.uaerrors import UaError, UaStatusCodeError
from pydantic import BaseModel, ValidationError

from voltlab.drivers._deadline import deadline
from voltlab.drivers._heartbeat import Heartbeat
from voltlab.drivers._jobs import wait_final
from voltlab.drivers._retry import AttemptFailed, with_retries
from voltlab.drivers.config import RobotConfig
from voltlab.drivers.errors import (
    CommandRefused,
    DriverError,
    DriverProtocolError,
    DriverTimeout,
    InstrumentUnavailable,
)
from voltlab.protocol import Recipe, Reply
from voltlab.protocol.opcua import (
    ACTIVE_JOB_ID,
    CURRENT_STATE,
    DEVICE,
    DEVICE_STATE,
    FUNCTIONAL_UNIT,
    FUNCTIONAL_UNIT_SET,
    FURNACE,
    FURNACE_TEMPERATURE,
    LAST_ERROR,
    NAMESPACE_URI,
    PROGRAM_MANAGER,
    PROGRESS,
    RobotMethod,
    RobotState,
)
from voltlab.protocol.robot import RobotJob

log = logging.getLogger(__name__)

INSTRUMENT = "robot"
SESSION_TIMEOUT_MS = 600_000
CLOSE_TIMEOUT_S = 0.25
"""How long to wait for a polite session close; a wedged robot then only loses the socket."""
UNIT_PATH = (DEVICE, FUNCTIONAL_UNIT_SET, FUNCTIONAL_UNIT)
MANAGER_PATH = (*UNIT_PATH, PROGRAM_MANAGER)
T = TypeVar("T")


class RobotReadings(BaseModel):
    """The robot's state variables, read in one request. Progress in %, temperature in C."""

    device_state: str
    state: RobotState
    last_error: str
    active_job_id: str
    progress: float
    furnace_temperature_c: float


READING_PATHS: dict[str, tuple[str, ...]] = {
    "device_state": (DEVICE, DEVICE_STATE),
    "state": (*UNIT_PATH, CURRENT_STATE),
    "last_error": (*UNIT_PATH, LAST_ERROR),
    "active_job_id": (*MANAGER_PATH, ACTIVE_JOB_ID),
    "progress": (*MANAGER_PATH, PROGRESS),
    "furnace_temperature_c": (*UNIT_PATH, FURNACE, FURNACE_TEMPERATURE),
}


@dataclass
class _Session:
    client: Client
    manager: Node
    ns: int

    def node(self, *path: str) -> Node:
        return self.client.get_node(ua.NodeId(".".join(path), self.ns))


class RobotClient:
    """``async with RobotClient(config) as robot:``."""

    def __init__(self, config: RobotConfig) -> None:
        self._config = config
        self._session: _Session | None = None
        self._lock = asyncio.Lock()
        self._heartbeat = Heartbeat(INSTRUMENT, self._probe, config.heartbeat)

    async def __aenter__(self) -> "RobotClient":
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open a session (retried with backoff; InstrumentUnavailable if it cannot be made,
        e.g. a refused login) and start the heartbeat."""
        try:
            await self.readings()
        except BaseException:
            await self.close()
            raise
        self._heartbeat.start()

    async def close(self) -> None:
        await self._heartbeat.stop()
        async with self._lock:
            await self._drop()

    @property
    def healthy(self) -> bool:
        return self._heartbeat.healthy

    @property
    def last_seen(self) -> float | None:
        """``time.time()`` of the last answer from the robot."""
        return self._heartbeat.last_seen

    # -- methods ----------------------------------------------------------------------------

    async def submit(self, job_id: str, recipe: Recipe) -> RobotJob:
        """Queue a synthesis (or, for a known job id, return the existing job)."""
        return RobotJob.model_validate(
            await self._method(RobotMethod.START, job_id, recipe.model_dump_json())
        )

    async def assemble_cell(self, job_id: str, sample_id: str) -> RobotJob:
        """Queue a coin-cell build from powder ``sample_id``; the cell's id is ``job_id``."""
        return RobotJob.model_validate(
            await self._method(RobotMethod.ASSEMBLE_CELL, job_id, sample_id)
        )

    async def job(self, job_id: str) -> RobotJob:
        return RobotJob.model_validate(await self._method(RobotMethod.GET_JOB, job_id))

    async def stop(self, job_id: str) -> RobotJob:
        """End a job early, keeping what it made (it cools down first)."""
        return RobotJob.model_validate(await self._method(RobotMethod.STOP, job_id))

    async def abort(self, job_id: str) -> RobotJob:
        """End a job now, discarding it."""
        return RobotJob.model_validate(await self._method(RobotMethod.ABORT, job_id))

    async def reset(self) -> dict[str, Any]:
        """Clear the robot's error state: ``{"state": ..., "error": ...}``."""
        return await self._method(RobotMethod.RESET)

    async def wait(self, job_id: str, deadline_s: float) -> RobotJob:
        """The job once finished (any final state); DriverTimeout naming it if not by then."""
        return await wait_final(
            INSTRUMENT, job_id, self.job, deadline_s, self._config.poll_interval_s
        )

    async def readings(self, attempts: int | None = None) -> RobotReadings:
        async def read(session: _Session) -> RobotReadings:
            nodes = [session.node(*path) for path in READING_PATHS.values()]
            values = await session.client.read_values(nodes)
            return RobotReadings.model_validate(dict(zip(READING_PATHS, values, strict=True)))

        return await self._with_session("read", read, attempts)

    # -- transport --------------------------------------------------------------------------

    async def _method(self, method: RobotMethod, *args: str) -> dict[str, Any]:
        async def call(session: _Session) -> str:
            node_id = ua.NodeId(".".join((*MANAGER_PATH, method)), session.ns)
            return await session.manager.call_method(node_id, *args)

        text = await self._with_session(method, call)
        try:
            reply = Reply.model_validate_json(text)
        except ValidationError as exc:
            raise DriverProtocolError(INSTRUMENT, method, f"malformed reply: {exc}") from exc
        if not reply.ok:
            assert reply.error is not None
            error = reply.error
            raise CommandRefused(INSTRUMENT, method, error.code, error.message, error.field)
        return reply.result or {}

    async def _with_session(
        self,
        command: str,
        operation: Callable[[_Session], Awaitable[T]],
        attempts: int | None = None,
    ) -> T:
        """Run ``operation`` on a live session, reconnecting and retrying on loss or timeout."""
        policy = self._config.retry

        async def attempt() -> T:
            failure: DriverError
            try:
                session = await self._ensure_session(command)
                async with deadline(policy.reply_timeout_s):
                    return await operation(session)
            except DriverError as exc:
                failure = exc
            except TimeoutError:
                failure = DriverTimeout(
                    INSTRUMENT, command, f"no reply within {policy.reply_timeout_s} s"
                )
            except (OSError, UaError) as exc:
                failure = InstrumentUnavailable(INSTRUMENT, command, f"connection lost: {exc!r}")
            # a refused login does not get better by retrying
            refused_login = (
                isinstance(failure, InstrumentUnavailable) and failure.command == "login"
            )
            raise AttemptFailed(failure, final=refused_login)

        async def after_failure(number: int, failure: DriverError) -> None:
            log.info("robot: %s attempt %d failed: %s", command, number, failure)
            await self._drop()

        async with self._lock:
            result = await with_retries(policy, attempts, attempt, after_failure)
            self._heartbeat.alive()
            return result

    async def _ensure_session(self, command: str) -> _Session:
        if self._session is not None:
            return self._session
        config = self._config
        client = Client(config.url, timeout=config.retry.reply_timeout_s)
        client.session_timeout = SESSION_TIMEOUT_MS
        if config.username is not None and config.password is not None:
            client.set_user(config.username)
            client.set_password(config.password.get_secret_value())
        try:
            if config.security is not None:
                client.application_uri = config.security.application_uri
                await client.set_security_string(config.security.security_string())
            async with deadline(config.retry.reply_timeout_s):
                await client.connect()
        except TimeoutError as exc:
            client.disconnect_socket()
            raise InstrumentUnavailable(
                INSTRUMENT, command, f"no session with {config.url} within timeout"
            ) from exc
        except UaStatusCodeError as exc:
            client.disconnect_socket()
            raise InstrumentUnavailable(
                INSTRUMENT, "login", f"{config.url} refused: {exc}"
            ) from exc
        except (OSError, UaError) as exc:
            client.disconnect_socket()
            raise InstrumentUnavailable(
                INSTRUMENT, command, f"cannot connect to {config.url}: {exc!r}"
            ) from exc
        try:
            ns = await client.get_namespace_index(NAMESPACE_URI)
        except (ValueError, OSError, UaError) as exc:
            await self._disconnect(client)
            raise InstrumentUnavailable(
                INSTRUMENT, command, f"{config.url} has no namespace {NAMESPACE_URI}: {exc!r}"
            ) from exc
        manager = client.get_node(ua.NodeId(".".join(MANAGER_PATH), ns))
        self._session = _Session(client, manager, ns)
        return self._session

    async def _drop(self) -> None:
        if self._session is not None:
            client, self._session = self._session.client, None
            await self._disconnect(client)

    async def _disconnect(self, client: Client) -> None:
        """Close the session politely if the robot answers in time, else just the socket."""
        try:
            async with deadline(CLOSE_TIMEOUT_S):
                await client.disconnect()
        except (TimeoutError, OSError, UaError):
            log.debug("robot: session not closed cleanly", exc_info=True)
        finally:
            with contextlib.suppress(OSError):
                client.disconnect_socket()

    async def _probe(self) -> None:
        await self.readings(attempts=1)
