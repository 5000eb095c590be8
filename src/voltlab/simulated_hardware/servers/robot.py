"""The simulated synthesis robot: an asyncua OPC UA server in the spirit of OPC UA LADS.

Endpoint ``opc.tcp://{host}:{port}{endpoint_path}`` (default
``opc.tcp://127.0.0.1:4840/voltlab/robot/``). Every method takes String arguments and returns
the JSON reply envelope (:mod:`voltlab.protocol.envelope`) as a String, so refusals carry a code
and a reason a plain OPC UA client can read; the OPC UA status stays Good. Wire faults are drawn
per call as operation ``robot.<Method>``: a timeout holds the reply back, a disconnect drops
every client connection (and with it the sessions) after the command has run.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asyncua import Server, ua
from pydantic import BaseModel, ValidationError

from voltlab.protocol import (
    MAX_COMMAND_BYTES,
    ErrorCode,
    ProtocolError,
    Recipe,
    Reply,
    error_reply,
    ok_reply,
)
from voltlab.protocol.opcua import APPLICATION_URI, METHOD_ARGUMENTS, RobotMethod
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.servers.opcua_security import apply_security, user_manager
from voltlab.simulated_hardware.servers.robot_address_space import RobotAddressSpace
from voltlab.simulated_hardware.servers.robot_jobs import RobotJobs

log = logging.getLogger(__name__)

SERVER_NAME = "voltlab simulated synthesis robot"
WIRE_FAULTS = (FaultKind.TIMEOUT, FaultKind.DISCONNECT)
HANG_S = 60.0
"""How long a call hit by a timeout fault (or a dropped connection) holds its reply, wall s,
unless the server stops first."""


def parse_recipe(text: str) -> Recipe:
    """The recipe in a RecipeJson argument; errors name the argument or the recipe field."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"RecipeJson is not a JSON document: {exc}", "RecipeJson"
        ) from exc
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "RecipeJson must be a JSON object", "RecipeJson")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(["recipe", *(str(part) for part in first["loc"])])
        raise ProtocolError(ErrorCode.INVALID_FIELD, f"{field}: {first['msg']}", field) from exc


class RobotServer:
    def __init__(self, lab: LabContext) -> None:
        self._lab = lab
        self._settings = lab.settings.robot
        self._server: Server | None = None
        self._jobs: RobotJobs | None = None
        self._stopping = asyncio.Event()
        self.port = self._settings.port
        """The bound TCP port (the configured one, or the one picked for port 0)."""

    @property
    def url(self) -> str:
        return f"opc.tcp://{self._settings.host}:{self.port}{self._settings.endpoint_path}"

    def describe(self) -> str:
        security = (
            "Basic256Sha256 SignAndEncrypt, user/password"
            if self._settings.security.enabled
            else "no security"
        )
        return f"synthesis robot (OPC UA): {self.url} ({security})"

    async def start(self) -> None:
        self._stopping.clear()
        server = Server(user_manager=user_manager(self._settings.security))
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name(SERVER_NAME)
        await server.set_application_uri(APPLICATION_URI)
        pki_dir = self._lab.settings.state_dir / "pki"
        await apply_security(server, self._settings.security, pki_dir, self._settings.host)
        space = RobotAddressSpace(server)
        jobs = RobotJobs(self._lab, space)
        await space.build(self._settings, jobs.status(), self._handlers(jobs))
        await server.start()
        assert server.bserver is not None
        self.port = server.bserver.port or self.port
        await jobs.start()
        self._server, self._jobs = server, jobs
        log.info("robot serving on %s", self.url)

    async def stop(self) -> None:
        self._stopping.set()
        if self._jobs is not None:
            await self._jobs.close()
            self._jobs = None
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    def drop_connections(self) -> None:
        """Close every client connection (their sessions and subscriptions go with them)."""
        if self._server is None:
            return
        transports = list(self._server.iserver.asyncio_transports)
        log.warning("robot: dropping %d client connection(s)", len(transports))
        for transport in transports:
            transport.close()

    def _handlers(
        self, jobs: RobotJobs
    ) -> dict[RobotMethod, Callable[..., Awaitable[list[ua.Variant]]]]:
        async def start(job_id: str, recipe_json: str) -> BaseModel:
            return await jobs.submit_synthesis(job_id, parse_recipe(recipe_json))

        async def get_job(job_id: str) -> BaseModel:
            return jobs.get(job_id)

        async def reset() -> dict[str, Any]:
            status = await jobs.reset()
            return {"state": status.state.value, "error": status.error}

        runs: dict[RobotMethod, Callable[..., Awaitable[BaseModel | dict[str, Any]]]] = {
            RobotMethod.START: start,
            RobotMethod.ASSEMBLE_CELL: jobs.submit_assembly,
            RobotMethod.GET_JOB: get_job,
            RobotMethod.STOP: jobs.stop,
            RobotMethod.ABORT: jobs.abort,
            RobotMethod.RESET: reset,
        }
        return {method: self._method(method, run) for method, run in runs.items()}

    def _method(
        self, method: RobotMethod, run: Callable[..., Awaitable[BaseModel | dict[str, Any]]]
    ) -> Callable[..., Awaitable[list[ua.Variant]]]:
        async def handler(_parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant]:
            reply = await self._call(method, run, args)
            fault = self._lab.faults.draw(f"robot.{method}", WIRE_FAULTS)
            if fault is FaultKind.DISCONNECT:
                self.drop_connections()
            if fault is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), HANG_S)
            return [ua.Variant(reply.model_dump_json(), ua.VariantType.String)]

        return handler

    async def _call(
        self,
        method: RobotMethod,
        run: Callable[..., Awaitable[BaseModel | dict[str, Any]]],
        args: tuple[ua.Variant, ...],
    ) -> Reply:
        try:
            values = self._arguments(method, args)
            return ok_reply(None, await run(*values))
        except ProtocolError as exc:
            return error_reply(None, exc)
        except Exception as exc:  # a bug in one command must not take the robot down
            log.exception("robot: %s failed", method)
            return error_reply(None, ProtocolError(ErrorCode.INTERNAL, repr(exc)))

    @staticmethod
    def _arguments(method: RobotMethod, args: tuple[ua.Variant, ...]) -> list[str]:
        """The String values of a call's input arguments, checked for count, type and size."""
        expected = METHOD_ARGUMENTS[method]
        if len(args) != len(expected):
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                f"{method} takes {len(expected)} argument(s) ({', '.join(expected) or 'none'}), "
                f"got {len(args)}",
            )
        values = []
        for name, arg in zip(expected, args, strict=True):
            if arg.VariantType is not ua.VariantType.String or not isinstance(arg.Value, str):
                raise ProtocolError(
                    ErrorCode.INVALID_FIELD,
                    f"{name} must be a String, got {arg.VariantType.name}",
                    name,
                )
            size = len(arg.Value.encode())
            if size > MAX_COMMAND_BYTES:
                raise ProtocolError(
                    ErrorCode.OVERSIZED, f"{name} of {size} bytes exceeds {MAX_COMMAND_BYTES}", name
                )
            values.append(arg.Value)
        return values
