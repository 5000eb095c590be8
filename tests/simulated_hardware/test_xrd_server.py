"""The simulated XRD stage over real ZMQ sockets on loopback: commands, jobs, faults, CURVE."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq
import zmq.asyncio

from voltlab.protocol import (
    ErrorCode,
    JobState,
    ProtocolError,
    Recipe,
    Reply,
    Request,
    decode_reply,
    encode,
)
from voltlab.simulated_hardware.config import CurveSecurity, SimSettings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.registry import Powder
from voltlab.simulated_hardware.servers.xrd import STUCK_AT_PROGRESS, XRDServer
from voltlab.simulated_hardware.world.product import make_product
from voltlab.simulated_hardware.world.xrd import simulate_pattern

pytestmark = pytest.mark.servers

REPLY_TIMEOUT_S = 30.0
"""A hang guard, not a speed check: scans simulate slower on a busy 2-core machine."""
SILENCE_S = 0.5
"""How long a client waits before concluding that no reply is coming."""
SCAN = {"two_theta_start": 15.0, "two_theta_stop": 70.0, "step": 0.02, "count_time_s": 0.5}
RECIPE = Recipe(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=850.0, calcination_time_h=8.0
)


class Client:
    """A DEALER socket speaking the JSON envelope, with deadlines on every receive."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        curve: tuple[bytes, bytes, bytes] | None = None,
    ) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            self.sock.curve_serverkey, self.sock.curve_publickey, self.sock.curve_secretkey = curve
        self.sock.connect(endpoint)

    async def raw(self, payload: bytes, wait_s: float = REPLY_TIMEOUT_S) -> bytes | None:
        """Send and await one reply; None if none came within ``wait_s`` (a DEALER's send
        itself waits while no connection is up, e.g. when CURVE refused the handshake)."""
        try:
            async with asyncio.timeout(wait_s):
                await self.sock.send(payload)
                return await self.sock.recv()
        except TimeoutError:
            return None

    async def call(self, command: str, wait_s: float = REPLY_TIMEOUT_S, **params: Any) -> Reply:
        data = await self.raw(encode(Request(command=command, params=params)), wait_s)
        assert data is not None, f"no reply to {command} within {wait_s} s"
        return decode_reply(data)

    async def ok(self, command: str, **params: Any) -> dict[str, Any]:
        return (await self.call(command, **params)).raise_for_error()

    async def error(self, command: str, **params: Any) -> ProtocolError:
        reply = await self.call(command, **params)
        assert not reply.ok, f"{command} unexpectedly succeeded: {reply.result}"
        with pytest.raises(ProtocolError) as info:
            reply.raise_for_error()
        return info.value

    async def wait_job(self, job_id: str, states: Iterable[JobState]) -> dict[str, Any]:
        wanted = set(states)
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            while True:
                job = await self.ok("job", job_id=job_id)
                if JobState(job["state"]) in wanted:
                    return job
                await asyncio.sleep(0.005)

    def close(self) -> None:
        self.sock.close(linger=0)


def add_powder(lab: LabContext, sample_id: str) -> Powder:
    powder = Powder(sample_id, RECIPE, make_product(RECIPE, lab.rng("batch", sample_id)), 5.0)
    lab.registry.add_powder(powder)
    return powder


def with_xrd(settings: SimSettings, **changes: Any) -> SimSettings:
    return settings.model_copy(update={"xrd": settings.xrd.model_copy(update=changes)})


@pytest.fixture
async def ctx() -> AsyncIterator[zmq.asyncio.Context]:
    context = zmq.asyncio.Context()
    yield context
    context.destroy(linger=0)


async def started(settings: SimSettings) -> tuple[LabContext, XRDServer]:
    lab = LabContext.from_settings(settings)
    server = XRDServer(lab)
    await server.start()
    return lab, server


@pytest.fixture
async def lab_server(sim_settings: SimSettings) -> AsyncIterator[tuple[LabContext, XRDServer]]:
    lab, server = await started(sim_settings)
    yield lab, server
    await server.stop()
    lab.close()


@pytest.fixture
def lab(lab_server: tuple[LabContext, XRDServer]) -> LabContext:
    return lab_server[0]


@pytest.fixture
async def client(
    ctx: zmq.asyncio.Context, lab_server: tuple[LabContext, XRDServer]
) -> AsyncIterator[Client]:
    c = Client(ctx, lab_server[1].endpoint)
    yield c
    c.close()


