"""RobotClient against the simulated OPC UA robot on loopback: methods, reattach, faults,
restart and Basic256Sha256 Sign&Encrypt with user/password.

The shared robots run on their own loops in threads (asyncua's start-up costs ~1.3 s)."""

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.drivers.conftest import DEADLINE_S, FAST_RETRY, QUIET_HEARTBEAT
from tests.polling import eventually
from tests.simulated_hardware.test_robot_server import ServerThread, module_settings
from voltlab.drivers import (
    CommandRefused,
    DriverTimeout,
    InstrumentUnavailable,
    OpcUaClientSecurity,
    RobotClient,
    RobotConfig,
)
from voltlab.protocol import ErrorCode, JobState, Recipe
from voltlab.protocol.opcua import RobotState
from voltlab.protocol.robot import RobotJobKind
from voltlab.simulated_hardware.faults import FaultKind

pytestmark = pytest.mark.servers

RECIPE = Recipe(
    ni=0.6, mn=0.2, co=0.2, li_excess=0.03, calcination_temperature_c=850.0, calcination_time_h=10.0
)
USER, PASSWORD = "operator", "correct horse battery staple"
CLIENT_URI = "urn:voltlab:test:robot-driver"


def robot_config(url: str, **changes: Any) -> RobotConfig:
    base: dict[str, Any] = {
        "url": url,
        "retry": FAST_RETRY.model_copy(update={"reply_timeout_s": 1.0}),
        "heartbeat": QUIET_HEARTBEAT,
        "poll_interval_s": 0.01,
    }
    return RobotConfig.model_validate(base | changes)


@pytest.fixture(scope="module")
def robot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(module_settings(tmp_path_factory.mktemp("robot"))) as thread:
        yield thread


@pytest.fixture
async def client(robot: ServerThread) -> AsyncIterator[RobotClient]:
    async with RobotClient(robot_config(robot.server.url)) as robot_client:
        yield robot_client
        await robot_client.reset()


async def test_every_method(robot: ServerThread, client: RobotClient) -> None:
    assert client.healthy and client.last_seen is not None
    readings = await client.readings()
    assert readings.device_state == "Ready" and readings.state is RobotState.IDLE
    job = await client.submit("r-1", RECIPE)
    assert (job.job_id, job.kind, job.recipe) == ("r-1", RobotJobKind.SYNTHESIS, RECIPE)
    done = await client.wait("r-1", DEADLINE_S)
    assert done.state is JobState.COMPLETED and done.progress == 100.0
    assert robot.lab.registry.powder("r-1").mass_g == 5.0
    cell = await client.assemble_cell("cell-r-1", "r-1")
    assert cell.kind is RobotJobKind.CELL_ASSEMBLY
    assert (await client.wait("cell-r-1", DEADLINE_S)).state is JobState.COMPLETED
    assert (await client.job("r-1")) == done
    assert (await client.stop("r-1")) == done  # a finished job is left as it is
    assert (await client.abort("r-1")) == done
    assert (await client.reset())["state"] == "Idle"


async def test_refusals_carry_the_robot_code_and_reason(client: RobotClient) -> None:
    hot = RECIPE.model_copy(update={"calcination_temperature_c": 1150.0})
    with pytest.raises(CommandRefused) as interlock:
        await client.submit("r-hot", hot)
    assert interlock.value.code is ErrorCode.INTERLOCK and "1150" in interlock.value.reason
    assert interlock.value.command == "Start"
    with pytest.raises(CommandRefused) as unknown:
        await client.job("never-submitted")
    assert unknown.value.code is ErrorCode.UNKNOWN_JOB


async def test_resubmitting_is_idempotent_and_a_new_client_reattaches(
    robot: ServerThread, client: RobotClient
) -> None:
    first = await client.submit("r-2", RECIPE)
    assert (await client.submit("r-2", RECIPE)).job_id == first.job_id
    with pytest.raises(CommandRefused) as conflict:
        await client.submit("r-2", RECIPE.model_copy(update={"calcination_time_h": 3.0}))
    assert conflict.value.code is ErrorCode.JOB_CONFLICT
    async with RobotClient(robot_config(robot.server.url)) as restarted:
        done = await restarted.wait("r-2", DEADLINE_S)
        assert done.state is JobState.COMPLETED
        assert (await restarted.submit("r-2", RECIPE)) == done


@pytest.mark.parametrize("fault", [FaultKind.TIMEOUT, FaultKind.DISCONNECT])
async def test_a_wire_fault_is_retried(
    robot: ServerThread, client: RobotClient, fault: FaultKind
) -> None:
    job_id = f"r-{fault}"
    robot.lab.faults.schedule(fault, "robot.Start")
    job = await client.submit(job_id, RECIPE)
    assert job.job_id == job_id
    assert (await client.wait(job_id, DEADLINE_S)).state is JobState.COMPLETED
    assert robot.lab.registry.powder(job_id).recipe == RECIPE


