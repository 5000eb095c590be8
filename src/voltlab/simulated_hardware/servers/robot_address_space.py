"""The robot's OPC UA address space (layout in :mod:`voltlab.protocol.opcua`) and its updates.

Nodes carry typed values, descriptions, identification properties and named, described method
arguments, so a generic OPC UA client (UaExpert, asyncua's ``uals``) can find its way without
knowing voltlab. String NodeIds are the dotted browse path below ``Objects``.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from asyncua import Node, Server, ua
from asyncua.common.events import Event

from voltlab.protocol import PROTOCOL_VERSION
from voltlab.protocol import opcua as names
from voltlab.protocol.jobs import JobState
from voltlab.protocol.opcua import Precursor, RobotMethod
from voltlab.protocol.robot import RobotJob
from voltlab.simulated_hardware.config import RobotSettings
from voltlab.simulated_hardware.servers.robot_jobs import RobotStatus

MethodHandler = Callable[..., Awaitable[list[ua.Variant]]]
"""``handler(parent_nodeid, *input_variants) -> [reply_variant]``"""

MANUFACTURER = "voltlab"
MODEL = "Simulated synthesis robot"

METHOD_DESCRIPTIONS = {
    RobotMethod.START: "Submit a synthesis; resubmitting a known JobId returns the same job",
    RobotMethod.ASSEMBLE_CELL: "Build a coin cell (id = JobId) from a powder sample",
    RobotMethod.GET_JOB: "Read a job",
    RobotMethod.STOP: "End a job early, keeping what it made so far",
    RobotMethod.ABORT: "End a job now and discard it",
    RobotMethod.RESET: "Clear the robot's error state",
}
ARGUMENT_DESCRIPTIONS = {
    "JobId": "Client-chosen job id, [A-Za-z0-9_.:-]{1,128}",
    "RecipeJson": "Recipe as JSON: ni, mn, co, li_excess, calcination_temperature_c, "
    "calcination_time_h, dopant, dopant_fraction",
    "SampleId": "Powder sample id (the synthesis job id that made it)",
    names.REPLY_ARGUMENT: "JSON reply: {ok, result: job | error: {code, message, field}}",
}
SEVERITY = {JobState.FAILED: 700, JobState.ABORTED: 500, JobState.STOPPED: 300}
"""OPC UA event severity (1-1000) of unusual job ends; others are 100."""


def _argument(name: str) -> ua.Argument:
    return ua.Argument(
        Name=name,
        DataType=ua.NodeId(ua.ObjectIds.String),
        ValueRank=-1,
        ArrayDimensions=[],
        Description=ua.LocalizedText(ARGUMENT_DESCRIPTIONS[name]),
    )


@dataclass
class _Builder:
    idx: int

    def nodeid(self, *path: str) -> ua.NodeId:
        return ua.NodeId(".".join(path), self.idx)

    async def obj(self, parent: Node, path: tuple[str, ...], folder: bool = False) -> Node:
        objtype = ua.ObjectIds.FolderType if folder else ua.ObjectIds.BaseObjectType
        return await parent.add_object(
            self.nodeid(*path), ua.QualifiedName(path[-1], self.idx), objtype
        )

    async def var(
        self,
        parent: Node,
        path: tuple[str, ...],
        value: Any,
        vtype: ua.VariantType,
        description: str,
        prop: bool = False,
    ) -> Node:
        add = parent.add_property if prop else parent.add_variable
        node = await add(self.nodeid(*path), ua.QualifiedName(path[-1], self.idx), value, vtype)
        await node.write_attribute(
            ua.AttributeIds.Description,
            ua.DataValue(ua.Variant(ua.LocalizedText(description), ua.VariantType.LocalizedText)),
        )
        return node


class RobotAddressSpace:
    """Builds the nodes once, then mirrors the robot's status and job changes onto them.

    Implements :class:`~voltlab.simulated_hardware.servers.robot_jobs.RobotListener`.
    """

    def __init__(self, server: Server) -> None:
        self._server = server
        self._nodes: dict[str, Node] = {}
        self._written: dict[str, Any] = {}
        self._event: Event | None = None
        self._emit: Callable[[], Awaitable[None]] | None = None
        self._event_lock = asyncio.Lock()

    async def build(
        self,
        settings: RobotSettings,
        status: RobotStatus,
        handlers: Mapping[RobotMethod, MethodHandler],
    ) -> None:
        idx = await self._server.register_namespace(names.NAMESPACE_URI)
        b = _Builder(idx)
        device_path = (names.DEVICE,)
        device = await b.obj(self._server.nodes.objects, device_path)
        ident_path = (*device_path, names.IDENTIFICATION)
        ident = await b.obj(device, ident_path, folder=True)
        for name, value in (
            ("Manufacturer", MANUFACTURER),
            ("Model", MODEL),
            ("SerialNumber", "SIM-0001"),
            ("ProtocolVersion", PROTOCOL_VERSION),
        ):
            await b.var(ident, (*ident_path, name), value, ua.VariantType.String, name, prop=True)
        S, D = ua.VariantType.String, ua.VariantType.Double
        await self._add(b, device, (*device_path, names.DEVICE_STATE), "", S, "Ready | Error")
        units_path = (*device_path, names.FUNCTIONAL_UNIT_SET)
        units = await b.obj(device, units_path, folder=True)
        unit_path = (*units_path, names.FUNCTIONAL_UNIT)
        unit = await b.obj(units, unit_path)
        states = ", ".join(names.RobotState)
        await self._add(b, unit, (*unit_path, names.CURRENT_STATE), "", S, states)
        await self._add(b, unit, (*unit_path, names.LAST_ERROR), "", S, "Last failure, '' if none")
        pm_path = (*unit_path, names.PROGRAM_MANAGER)
        pm = await b.obj(unit, pm_path)
        await self._add(b, pm, (*pm_path, names.ACTIVE_JOB_ID), "", S, "Running job, '' if idle")
        await self._add(b, pm, (*pm_path, names.PROGRESS), 0.0, D, "Running job progress, %")
        for method in RobotMethod:
            node = await pm.add_method(
                b.nodeid(*pm_path, method),
                ua.QualifiedName(method, idx),
                handlers[method],
                [_argument(arg) for arg in names.METHOD_ARGUMENTS[method]],
                [_argument(names.REPLY_ARGUMENT)],
            )
            await node.write_attribute(
                ua.AttributeIds.Description,
                ua.DataValue(ua.Variant(ua.LocalizedText(METHOD_DESCRIPTIONS[method]))),
            )
        furnace_path = (*unit_path, names.FURNACE)
        furnace = await b.obj(unit, furnace_path)
        await self._add(b, furnace, (*furnace_path, names.FURNACE_TEMPERATURE), 0.0, D, "C")
        await self._add(b, furnace, (*furnace_path, names.FURNACE_SETPOINT), 0.0, D, "C")
        for name, limit in (
            (names.FURNACE_MIN_TEMPERATURE, settings.min_furnace_temperature_c),
            (names.FURNACE_MAX_TEMPERATURE, settings.max_furnace_temperature_c),
        ):
            await b.var(furnace, (*furnace_path, name), limit, D, "Interlock limit, C", prop=True)
        inventory_path = (*unit_path, names.INVENTORY)
        inventory = await b.obj(unit, inventory_path, folder=True)
        for precursor in Precursor:
            path = (*inventory_path, precursor.value)
            await self._add(b, inventory, path, 0.0, D, f"{precursor} left, g")
        await self._add_event_type(idx, device)
        await self.status_changed(status)

    async def _add(
        self,
        b: _Builder,
        parent: Node,
        path: tuple[str, ...],
        value: Any,
        vtype: ua.VariantType,
        description: str,
    ) -> None:
        self._nodes[path[-1]] = await b.var(parent, path, value, vtype, description)

    async def _add_event_type(self, idx: int, device: Node) -> None:
        await device.write_attribute(
            ua.AttributeIds.EventNotifier,
            ua.DataValue(ua.Variant(ua.EventNotifier.SubscribeToEvents, ua.VariantType.Byte)),
        )
        etype = await self._server.create_custom_event_type(
            idx,
            names.JOB_EVENT_TYPE,
            ua.ObjectIds.BaseEventType,
            [(field, ua.VariantType.String) for field in names.JOB_EVENT_FIELDS],
        )
        generator = await self._server.get_event_generator(etype, device)
        self._event, self._emit = generator.event, generator.trigger

    async def status_changed(self, status: RobotStatus) -> None:
        values: dict[str, Any] = {
            names.DEVICE_STATE: "Error" if status.error else "Ready",
            names.CURRENT_STATE: status.state.value,
            names.LAST_ERROR: status.last_error,
            names.ACTIVE_JOB_ID: status.active_job_id,
            names.PROGRESS: round(status.progress, 3),
            names.FURNACE_TEMPERATURE: round(status.temperature_c, 2),
            names.FURNACE_SETPOINT: status.setpoint_c,
        } | {p.value: round(g, 3) for p, g in status.inventory_g.items()}
        for name, value in values.items():
            if self._written.get(name) != value:
                self._written[name] = value
                await self._nodes[name].write_value(value, self._vtype(value))

    @staticmethod
    def _vtype(value: Any) -> ua.VariantType:
        return ua.VariantType.String if isinstance(value, str) else ua.VariantType.Double

    async def job_changed(self, job: RobotJob) -> None:
        """Emit a JobStateChangedEvent; one at a time, as asyncua's generator reuses one event."""
        assert self._event is not None and self._emit is not None
        async with self._event_lock:
            self._event.JobId = job.job_id
            self._event.JobState = job.state.value
            self._event.Message = ua.LocalizedText(
                f"job {job.job_id} {job.state}" + (f": {job.error}" if job.error else "")
            )
            self._event.Severity = SEVERITY.get(job.state, 100)
            await self._emit()