async def test_load_measure_and_fetch_a_pattern(lab: LabContext, client: Client) -> None:
    powder = add_powder(lab, "P-1")
    assert (await client.ok("status"))["state"] == "empty"
    assert (await client.ok("load", sample_id="P-1"))["state"] == "loaded"
    job = await client.ok("measure", job_id="X-1", **SCAN)
    assert job["state"] == "running"
    assert job["sample_id"] == "P-1"
    done = await client.wait_job("X-1", [JobState.COMPLETED])
    assert done["progress"] == 1.0
    status = await client.ok("status")
    assert (status["state"], status["job_id"], status["sample_id"]) == ("loaded", "X-1", "P-1")

    pattern = await client.ok("get_pattern", job_id="X-1")
    grid = 15.0 + 0.02 * np.arange(2751)
    np.testing.assert_allclose(pattern["two_theta"], grid)
    expected = simulate_pattern(powder.product, grid, 0.5, lab.rng("xrd", "X-1"))
    np.testing.assert_array_equal(pattern["counts"], expected)
    assert pattern["wavelength_angstrom"] == pytest.approx(1.54056)
    assert pattern["count_time_s"] == 0.5
    # the layered (003) and (104) reflections stand well above the background
    counts = np.asarray(pattern["counts"])
    assert counts[np.abs(grid - 18.7) < 0.3].max() > 10 * np.median(counts)


async def test_a_req_socket_is_served_too(
    ctx: zmq.asyncio.Context, lab_server: tuple[LabContext, XRDServer]
) -> None:
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(lab_server[1].endpoint)
    try:
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            await req.send(encode(Request(command="status")))
            reply = decode_reply(await req.recv())
        assert reply.raise_for_error()["state"] == "empty"
    finally:
        req.close(linger=0)


async def test_resubmitting_a_job_id_returns_the_existing_job(
    lab: LabContext, client: Client
) -> None:
    add_powder(lab, "P-1")
    await client.ok("load", sample_id="P-1")
    await client.ok("measure", job_id="X-1", **SCAN)
    done = await client.wait_job("X-1", [JobState.COMPLETED])
    pattern = await client.ok("get_pattern", job_id="X-1")
    assert await client.ok("measure", job_id="X-1", **SCAN) == done
    assert (await client.ok("status"))["state"] == "loaded"  # nothing measured again
    assert await client.ok("get_pattern", job_id="X-1") == pattern

    err = await client.error("measure", job_id="X-1", **(SCAN | {"step": 0.05}))
    assert err.code is ErrorCode.JOB_CONFLICT
    assert err.field == "params.job_id"


async def test_unknown_sample_job_and_missing_sample(lab: LabContext, client: Client) -> None:
    err = await client.error("load", sample_id="nope")
    assert err.code is ErrorCode.UNKNOWN_SAMPLE
    assert "nope" in err.message
    err = await client.error("measure", job_id="X-1", **SCAN)
    assert err.code is ErrorCode.NOT_READY
    assert "no sample loaded" in err.message
    for command in ("job", "get_pattern"):
        err = await client.error(command, job_id="ghost")
        assert err.code is ErrorCode.UNKNOWN_JOB
        assert "ghost" in err.message


@pytest.mark.parametrize(
    ("change", "limit"),
    [
        ({"two_theta_start": 2.0}, "two_theta_min"),
        ({"two_theta_stop": 150.0}, "two_theta_max"),
        ({"step": 0.001, "two_theta_stop": 20.0}, "min_step"),
        ({"step": 0.01}, "max_points"),
        ({"count_time_s": 120.0}, "max_count_time_s"),
    ],
)
async def test_interlocks_refuse_scans_outside_the_limits(
    sim_settings: SimSettings, ctx: zmq.asyncio.Context, change: dict[str, float], limit: str
) -> None:
    lab, server = await started(with_xrd(sim_settings, max_points=5000))
    client = Client(ctx, server.endpoint)
    try:
        add_powder(lab, "P-1")
        await client.ok("load", sample_id="P-1")
        err = await client.error("measure", job_id="X-1", **(SCAN | change))
        assert err.code is ErrorCode.INTERLOCK
        assert limit in err.message
        assert (await client.ok("status"))["state"] == "loaded"
        await client.ok("measure", job_id="X-1", **SCAN)  # within limits: accepted
    finally:
        client.close()
        await server.stop()
        lab.close()


