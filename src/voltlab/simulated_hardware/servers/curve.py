"""ZMQ CURVE for the simulated instruments: key pairs on disk and the authenticator."""

import logging
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.asyncio import AsyncioAuthenticator

from voltlab.simulated_hardware.config import CurveSecurity

log = logging.getLogger(__name__)


def ensure_keypair(key_dir: Path, name: str) -> tuple[bytes, bytes]:
    """Load ``<name>.key_secret`` from ``key_dir``, creating the pair if missing: (public, secret)."""
    secret_file = key_dir / f"{name}.key_secret"
    if not secret_file.is_file():
        key_dir.mkdir(parents=True, exist_ok=True)
        zmq.auth.create_certificates(key_dir, name)
        log.info("generated CURVE key pair %s in %s", name, key_dir)
    public, secret = zmq.auth.load_certificate(secret_file)
    if secret is None:
        raise ValueError(f"{secret_file} holds no secret key")
    return public, secret


def start_authenticator(ctx: zmq.asyncio.Context, security: CurveSecurity) -> AsyncioAuthenticator:
    """Admit clients with the listed public keys, or any CURVE client when none are listed.

    Must be called inside the running event loop, with the context the sockets use.
    """
    auth = AsyncioAuthenticator(ctx)
    auth.start()
    if security.allowed_client_keys is None:
        auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    else:
        allowed = {key.encode() for key in security.allowed_client_keys}
        auth.configure_curve_callback(domain="*", credentials_provider=_KeyList(allowed))
    return auth


class _KeyList:
    def __init__(self, allowed: set[bytes]) -> None:
        self._allowed = allowed

    def callback(self, domain: str, key: bytes) -> bool:
        ok = zmq.utils.z85.encode(key) in self._allowed if len(key) == 32 else key in self._allowed
        if not ok:
            log.warning("refused CURVE client with unknown public key")
        return ok


def make_curve_server(socket: zmq.Socket, public: bytes, secret: bytes) -> None:
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True
