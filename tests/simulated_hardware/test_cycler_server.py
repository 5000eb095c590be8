"""The simulated cycler's command socket: every command, idempotency, interlocks, bad input,
wire faults, device faults and CURVE, over real DEALER sockets on loopback."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from tests.simulated_hardware.cycler_harness import (
    CELL,
    CELL_ID,
    POWDER_ID,
    Client,
    Subscriber,
    running_cycler,
    settings_with,
    shared_pool,
    start_params,
    zmq_context,
)
from voltlab.protocol import PROTOCOL_VERSION, ErrorCode, ProtocolError, decode_reply
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.servers.cell_pool import CellPool
from voltlab.simulated_hardware.servers.cycler import CyclerServer

pytestmark = pytest.mark.servers

SLOW = 1e4
"""Acceleration at which the short protocol streams for ~9 s: jobs stay running during a test."""


pool = pytest.fixture(scope="module")(shared_pool)
zctx = pytest.fixture(zmq_context)


@pytest.fixture
async def cycler(sim_settings: SimSettings, pool: CellPool) -> AsyncIterator[CyclerServer]:
    async with running_cycler(settings_with(sim_settings, acceleration=SLOW), pool) as (server, _):
        yield server


@pytest.fixture
def client(cycler: CyclerServer, zctx: zmq.asyncio.Context) -> Client:
    return Client(zctx, cycler.command_endpoint)


async def test_every_command_round_trips(client: Client) -> None:
    listing = await client.ok("list_channels")
    assert [c["channel"] for c in listing["channels"]] == list(range(16))
    assert {c["state"] for c in listing["channels"]} == {"idle"}

    job = await client.ok("start", **start_params("job-a", channel=3))
    assert (job["job_id"], job["channel"], job["state"]) == ("job-a", 3, "running")
    assert job["cell"] == CELL and job["protocol"]["cycles"] == 2
    status = await client.ok("status", channel=3)
    assert status == {"channel": 3, "state": "running", "job_id": "job-a", "error": None}
    assert (await client.ok("job", job_id="job-a"))["job_id"] == "job-a"

    stopped = await client.ok("stop", job_id="job-a")
    assert stopped["state"] == "stopped"
    fetched = await client.ok("fetch", job_id="job-a", from_seq=0, max_points=10)
    assert fetched["job_id"] == "job-a" and fetched["final"] == (stopped["points"] <= 10)
    assert fetched["total_points"] == stopped["points"]
    assert (await client.ok("stop", job_id="job-a"))["state"] == "stopped"  # idempotent
    assert (await client.ok("status", channel=3))["state"] == "idle"
    reset = await client.ok("reset", channel=3)
    assert reset == {"channel": 3, "state": "idle", "job_id": "job-a", "error": None}


async def test_start_is_idempotent_and_conflicts_are_refused(client: Client) -> None:
    first = await client.ok("start", **start_params("job-b"))
    again = await client.ok("start", **start_params("job-b"))
    assert again["job_id"] == first["job_id"] and again["state"] == "running"

    conflict = await client.error("start", **start_params("job-b", channel=1))
    assert conflict.code is ErrorCode.JOB_CONFLICT and "job-b" in conflict.message
    busy = await client.error("start", **start_params("job-c", channel=0))
    assert busy.code is ErrorCode.BUSY and "job-b" in busy.message
    await client.ok("stop", job_id="job-b")
    assert (await client.ok("start", **start_params("job-c")))["state"] == "running"
    await client.ok("stop", job_id="job-c")


async def test_unknown_channel_job_and_sample_are_named(client: Client) -> None:
    err = await client.error("status", channel=16)
    assert err.code is ErrorCode.UNKNOWN_CHANNEL and "0-15" in err.message
    err = await client.error("start", **start_params("job-d", channel=99))
    assert err.code is ErrorCode.UNKNOWN_CHANNEL and err.field == "params.channel"
    for command in ("job", "stop", "fetch"):
        err = await client.error(command, job_id="nope")
        assert err.code is ErrorCode.UNKNOWN_JOB and "'nope'" in err.message
    err = await client.error(
        "start", **(start_params("job-e") | {"cell": {"cell_id": "ghost", "sample_id": POWDER_ID}})
    )
    assert err.code is ErrorCode.UNKNOWN_SAMPLE and "ghost" in err.message
    wrong_powder = {"cell_id": CELL_ID, "sample_id": "powder-9"}
    err = await client.error("start", **(start_params("job-e") | {"cell": wrong_powder}))
    assert err.code is ErrorCode.UNKNOWN_SAMPLE and POWDER_ID in err.message


@pytest.mark.parametrize(
    ("protocol", "field", "limit"),
    [
        ({"v_max": 4.6}, "v_max", "v_max_limit 4.5 V"),
        ({"v_min": 1.5}, "v_min", "v_min_limit 2 V"),
        ({"charge_c_rate": 12.0}, "charge_c_rate", "max_c_rate 10C"),
        ({"formation_c_rate": 10.5}, "formation_c_rate", "max_c_rate 10C"),
    ],
)
async def test_interlocks_refuse_with_the_limit(
    client: Client, protocol: dict[str, float], field: str, limit: str
) -> None:
    err = await client.error("start", **start_params("job-f", **protocol))
    assert err.code is ErrorCode.INTERLOCK
    assert err.field == f"params.protocol.{field}" and limit in err.message
    assert (await client.error("job", job_id="job-f")).code is ErrorCode.UNKNOWN_JOB


async def test_current_interlock_uses_the_cell_capacity(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    settings = settings_with(sim_settings, acceleration=SLOW, max_current_a=0.005)
    async with running_cycler(settings, pool) as (server, _):
        client = Client(zctx, server.command_endpoint)
        err = await client.error("start", **start_params("job-g", charge_c_rate=2.5))
        assert err.code is ErrorCode.INTERLOCK and "max_current_a 0.005 A" in err.message
        assert "mAh cell" in err.message and err.field == "params.protocol.charge_c_rate"
        assert (await client.ok("start", **start_params("job-g", charge_c_rate=1.0)))["state"]
        await client.ok("stop", job_id="job-g")


async def test_bad_input_gets_named_errors_while_others_are_served(
    cycler: CyclerServer, zctx: zmq.asyncio.Context
) -> None:
    bad, good = Client(zctx, cycler.command_endpoint), Client(zctx, cycler.command_endpoint)
    envelope = {"v": PROTOCOL_VERSION, "msg_id": "m1"}
    cases: list[tuple[bytes, ErrorCode, str]] = [
        (b"\xff\xfe\x00garbled", ErrorCode.BAD_MESSAGE, "UTF-8 JSON"),
        (b"{not json", ErrorCode.BAD_MESSAGE, "JSON"),
        (b"x" * (2 * 1_048_576), ErrorCode.OVERSIZED, "exceeds"),
        (
            json.dumps(envelope | {"v": "0", "command": "status"}).encode(),
            ErrorCode.VERSION_MISMATCH,
            "'0'",
        ),
        (
            json.dumps(envelope | {"command": "explode"}).encode(),
            ErrorCode.UNKNOWN_COMMAND,
            "explode",
        ),
        (
            json.dumps(envelope | {"command": "status", "params": {"channel": "three"}}).encode(),
            ErrorCode.INVALID_FIELD,
            "params.channel",
        ),
        (
            json.dumps(
                envelope | {"command": "fetch", "params": {"job_id": "j", "from_seq": -1}}
            ).encode(),
            ErrorCode.INVALID_FIELD,
            "params.from_seq",
        ),
        (
            json.dumps(
                envelope | {"command": "start", "params": start_params("j") | {"extra": 1}}
            ).encode(),
            ErrorCode.INVALID_FIELD,
            "params.extra",
        ),
    ]
    for payload, code, words in cases:
        await bad.send_raw(payload)
        await good.send("list_channels")
        reply = json.loads(await bad.receive())
        assert reply["ok"] is False and reply["error"]["code"] == code, payload[:40]
        assert words in reply["error"]["message"]
        assert json.loads(await good.receive())["ok"] is True


@pytest.mark.parametrize(
    "kind",
    [
        FaultKind.TIMEOUT,
        FaultKind.CORRUPT_MESSAGE,
        FaultKind.TRUNCATED_MESSAGE,
        FaultKind.DISCONNECT,
    ],
)
async def test_wire_faults_on_commands_then_a_new_client_is_served(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context, kind: FaultKind
) -> None:
    async with running_cycler(sim_settings, pool) as (server, lab):
        lab.faults.schedule(kind, "cycler.status")
        victim = Client(zctx, server.command_endpoint)
        await victim.send("status", channel=0)
        if kind in (FaultKind.TIMEOUT, FaultKind.DISCONNECT):
            with pytest.raises(TimeoutError):
                await victim.receive(timeout_s=0.5)
        else:
            with pytest.raises(ProtocolError, match="BAD_MESSAGE"):
                decode_reply(await victim.receive())
        fresh = Client(zctx, server.command_endpoint)
        assert (await fresh.ok("status", channel=0))["state"] == "idle"
        assert [f.kind for f in lab.faults.injected] == [kind]


async def test_device_error_at_start_holds_the_channel_until_reset(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    async with running_cycler(settings_with(sim_settings, acceleration=float("inf")), pool) as (
        server,
        lab,
    ):
        client = Client(zctx, server.command_endpoint)
        await client.ok("start", **start_params("clean", channel=1))
        total = (await client.wait_job("clean", "completed"))["points"]

        lab.faults.schedule(FaultKind.DEVICE_ERROR, "cycler.start")
        await client.ok("start", **start_params("tripped", channel=2))
        failed = await client.wait_job("tripped", "failed")
        assert "device error" in failed["error"] and 0 < failed["points"] < total
        status = await client.ok("status", channel=2)
        assert status["state"] == "error" and "tripped" in status["error"]
        refused = await client.error("start", **start_params("next", channel=2))
        assert refused.code is ErrorCode.DEVICE_ERROR and "reset" in refused.message
        tail = await client.ok("fetch", job_id="tripped", from_seq=failed["points"] - 1)
        assert len(tail["time_s"]) == 1 and tail["final"] is True

        assert (await client.ok("reset", channel=2))["state"] == "idle"
        await client.ok("start", **start_params("next", channel=2))
        assert (await client.wait_job("next", "completed"))["points"] == total


async def test_stuck_job_stays_running_without_points_until_stopped(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    async with running_cycler(settings_with(sim_settings, acceleration=float("inf")), pool) as (
        server,
        lab,
    ):
        client = Client(zctx, server.command_endpoint)
        await client.ok("start", **start_params("clean", channel=1))
        total = (await client.wait_job("clean", "completed"))["points"]

        lab.faults.schedule(FaultKind.STUCK_JOB, "cycler.start")
        await client.ok("start", **start_params("stuck", channel=2))
        points = []
        for _ in range(400):  # inf acceleration: an unstuck job would finish within a few polls
            job = await client.ok("job", job_id="stuck")
            points.append(job["points"])
        assert job["state"] == "running" and 0 < points[-1] < total
        assert points[-1] == points[len(points) // 2], "a stuck job records no new points"
        stopped = await client.ok("stop", job_id="stuck")
        assert stopped["state"] == "stopped" and stopped["points"] == points[-1]
        assert (await client.ok("status", channel=2))["state"] == "idle"


async def test_500_channels_are_listed_and_addressable(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context
) -> None:
    async with running_cycler(settings_with(sim_settings, channels=500), pool) as (server, _):
        client = Client(zctx, server.command_endpoint)
        listing = await client.ok("list_channels")
        assert len(listing["channels"]) == 500
        assert (await client.ok("status", channel=499))["channel"] == 499
        err = await client.error("status", channel=500)
        assert err.code is ErrorCode.UNKNOWN_CHANNEL and "0-499" in err.message


async def test_curve_on_both_sockets(
    sim_settings: SimSettings, pool: CellPool, zctx: zmq.asyncio.Context, tmp_path: Path
) -> None:
    security = {"enabled": True, "key_dir": tmp_path / "keys"}
    settings = settings_with(sim_settings, acceleration=float("inf"), security=security)
    async with running_cycler(settings, pool) as (server, _):
        assert server.public_key is not None and "CURVE" in server.describe()
        public, secret = zmq.curve_keypair()
        keys = {
            "curve_serverkey": server.public_key,
            "curve_publickey": public,
            "curve_secretkey": secret,
        }
        client = Client(zctx, server.command_endpoint, **keys)
        assert len((await client.ok("list_channels"))["channels"]) == 16

        sub = Subscriber(zctx, server.stream_endpoint, channel=0, **keys)
        await sub.sync(client, probe_channel=15)
        await client.ok("start", **start_params("secure"))
        stitched = await sub.stitch(client, "secure")
        assert stitched.streamed > 0

        wrong_server, _ = zmq.curve_keypair()
        intruder = Client(
            zctx, server.command_endpoint, **(keys | {"curve_serverkey": wrong_server})
        )
        await intruder.send("list_channels")
        with pytest.raises(TimeoutError):
            await intruder.receive(timeout_s=0.5)
        eavesdropper = Subscriber(
            zctx, server.stream_endpoint, 0, **(keys | {"curve_serverkey": wrong_server})
        )
        await client.ok("start", **start_params("secure-2"))
        with pytest.raises(TimeoutError):
            await eavesdropper.receive(timeout_s=0.5)


async def test_a_start_that_cannot_bind_fails_cleanly(
    cycler: CyclerServer, client: Client, sim_settings: SimSettings, pool: CellPool
) -> None:
    with pytest.raises(zmq.ZMQError, match="in use"):
        async with running_cycler(sim_settings, pool):  # the same ports as ``cycler``
            pass
    assert len((await client.ok("list_channels"))["channels"]) == 16