async def test_progress_advances_while_measuring(
    sim_settings: SimSettings, ctx: zmq.asyncio.Context
) -> None:
    # 101 points x 10 s = 1010 s of instrument time, about 0.5 s of wall time
    lab, server = await started(sim_settings.model_copy(update={"acceleration": 2000.0}))
    client = Client(ctx, server.endpoint)
    try:
        add_powder(lab, "P-1")
        await client.ok("load", sample_id="P-1")
        scan = {"two_theta_start": 20.0, "two_theta_stop": 30.0, "step": 0.1, "count_time_s": 10.0}
        await client.ok("measure", job_id="X-1", **scan)
        assert (await client.error("load", sample_id="P-1")).code is ErrorCode.BUSY
        seen: set[float] = set()
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            while (status := await client.ok("status"))["state"] == "measuring":
                seen.add(status["progress"])
                await asyncio.sleep(0.02)
        assert len({p for p in seen if 0.0 < p < 1.0}) >= 3
        assert (await client.ok("job", job_id="X-1"))["state"] == "completed"
    finally:
        client.close()
        await server.stop()
        lab.close()


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        (b"\xff\xfe\x00garbage", ErrorCode.BAD_MESSAGE, "UTF-8 JSON"),
        (b"status please", ErrorCode.BAD_MESSAGE, "JSON"),
        (b"[1, 2, 3]", ErrorCode.BAD_MESSAGE, "JSON object"),
        (b'{"v": "99", "msg_id": "m", "command": "status"}', ErrorCode.VERSION_MISMATCH, "99"),
        (b'{"v": "1", "msg_id": "m", "command": "fly"}', ErrorCode.UNKNOWN_COMMAND, "fly"),
        (
            b'{"v": "1", "msg_id": "m", "command": "measure", "params": {"job_id": "X", '
            b'"two_theta_start": 10, "two_theta_stop": 20, "step": "wide", "count_time_s": 1}}',
            ErrorCode.INVALID_FIELD,
            "params.step",
        ),
        (b'{"v": "1", "command": "status", "params": {"x": 1}}', ErrorCode.INVALID_FIELD, "x"),
        (b"x" * (2 * 1_048_576), ErrorCode.OVERSIZED, "exceeds"),
    ],
)
async def test_bad_messages_get_error_replies_and_others_are_still_served(
    ctx: zmq.asyncio.Context,
    lab_server: tuple[LabContext, XRDServer],
    payload: bytes,
    code: ErrorCode,
    words: str,
) -> None:
    rude, polite = Client(ctx, lab_server[1].endpoint), Client(ctx, lab_server[1].endpoint)
    try:
        data = await rude.raw(payload)
        assert data is not None
        reply = json.loads(data)
        assert reply["ok"] is False
        assert reply["error"]["code"] == code
        assert words in reply["error"]["message"]
        assert (await polite.ok("status"))["state"] == "empty"
        assert (await rude.ok("status"))["state"] == "empty"
    finally:
        rude.close()
        polite.close()


async def test_device_error_fails_the_job_until_reset(lab: LabContext, client: Client) -> None:
    add_powder(lab, "P-1")
    await client.ok("load", sample_id="P-1")
    lab.faults.schedule(FaultKind.DEVICE_ERROR, "xrd.measure")
    await client.ok("measure", job_id="X-1", **SCAN)
    failed = await client.wait_job("X-1", [JobState.FAILED])
    assert "high-voltage" in failed["error"]
    status = await client.ok("status")
    assert status["state"] == "error"
    assert "high-voltage" in status["error"]
    for command, params in (("load", {"sample_id": "P-1"}), ("measure", {"job_id": "X-2", **SCAN})):
        err = await client.error(command, **params)
        assert err.code is ErrorCode.DEVICE_ERROR
        assert "reset" in err.message
    err = await client.error("get_pattern", job_id="X-1")
    assert err.code is ErrorCode.NOT_READY
    assert "failed" in err.message
    assert await client.ok("measure", job_id="X-1", **SCAN) == failed  # reattaching still works

    assert (await client.ok("reset"))["state"] == "loaded"
    await client.ok("measure", job_id="X-2", **SCAN)
    await client.wait_job("X-2", [JobState.COMPLETED])


async def test_stuck_job_freezes_until_reset_aborts_it(lab: LabContext, client: Client) -> None:
    add_powder(lab, "P-1")
    await client.ok("load", sample_id="P-1")
    lab.faults.schedule(FaultKind.STUCK_JOB, "xrd.measure")
    await client.ok("measure", job_id="X-1", **SCAN)
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        while True:
            frozen = await client.ok("job", job_id="X-1")
            if frozen["progress"] >= STUCK_AT_PROGRESS * 0.99:
                break
            await asyncio.sleep(0.005)
    for _ in range(5):
        assert await client.ok("job", job_id="X-1") == frozen
    assert frozen["state"] == "running"
    assert frozen["progress"] < 0.5
    assert (await client.error("get_pattern", job_id="X-1")).code is ErrorCode.NOT_READY
    assert (await client.error("measure", job_id="X-2", **SCAN)).code is ErrorCode.BUSY
    assert (await client.error("unload")).code is ErrorCode.BUSY

    assert (await client.ok("reset"))["state"] == "loaded"
    aborted = await client.ok("job", job_id="X-1")
    assert (aborted["state"], aborted["error"]) == ("aborted", "aborted by reset")
    await client.ok("measure", job_id="X-2", **SCAN)
    await client.wait_job("X-2", [JobState.COMPLETED])


