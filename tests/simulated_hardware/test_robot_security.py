"""The robot with security on: Basic256Sha256 Sign&Encrypt only, and user/password login."""

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import Client, ua
from asyncua.crypto import uacrypto
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.ua.uaerrors import BadUserAccessDenied, UaError
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.simulated_hardware.test_robot_server import (
    ServerThread,
    make_client,
    module_settings,
    opened,
    recipe_json,
)
from voltlab.simulated_hardware.config import load_sim_settings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.servers.opcua_security import SecurityConfigError
from voltlab.simulated_hardware.servers.robot import RobotServer

pytestmark = pytest.mark.servers

USER, PASSWORD = "operator", "correct horse battery staple"
CLIENT_URI = "urn:test:robot-client"
NAME = {"commonName": "robot test client"}


@pytest.fixture(scope="module")
def secure_robot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    security = {"enabled": True, "users": {USER: PASSWORD}}
    settings = module_settings(tmp_path_factory.mktemp("secure-robot"), security=security)
    with ServerThread(settings) as thread:
        yield thread


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed client key and certificate (the server has no trust list)."""
    pki = tmp_path_factory.mktemp("client-pki")
    key, cert = pki / "client-key.pem", pki / "client-cert.der"
    usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
    asyncio.run(
        setup_self_signed_certificate(key, cert, CLIENT_URI, socket.gethostname(), usage, NAME)
    )
    return key, cert


async def secure_client(
    url: str, client_cert: tuple[Path, Path], user: str, password: str
) -> Client:
    key, cert = client_cert
    client = make_client(url)
    client.application_uri = CLIENT_URI
    client.set_user(user)
    client.set_password(password)
    await client.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
    return client


async def test_encrypted_client_with_password_runs_a_job(
    secure_robot: ServerThread, client_cert: tuple[Path, Path]
) -> None:
    url = secure_robot.server.url
    client = await secure_client(url, client_cert, USER, PASSWORD)
    async with opened(url, client) as raw:
        assert client.security_policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
        assert (await raw.call("Start", "secure-1", recipe_json()))["ok"]
        assert (await raw.wait_final("secure-1"))["state"] == "completed"
    assert secure_robot.lab.registry.powder("secure-1").mass_g == 5.0


@pytest.mark.parametrize(("user", "password"), [(USER, "wrong"), ("intruder", PASSWORD)])
async def test_wrong_credentials_are_refused(
    secure_robot: ServerThread, client_cert: tuple[Path, Path], user: str, password: str
) -> None:
    client = await secure_client(secure_robot.server.url, client_cert, user, password)
    with pytest.raises(BadUserAccessDenied):
        await client.connect()
    await client.disconnect()


async def test_only_the_encrypted_endpoint_is_offered(secure_robot: ServerThread) -> None:
    url = secure_robot.server.url
    endpoints = await Client(url).connect_and_get_server_endpoints()
    assert [(e.SecurityPolicyUri.split("#")[-1], e.SecurityMode) for e in endpoints] == [
        ("Basic256Sha256", ua.MessageSecurityMode.SignAndEncrypt)
    ]
    tokens = {t.TokenType for t in endpoints[0].UserIdentityTokens}
    assert tokens == {ua.UserTokenType.UserName}
    cert = uacrypto.x509_from_der(endpoints[0].ServerCertificate)
    assert "urn:voltlab:simulated:synthesis-robot:server" in str(cert.extensions)
    plain = make_client(url)
    plain.set_user(USER)
    plain.set_password(PASSWORD)
    with pytest.raises((UaError, ConnectionError, TimeoutError)):
        await plain.connect()
    await plain.disconnect()


async def test_security_without_users_is_a_configuration_error(tmp_path: Path) -> None:
    settings = load_sim_settings(state_dir=tmp_path, robot={"security": {"enabled": True}})
    lab = LabContext.from_settings(settings)
    with pytest.raises(SecurityConfigError, match="no users"):
        await RobotServer(lab).start()
    lab.close()


async def test_a_login_over_an_unsecured_channel_is_refused(
    secure_robot: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncua servers accept unsecured channels (for discovery); a client that skips its own
    endpoint check and sends the right password in clear text must still be refused."""
    monkeypatch.setattr(Client, "find_endpoint", staticmethod(lambda endpoints, *_: endpoints[0]))
    plain = make_client(secure_robot.server.url)
    plain.set_user(USER)
    plain.set_password(PASSWORD)
    with pytest.raises(BadUserAccessDenied):
        await plain.connect()
    await plain.disconnect()