async def test_a_persistent_timeout_is_a_driver_timeout(
    robot: ServerThread, client: RobotClient
) -> None:
    robot.lab.faults.schedule(FaultKind.TIMEOUT, "robot.GetJob", count=3)
    impatient = robot_config(robot.server.url, retry=FAST_RETRY)
    async with RobotClient(impatient) as other:
        with pytest.raises(DriverTimeout) as late:
            await other.job("anything")
    assert late.value.instrument == "robot" and late.value.command == "GetJob"


async def test_a_device_error_fails_the_job_and_refuses_submits(
    robot: ServerThread, client: RobotClient
) -> None:
    robot.lab.faults.schedule(FaultKind.DEVICE_ERROR, "robot.synthesis")
    await client.submit("r-dev", RECIPE)
    failed = await client.wait("r-dev", DEADLINE_S)
    assert failed.state is JobState.FAILED and "device error" in (failed.error or "")
    with pytest.raises(CommandRefused) as refused:
        await client.submit("r-dev-2", RECIPE)
    assert refused.value.code is ErrorCode.DEVICE_ERROR
    await client.reset()
    assert (await client.submit("r-dev-2", RECIPE)).job_id == "r-dev-2"
    await client.wait("r-dev-2", DEADLINE_S)


async def test_a_stuck_job_misses_its_deadline(robot: ServerThread, client: RobotClient) -> None:
    robot.lab.faults.schedule(FaultKind.STUCK_JOB, "robot.synthesis")
    await client.submit("r-stuck", RECIPE)
    with pytest.raises(DriverTimeout) as late:
        await client.wait("r-stuck", deadline_s=1.0)
    assert late.value.command == "job r-stuck"
    assert (await client.abort("r-stuck")).state is JobState.ABORTED


async def test_restart_and_heartbeat(tmp_path: Path) -> None:
    """The robot goes away: heartbeats notice; it comes back on the same port: the client
    reconnects by itself (a restarted robot forgets its jobs, so a new one is submitted)."""
    settings = module_settings(tmp_path)
    thread = ServerThread(settings).__enter__()
    config = robot_config(
        thread.server.url,
        heartbeat={"interval_s": 0.1, "misses": 2},
        retry={"reply_timeout_s": 0.5, "attempts": 3, "backoff_initial_s": 0.05},
    )
    try:
        async with RobotClient(config) as client:
            thread.__exit__(None, None, None)
            await eventually(lambda: not client.healthy, DEADLINE_S)
            thread = ServerThread(settings).__enter__()
            await eventually(lambda: client.healthy, DEADLINE_S)
            await client.submit("after-restart", RECIPE)
            assert (await client.wait("after-restart", DEADLINE_S)).state is JobState.COMPLETED
    finally:
        thread.__exit__(None, None, None)


async def test_an_absent_robot_is_unavailable(tmp_path: Path) -> None:
    port = module_settings(tmp_path).robot.port  # free: nothing listens there
    with pytest.raises(InstrumentUnavailable) as info:
        await RobotClient(robot_config(f"opc.tcp://127.0.0.1:{port}/voltlab/robot/")).connect()
    assert info.value.instrument == "robot"


@pytest.fixture(scope="module")
def secure_robot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    security = {"enabled": True, "users": {USER: PASSWORD}}
    settings = module_settings(tmp_path_factory.mktemp("secure-robot"), security=security)
    with ServerThread(settings) as thread:
        yield thread


@pytest.fixture(scope="module")
def client_security(tmp_path_factory: pytest.TempPathFactory) -> OpcUaClientSecurity:
    pki = tmp_path_factory.mktemp("client-pki")
    key, cert = pki / "client-key.pem", pki / "client-cert.der"
    usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
    name = {"commonName": "voltlab robot driver test"}
    asyncio.run(
        setup_self_signed_certificate(key, cert, CLIENT_URI, socket.gethostname(), usage, name)
    )
    return OpcUaClientSecurity(certificate=cert, private_key=key, application_uri=CLIENT_URI)


async def test_encrypted_session_with_password(
    secure_robot: ServerThread, client_security: OpcUaClientSecurity
) -> None:
    url = secure_robot.server.url
    config = robot_config(url, security=client_security, username=USER, password=PASSWORD)
    async with RobotClient(config) as client:
        await client.submit("secure-1", RECIPE)
        assert (await client.wait("secure-1", DEADLINE_S)).state is JobState.COMPLETED
    wrong = robot_config(url, security=client_security, username=USER, password="wrong")
    with pytest.raises(InstrumentUnavailable) as refused:
        await RobotClient(wrong).connect()
    assert refused.value.command == "login"
    with pytest.raises(InstrumentUnavailable):  # no security: the server offers no endpoint
        await RobotClient(robot_config(url)).connect()