@pytest.mark.parametrize(
    "kind", [FaultKind.TIMEOUT, FaultKind.CORRUPT_MESSAGE, FaultKind.TRUNCATED_MESSAGE]
)
async def test_reply_faults_are_seen_by_the_client(
    lab: LabContext, client: Client, kind: FaultKind
) -> None:
    lab.faults.schedule(kind, "xrd.status")
    data = await client.raw(encode(Request(command="status")), wait_s=SILENCE_S)
    if kind is FaultKind.TIMEOUT:
        assert data is None
    else:
        assert data is not None
        with pytest.raises(ProtocolError) as info:
            decode_reply(data)
        assert info.value.code is ErrorCode.BAD_MESSAGE
    assert [f.kind for f in lab.faults.injected] == [kind]
    assert (await client.ok("status"))["state"] == "empty"


async def test_disconnect_drops_the_client_and_a_new_socket_works(
    ctx: zmq.asyncio.Context, lab_server: tuple[LabContext, XRDServer]
) -> None:
    lab, server = lab_server
    first = Client(ctx, server.endpoint)
    lab.faults.schedule(FaultKind.DISCONNECT, "xrd.status")
    try:
        assert await first.raw(encode(Request(command="status")), wait_s=SILENCE_S) is None
    finally:
        first.close()
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        while True:
            fresh = Client(ctx, server.endpoint)
            try:
                data = await fresh.raw(encode(Request(command="status")), wait_s=0.2)
            finally:
                fresh.close()
            if data is not None:
                break
    assert decode_reply(data).raise_for_error()["state"] == "empty"


async def test_pattern_is_computed_off_the_event_loop(lab: LabContext, client: Client) -> None:
    """While a 20,001-point pattern is computed (the job at 99 %), status still answers."""
    add_powder(lab, "P-1")
    await client.ok("load", sample_id="P-1")
    scan = {"two_theta_start": 10.0, "two_theta_stop": 130.0, "step": 0.006, "count_time_s": 1.0}
    await client.ok("measure", job_id="X-big", **scan)
    computing = 0
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        while (status := await client.ok("status"))["state"] == "measuring":
            computing += status["progress"] == 0.99
    assert computing > 0
    assert len((await client.ok("get_pattern", job_id="X-big"))["counts"]) == 20001


def curve_settings(settings: SimSettings, key_dir: Path, allowed: list[str] | None) -> SimSettings:
    security = CurveSecurity(enabled=True, key_dir=key_dir, allowed_client_keys=allowed)
    return with_xrd(settings, security=security)


async def test_curve_admits_clients_that_know_the_server_key(
    sim_settings: SimSettings, tmp_path: Path, ctx: zmq.asyncio.Context
) -> None:
    lab, server = await started(curve_settings(sim_settings, tmp_path / "keys", None))
    assert server.public_key is not None
    assert "CURVE" in server.describe()
    good = Client(ctx, server.endpoint, (server.public_key, *zmq.curve_keypair()))
    wrong_key = Client(ctx, server.endpoint, (zmq.curve_keypair()[0], *zmq.curve_keypair()))
    plain = Client(ctx, server.endpoint)
    try:
        assert (await good.ok("status"))["state"] == "empty"
        status = encode(Request(command="status"))
        assert await wrong_key.raw(status, wait_s=SILENCE_S) is None
        assert await plain.raw(status, wait_s=SILENCE_S) is None
    finally:
        for c in (good, wrong_key, plain):
            c.close()
        await server.stop()
        lab.close()


async def test_curve_refuses_client_keys_not_on_the_list(
    sim_settings: SimSettings, tmp_path: Path, ctx: zmq.asyncio.Context
) -> None:
    allowed_public, allowed_secret = zmq.curve_keypair()
    settings = curve_settings(sim_settings, tmp_path / "keys", [allowed_public.decode()])
    lab, server = await started(settings)
    assert server.public_key is not None
    allowed = Client(ctx, server.endpoint, (server.public_key, allowed_public, allowed_secret))
    stranger = Client(ctx, server.endpoint, (server.public_key, *zmq.curve_keypair()))
    try:
        assert (await allowed.ok("status"))["state"] == "empty"
        assert await stranger.raw(encode(Request(command="status")), wait_s=SILENCE_S) is None
    finally:
        allowed.close()
        stranger.close()
        await server.stop()
        lab.close()
