"""OPC UA security of the simulated robot: Basic256Sha256 Sign&Encrypt and user/password login.

With security on, the server offers exactly one endpoint (Basic256Sha256, SignAndEncrypt; no
``None`` endpoint) with a self-signed certificate generated once into the PKI directory, and
accepts only the configured users. With security off (the loopback default) it offers only the
``None`` endpoint with anonymous login. The server accepts any client certificate: there is no
trust list, so the user/password check is what admits a client.
"""

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.uacrypto import check_certificate
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import SecretStr

from voltlab.errors import VoltlabError
from voltlab.protocol.opcua import APPLICATION_URI
from voltlab.simulated_hardware.config import OpcUaSecurity

log = logging.getLogger(__name__)

KEY_FILE = "robot-server-key.pem"
CERT_FILE = "robot-server-cert.der"
CERT_SUBJECT = {"countryName": "CH", "organizationName": "voltlab", "commonName": "voltlab robot"}


class SecurityConfigError(VoltlabError, ValueError):
    """The robot's security settings cannot work (e.g. security on but no users)."""


class ConfiguredUsers(UserManager):
    """Admits exactly the configured user names with their passwords, over the encrypted
    channel only."""

    def __init__(self, users: Mapping[str, SecretStr]) -> None:
        self._users = {name: secret.get_secret_value().encode() for name, secret in users.items()}

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if not certificate:  # None or b''
            # asyncua opens unsecured channels for discovery whatever the endpoints say; only the
            # encrypted endpoint comes with a client certificate, so this refuses any login
            # (with a clear-text password) over an unsecured channel.
            log.warning("robot: refused login of user %r over an unsecured channel", username)
            return None
        expected = self._users.get(username or "")
        if expected is None or password is None:
            log.warning("robot: refused login of user %r", username)
            return None
        if not hmac.compare_digest(expected, password.encode()):
            log.warning("robot: wrong password for user %r", username)
            return None
        return User(role=UserRole.User, name=username)


def user_manager(security: OpcUaSecurity) -> UserManager | None:
    """The user manager to build the server with; ``None`` keeps asyncua's anonymous default."""
    if not security.enabled:
        return None
    if not security.users:
        raise SecurityConfigError("robot security is enabled but no users are configured")
    return ConfiguredUsers(security.users)


async def ensure_server_certificate(pki_dir: Path, host: str) -> tuple[Path, Path]:
    """The server's (PEM key, DER certificate) paths; generated on first use, and again if the
    certificate expired or lacks the application URI or this machine's name."""
    return await asyncio.to_thread(_ensure_certificate, pki_dir, host)


def _ensure_certificate(pki_dir: Path, host: str) -> tuple[Path, Path]:
    pki_dir.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = pki_dir / KEY_FILE, pki_dir / CERT_FILE
    if key_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if cert_path.is_file():
            cert = x509.load_der_x509_certificate(cert_path.read_bytes())
            if not check_certificate(cert, APPLICATION_URI, socket.gethostname()):
                return key_path, cert_path
    else:
        key = generate_private_key()
        key_path.write_bytes(dump_private_key_as_pem(key))
        key_path.chmod(0o600)
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(APPLICATION_URI),
        x509.DNSName(socket.gethostname()),
        x509.DNSName("localhost"),
    ]
    with contextlib.suppress(ValueError):  # a host name rather than an address
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    cert = generate_self_signed_app_certificate(
        key, APPLICATION_URI, CERT_SUBJECT, names, extended=[ExtendedKeyUsageOID.SERVER_AUTH]
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    log.info("robot: generated server certificate %s", cert_path)
    return key_path, cert_path


async def apply_security(server: Server, security: OpcUaSecurity, pki_dir: Path, host: str) -> None:
    """Configure endpoints and identity tokens of an initialised, not yet started server."""
    if not security.enabled:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        return
    key, cert = await ensure_server_certificate(security.cert_dir or pki_dir, host)
    await server.load_certificate(cert)
    await server.load_private_key(key)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    server.set_identity_tokens([ua.UserNameIdentityToken])
