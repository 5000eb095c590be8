"""The simulated synthesis robot over real OPC UA on loopback, driven by a plain asyncua client.

The client side knows nothing of voltlab: it finds nodes by browse name in the robot's namespace
URI and reads the JSON replies with ``json``. Most tests share one server running on its own
event loop in a background thread (asyncua's start-up costs ~1.3 s); tests that need special
settings start their own.
"""

import asyncio
import json
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, Node, ua
from asyncua.ua.uaerrors import UaError

from tests.conftest import LOOPBACK, free_port
from tests.polling import eventually
from voltlab.protocol.opcua import Precursor
from voltlab.simulated_hardware.config import SimSettings, load_sim_settings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.registry import UnknownSampleError
from voltlab.simulated_hardware.servers.robot import RobotServer
from voltlab.simulated_hardware.servers.robot_programs import (
    COOL_RATE_C_PER_MIN,
    RAMP_RATE_C_PER_MIN,
    WEIGH_MIX_TIME_S,
)

pytestmark = pytest.mark.servers

NAMESPACE = "urn:voltlab:simulated:synthesis-robot"
PROGRAM_MANAGER = ("SynthesisRobot", "FunctionalUnitSet", "SynthesisUnit", "ProgramManager")
UNIT = PROGRAM_MANAGER[:-1]
FINAL = {"completed", "stopped", "aborted", "failed"}
RECIPE = {
    "ni": 0.6,
    "mn": 0.2,
    "co": 0.2,
    "li_excess": 0.03,
    "calcination_temperature_c": 850.0,
    "calcination_time_h": 10.0,
}
DEADLINE_S = 10.0
RAMP_S, COOL_S = 825 / RAMP_RATE_C_PER_MIN * 60, 825 / COOL_RATE_C_PER_MIN * 60
STUCK_AT = (
    100 * (WEIGH_MIX_TIME_S + RAMP_S + 5 * 3600) / (WEIGH_MIX_TIME_S + RAMP_S + 10 * 3600 + COOL_S)
)
"""Progress (%) where a stuck synthesis of RECIPE (850 C, 10 h) freezes: half-way through the dwell."""


def recipe_json(**changes: Any) -> str:
    return json.dumps(RECIPE | changes)


class ServerThread:
    """A RobotServer on its own event loop in a daemon thread, like a separate instrument."""

    def __init__(self, settings: SimSettings) -> None:
        self.lab = LabContext.from_settings(settings)
        self.server = RobotServer(self.lab)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        self.run(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self.server.stop())
        leaked = self.run(_tasks_left())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self.lab.close()
        assert not leaked, f"robot server left tasks running: {leaked}"


async def _tasks_left() -> list[str]:
    for _ in range(10):
        await asyncio.sleep(0.01)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not tasks:
            return []
    return [t.get_name() for t in tasks]


def module_settings(tmp: Path, **robot: Any) -> SimSettings:
    return load_sim_settings(
        acceleration=float("inf"), state_dir=tmp, robot={"port": free_port(), **robot}
    )


@pytest.fixture(scope="module")
def robot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(module_settings(tmp_path_factory.mktemp("robot"))) as thread:
        yield thread


class RawRobot:
    """A plain OPC UA view of the robot: nodes by browse name, replies decoded with json."""

    def __init__(self, client: Client, ns: int, manager: Node) -> None:
        self.client, self.ns, self.manager = client, ns, manager

    def path(self, *names: str) -> list[str]:
        return [f"{self.ns}:{name}" for name in names]

    async def node(self, *names: str) -> Node:
        return await self.client.nodes.objects.get_child(self.path(*names))

    async def read(self, *names: str) -> Any:
        return await (await self.node(*names)).read_value()

    async def call(self, method: str, *args: Any) -> dict[str, Any]:
        node = await self.manager.get_child(f"{self.ns}:{method}")
        return json.loads(await self.manager.call_method(node, *args))

    async def wait_job(
        self, job_id: str, until: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """Poll GetJob (deadline-bounded) until ``until(job)`` holds."""
        async with asyncio.timeout(DEADLINE_S):
            while True:
                job = (await self.call("GetJob", job_id))["result"]
                if until(job):
                    return job
                await asyncio.sleep(0.005)

    async def wait_final(self, job_id: str) -> dict[str, Any]:
        return await self.wait_job(job_id, lambda job: job["state"] in FINAL)


def make_client(url: str, timeout: float = 5.0) -> Client:
    client = Client(url, timeout=timeout)
    client.session_timeout = 600_000
    return client


@asynccontextmanager
async def opened(url: str, client: Client | None = None) -> AsyncIterator[RawRobot]:
    client = client or make_client(url)
    async with client:
        ns = await client.get_namespace_index(NAMESPACE)
        manager = await client.nodes.objects.get_child([f"{ns}:{n}" for n in PROGRAM_MANAGER])
        yield RawRobot(client, ns, manager)


@pytest.fixture
async def raw(robot: ServerThread) -> AsyncIterator[RawRobot]:
    """A client of the shared robot; afterwards the robot is made ready again for the next test
    (over a fresh connection, as a test may have had its own dropped)."""
    async with opened(robot.server.url) as view:
        yield view
    async with opened(robot.server.url) as cleanup:
        await cleanup.call("Reset")
        if active := await cleanup.read(*PROGRAM_MANAGER, "ActiveJobId"):
            await cleanup.call("Abort", active)


def error_of(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"] is False, reply
    return reply["error"]


# -- a generic client finds its way -------------------------------------------------------------


async def test_generic_client_browses_the_device_tree(raw: RawRobot) -> None:
    objects = {
        (await n.read_browse_name()).Name for n in await raw.client.nodes.objects.get_children()
    }
    assert "SynthesisRobot" in objects
    unit = await raw.node(*UNIT)
    children = {(await n.read_browse_name()).Name for n in await unit.get_children()}
    assert {"CurrentState", "LastError", "ProgramManager", "Furnace", "Inventory"} <= children
    state = await raw.node(*UNIT, "CurrentState")
    assert await state.read_node_class() == ua.NodeClass.Variable
    assert await state.read_data_type() == ua.NodeId(ua.ObjectIds.String)
    assert await raw.read(*UNIT, "CurrentState") == "Idle"
    assert await raw.read("SynthesisRobot", "DeviceState") == "Ready"
    progress = await raw.node(*PROGRAM_MANAGER, "Progress")
    assert await progress.read_data_type() == ua.NodeId(ua.ObjectIds.Double)
    assert await raw.read(*UNIT, "Furnace", "MaxTemperature") == 1000.0
    assert await raw.read(*UNIT, "Inventory", "Li2CO3") > 0
    assert await raw.read("SynthesisRobot", "Identification", "Manufacturer") == "voltlab"
    start = await raw.node(*PROGRAM_MANAGER, "Start")
    assert await start.read_node_class() == ua.NodeClass.Method
    inputs = await (await start.get_child("0:InputArguments")).read_value()
    assert [a.Name for a in inputs] == ["JobId", "RecipeJson"]
    assert all(a.Description.Text and a.DataType == ua.NodeId(ua.ObjectIds.String) for a in inputs)
    outputs = await (await start.get_child("0:OutputArguments")).read_value()
    assert [a.Name for a in outputs] == ["ReplyJson"]


async def test_command_line_tools_list_and_read(robot: ServerThread, raw: RawRobot) -> None:
    bindir = Path(sys.executable).parent
    uals, uaread = shutil.which("uals", path=bindir), shutil.which("uaread", path=bindir)
    assert uals and uaread, f"asyncua command-line tools missing in {bindir}"
    path = ",".join(["0:Objects", *raw.path(*UNIT, "CurrentState")])
    url = robot.server.url
    listing, state = await asyncio.gather(
        run_tool(uals, "-u", url, "-n", "i=85", "--timeout", "5"),
        run_tool(uaread, "-u", url, "-p", path, "--timeout", "5"),
    )
    assert "SynthesisRobot" in listing
    assert state.strip() == "Idle"


async def run_tool(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(30):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return out.decode()


# -- jobs ---------------------------------------------------------------------------------------


class Recorder:
    """Collects data changes and events of a subscription."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.events: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.values.append(value)
        self.changed.set()

    def event_notification(self, event: Any) -> None:
        self.events.append((event.JobId, event.JobState))
        self.changed.set()

    async def wait_until(self, predicate: Any) -> None:
        async with asyncio.timeout(DEADLINE_S):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def test_subscribers_see_state_changes_and_job_events(raw: RawRobot) -> None:
    recorder = Recorder()
    sub = await raw.client.create_subscription(10, recorder)
    await sub.subscribe_data_change(await raw.node(*UNIT, "CurrentState"), queuesize=100)
    event_type = await raw.client.nodes.base_event_type.get_child(f"{raw.ns}:JobStateChangedEvent")
    await sub.subscribe_events(await raw.node("SynthesisRobot"), event_type)
    await recorder.wait_until(lambda: recorder.values == ["Idle"])

    reply = await raw.call("Start", "sub-1", recipe_json())
    assert reply["ok"] and reply["result"]["job_id"] == "sub-1"
    await recorder.wait_until(lambda: ("sub-1", "completed") in recorder.events)
    await recorder.wait_until(lambda: recorder.values[-1] == "Idle")
    assert [s for j, s in recorder.events if j == "sub-1"] == ["queued", "running", "completed"]
    assert recorder.values[:2] == ["Idle", "Running"]
    await sub.delete()


async def test_resubmitting_a_job_id_returns_the_same_job(
    robot: ServerThread, raw: RawRobot
) -> None:
    recorder = Recorder()
    sub = await raw.client.create_subscription(10, recorder)
    event_type = await raw.client.nodes.base_event_type.get_child(f"{raw.ns}:JobStateChangedEvent")
    await sub.subscribe_events(await raw.node("SynthesisRobot"), event_type)

    first = await raw.call("Start", "idem-1", recipe_json())
    second = await raw.call("Start", "idem-1", recipe_json())
    assert first["ok"] and second["ok"]
    assert second["result"]["job_id"] == "idem-1"
    done = await raw.wait_final("idem-1")
    third = await raw.call("Start", "idem-1", recipe_json())
    assert done["state"] == "completed" and third["result"] == done
    await recorder.wait_until(lambda: ("idem-1", "completed") in recorder.events)
    assert [s for j, s in recorder.events if j == "idem-1"] == ["queued", "running", "completed"]
    powder = robot.lab.registry.powder(done["product_id"])
    assert powder.mass_g == done["mass_g"] == 5.0
    assert powder.recipe.calcination_temperature_c == RECIPE["calcination_temperature_c"]
    await sub.delete()


async def test_a_known_id_with_other_parameters_is_a_conflict(raw: RawRobot) -> None:
    assert (await raw.call("Start", "conflict-1", recipe_json()))["ok"]
    other = error_of(await raw.call("Start", "conflict-1", recipe_json(calcination_time_h=3.0)))
    assert other["code"] == "JOB_CONFLICT" and "conflict-1" in other["message"]
    await raw.wait_final("conflict-1")
    as_cell = error_of(await raw.call("AssembleCell", "conflict-1", "conflict-1"))
    assert as_cell["code"] == "JOB_CONFLICT"


async def test_assemble_cell_registers_a_cell(robot: ServerThread, raw: RawRobot) -> None:
    await raw.call("Start", "powder-for-cell", recipe_json())
    await raw.wait_final("powder-for-cell")
    reply = await raw.call("AssembleCell", "cell-1", "powder-for-cell")
    assert reply["ok"] and reply["result"]["kind"] == "cell_assembly"
    job = await raw.wait_final("cell-1")
    assert job["state"] == "completed" and job["source_sample_id"] == "powder-for-cell"
    assert robot.lab.registry.cell_powder(job["product_id"]).sample_id == "powder-for-cell"
    assert (await raw.call("AssembleCell", "cell-1", "powder-for-cell"))["result"] == job
    unknown = error_of(await raw.call("AssembleCell", "cell-2", "no-such-powder"))
    assert unknown["code"] == "UNKNOWN_SAMPLE" and "no-such-powder" in unknown["message"]


# -- bad input ----------------------------------------------------------------------------------

BAD_CALLS = [
    (("Start", "bad-1", "{not json"), "BAD_MESSAGE", "RecipeJson"),
    (("Start", "bad-1", "[1, 2]"), "BAD_MESSAGE", "RecipeJson"),
    (("Start", "bad-1", ua.Variant(7, ua.VariantType.Int32)), "INVALID_FIELD", "RecipeJson"),
    (("Start", "bad-1", recipe_json(ni="lots")), "INVALID_FIELD", "recipe.ni"),
    (("Start", "bad-1", recipe_json(ni=0.9)), "INVALID_FIELD", "recipe"),
    (("Start", "bad-1", recipe_json(colour="blue")), "INVALID_FIELD", "recipe.colour"),
    (("Start", "bad id!", recipe_json()), "INVALID_FIELD", "JobId"),
    (("Start", "bad-1"), "INVALID_FIELD", None),
    (("Start", "bad-1", "x" * 1_048_577), "OVERSIZED", "RecipeJson"),
    (("GetJob", "never-submitted"), "UNKNOWN_JOB", None),
    (("Abort", "never-submitted"), "UNKNOWN_JOB", None),
]


@pytest.mark.parametrize(("args", "code", "field"), BAD_CALLS)
async def test_bad_input_gets_an_error_naming_the_problem(
    raw: RawRobot, args: tuple[Any, ...], code: str, field: str | None
) -> None:
    error = error_of(await raw.call(*args))
    assert error["code"] == code
    assert error["field"] == field
    if field:
        assert field.split(".")[-1] in error["message"]


async def test_server_keeps_serving_after_garbage_and_unknown_methods(
    robot: ServerThread, raw: RawRobot
) -> None:
    port = robot.lab.settings.robot.port
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(b"HELF" + (8).to_bytes(4, "little") + b"garbage")  # a header claiming no body
    async with asyncio.timeout(DEADLINE_S):
        assert await reader.read() == b""  # the server hangs up on the garbler only
    writer.close()
    _, junk = await asyncio.open_connection(LOOPBACK, port)
    junk.write(b"HELF" + (40).to_bytes(4, "little") + bytes(range(32)))  # an unparsable Hello
    await junk.drain()
    missing = ua.NodeId(
        "SynthesisRobot.FunctionalUnitSet.SynthesisUnit.ProgramManager.Explode", raw.ns
    )
    with pytest.raises(UaError):
        await raw.manager.call_method(missing)
    async with opened(robot.server.url) as other:
        assert await other.read(*UNIT, "CurrentState") in ("Idle", "Running")
    assert error_of(await raw.call("GetJob", "still-there?"))["code"] == "UNKNOWN_JOB"
    junk.close()


async def test_interlocks_refuse_with_the_limit(raw: RawRobot) -> None:
    hot = error_of(await raw.call("Start", "hot", recipe_json(calcination_temperature_c=1150)))
    assert hot["code"] == "INTERLOCK" and "1150" in hot["message"] and "1000" in hot["message"]
    assert hot["field"] == "recipe.calcination_temperature_c"
    cold = error_of(await raw.call("Start", "cold", recipe_json(calcination_temperature_c=200)))
    assert cold["code"] == "INTERLOCK" and "300" in cold["message"]
    long = error_of(await raw.call("Start", "long", recipe_json(calcination_time_h=60)))
    assert long["code"] == "INTERLOCK" and "48" in long["message"]
    assert error_of(await raw.call("GetJob", "hot"))["code"] == "UNKNOWN_JOB"


async def test_inventory_runs_out(sim_settings: SimSettings) -> None:
    """In the test's own loop, so the leak guard also checks that stop() ends every task."""
    settings = sim_settings.model_copy(
        update={
            "robot": sim_settings.robot.model_copy(
                update={"inventory_g": {p: 100.0 for p in Precursor} | {"Li2CO3": 3.0}}
            )
        }
    )
    lab = LabContext.from_settings(settings)
    server = RobotServer(lab)
    await server.start()
    try:
        async with opened(server.url) as raw:
            assert (await raw.call("Start", "inv-1", recipe_json()))["ok"]
            left = await raw.read(*UNIT, "Inventory", "Li2CO3")
            assert 0 < left < 3.0
            short = error_of(await raw.call("Start", "inv-2", recipe_json()))
            assert short["code"] == "INTERLOCK" and "Li2CO3" in short["message"]
            assert short["field"] == "inventory.Li2CO3"
            assert (await raw.wait_final("inv-1"))["state"] == "completed"
    finally:
        await server.stop()
        lab.close()


async def test_stop_is_not_held_up_by_a_hung_call(sim_settings: SimSettings) -> None:
    lab = LabContext.from_settings(sim_settings)
    server = RobotServer(lab)
    await server.start()
    lab.faults.schedule(FaultKind.TIMEOUT, "robot.GetJob")
    try:
        async with opened(server.url, make_client(server.url, timeout=30)) as raw:
            call = asyncio.create_task(raw.call("GetJob", "anything"))
            await eventually(lambda: bool(lab.faults.injected), DEADLINE_S, interval_s=0.005)
            async with asyncio.timeout(5):
                await server.stop()
            await asyncio.wait({call}, timeout=5)  # released with the reply, or dropped
            assert call.done() and (call.exception() or call.result()) is not None
    finally:
        await server.stop()
        lab.close()


# -- faults, stop, abort, reset -----------------------------------------------------------------


async def test_stuck_job_then_stop_keeps_a_partial_powder(
    robot: ServerThread, raw: RawRobot
) -> None:
    robot.lab.faults.schedule(FaultKind.STUCK_JOB, "robot.synthesis")
    await raw.call("Start", "stuck-stop", recipe_json())
    job = await raw.wait_job("stuck-stop", lambda job: job["progress"] >= STUCK_AT - 1e-6)
    frozen = job["progress"]
    await asyncio.sleep(0.05)  # instrument time is unbounded: a live job would have finished
    assert (await raw.call("GetJob", "stuck-stop"))["result"]["progress"] == frozen
    assert await raw.read(*UNIT, "CurrentState") == "Running"
    assert await raw.read(*PROGRAM_MANAGER, "ActiveJobId") == "stuck-stop"
    queued = await raw.call("Start", "behind-stuck", recipe_json())
    assert queued["result"]["state"] == "queued"
    inventory = await raw.read(*UNIT, "Inventory", "NiOH2")
    stopped = await raw.call("Stop", "behind-stuck")
    assert stopped["result"]["state"] == "stopped"
    assert await raw.read(*UNIT, "Inventory", "NiOH2") > inventory  # given back

    assert (await raw.call("Stop", "stuck-stop"))["ok"]
    job = await raw.wait_final("stuck-stop")
    assert job["state"] == "stopped" and job["progress"] < 100
    powder = robot.lab.registry.powder("stuck-stop")
    assert powder.recipe.calcination_time_h == pytest.approx(RECIPE["calcination_time_h"] / 2)
    with pytest.raises(UnknownSampleError):
        robot.lab.registry.powder("behind-stuck")


async def test_abort_ends_a_stuck_job_at_once(robot: ServerThread, raw: RawRobot) -> None:
    robot.lab.faults.schedule(FaultKind.STUCK_JOB, "robot.synthesis")
    await raw.call("Start", "stuck-abort", recipe_json())
    await raw.wait_job("stuck-abort", lambda job: job["state"] == "running")
    aborted = await raw.call("Abort", "stuck-abort")
    assert aborted["result"]["state"] == "aborted"
    assert await raw.read(*UNIT, "CurrentState") == "Idle"
    assert await raw.read(*UNIT, "Furnace", "Temperature") == 25.0
    with pytest.raises(UnknownSampleError):
        robot.lab.registry.powder("stuck-abort")
    assert (await raw.call("Abort", "stuck-abort"))["result"]["state"] == "aborted"


async def test_failed_synthesis_reports_a_reason(robot: ServerThread, raw: RawRobot) -> None:
    robot.lab.faults.schedule(FaultKind.FAILED_SYNTHESIS, "robot.synthesis")
    await raw.call("Start", "cracked", recipe_json())
    job = await raw.wait_final("cracked")
    assert job["state"] == "failed" and job["error"] == "crucible cracked at 850 C"
    assert "crucible cracked" in await raw.read(*UNIT, "LastError")
    assert await raw.read("SynthesisRobot", "DeviceState") == "Ready"
    with pytest.raises(UnknownSampleError):
        robot.lab.registry.powder("cracked")


async def test_device_error_holds_the_robot_until_reset(robot: ServerThread, raw: RawRobot) -> None:
    robot.lab.faults.schedule(FaultKind.DEVICE_ERROR, "robot.synthesis")
    await raw.call("Start", "tripped", recipe_json())
    job = await raw.wait_final("tripped")
    assert job["state"] == "failed" and "device error" in job["error"]
    assert await raw.read("SynthesisRobot", "DeviceState") == "Error"
    assert await raw.read(*UNIT, "CurrentState") == "Error"
    refused = error_of(await raw.call("Start", "while-tripped", recipe_json()))
    assert refused["code"] == "DEVICE_ERROR" and "Reset" in refused["message"]
    assert (await raw.call("GetJob", "tripped"))["ok"]
    reset = await raw.call("Reset")
    assert reset["result"] == {"state": "Idle", "error": None}
    assert await raw.read("SynthesisRobot", "DeviceState") == "Ready"
    assert await raw.read(*UNIT, "LastError") == ""
    await raw.call("Start", "after-reset", recipe_json())
    assert (await raw.wait_final("after-reset"))["state"] == "completed"


async def test_timeout_fault_holds_the_reply(robot: ServerThread, raw: RawRobot) -> None:
    robot.lab.faults.schedule(FaultKind.TIMEOUT, "robot.GetJob")
    await raw.call("Start", "slow-reply", recipe_json())
    async with opened(robot.server.url, make_client(robot.server.url, timeout=0.5)) as hung:
        with pytest.raises(TimeoutError):
            await hung.call("GetJob", "slow-reply")
        assert (await raw.call("GetJob", "slow-reply"))["ok"]  # others are still served


async def test_disconnect_fault_drops_clients_and_new_ones_connect(
    robot: ServerThread, raw: RawRobot
) -> None:
    robot.lab.faults.schedule(FaultKind.DISCONNECT, "robot.Start")
    with pytest.raises((ConnectionError, UaError, TimeoutError)):
        await raw.call("Start", "dropped", recipe_json())
    async with opened(robot.server.url) as again:
        job = (await again.call("Start", "dropped", recipe_json()))["result"]
        assert job["job_id"] == "dropped"  # the command ran before the drop; retrying is safe
        assert (await again.wait_final("dropped"))["state"] == "completed"
