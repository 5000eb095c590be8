"""Where the instruments are and how to reach them: one typed model for every driver.

The same drivers reach the simulated lab or real instruments; only this configuration changes
(endpoints, CURVE keys, OPC UA certificates and login). Unknown keys are errors, so a typo in a
lab file is reported, not silently defaulted. Times are in seconds.
"""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Z85_KEY_LENGTH = 40
"""A CURVE key (32 bytes) in Z85 text."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Section):
    """How long one attempt waits, and how retries back off (exponentially, bounded)."""

    reply_timeout_s: float = Field(default=2.0, gt=0.0)
    """Per attempt: how long to wait for a connection and a reply."""
    attempts: int = Field(default=4, ge=1, le=100)
    backoff_initial_s: float = Field(default=0.05, ge=0.0)
    backoff_max_s: float = Field(default=2.0, ge=0.0)

    def backoff_s(self, retry: int) -> float:
        """Pause before retry number ``retry`` (1 = first retry): doubles up to the bound."""
        return min(self.backoff_initial_s * 2 ** (retry - 1), self.backoff_max_s)


class HeartbeatPolicy(_Section):
    """A cheap command every ``interval_s``; the instrument is unhealthy after ``misses`` in a row."""

    interval_s: float = Field(default=1.0, gt=0.0)
    misses: int = Field(default=3, ge=1)


class CurveClientKeys(_Section):
    """ZMQ CURVE: the server's public key, and this client's key pair (Z85 text).

    Without a client pair, a fresh one is generated per connection; that suits servers that
    admit any client knowing the server key, not those with an allow-list.
    """

    server_public_key: str = Field(min_length=Z85_KEY_LENGTH, max_length=Z85_KEY_LENGTH)
    client_public_key: str | None = Field(
        default=None, min_length=Z85_KEY_LENGTH, max_length=Z85_KEY_LENGTH
    )
    client_secret_key: SecretStr | None = None

    @model_validator(mode="after")
    def _pair(self) -> "CurveClientKeys":
        if (self.client_public_key is None) != (self.client_secret_key is None):
            raise ValueError("client_public_key and client_secret_key go together")
        secret = self.client_secret_key
        if secret is not None and len(secret.get_secret_value()) != Z85_KEY_LENGTH:
            raise ValueError(f"client_secret_key must be {Z85_KEY_LENGTH} Z85 characters")
        return self


class ZmqInstrumentConfig(_Section):
    endpoint: str = Field(pattern=r"^(tcp|ipc|inproc)://.+")
    """Command (ROUTER) endpoint, e.g. ``tcp://127.0.0.1:5557``."""
    curve: CurveClientKeys | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    heartbeat: HeartbeatPolicy = Field(default_factory=HeartbeatPolicy)


class XRDConfig(ZmqInstrumentConfig):
    poll_interval_s: float = Field(default=0.05, gt=0.0)
    """How often :meth:`XRDClient.wait` asks for the job's state."""


class CyclerConfig(ZmqInstrumentConfig):
    stream_endpoint: str = Field(pattern=r"^(tcp|ipc|inproc)://.+")
    """Point stream (PUB) endpoint; the same CURVE keys apply."""
    fetch_max_points: int = Field(default=10_000, ge=1, le=100_000)
    """Points per ``fetch`` when backfilling a stream."""
    stream_idle_s: float = Field(default=0.5, gt=0.0)
    """A stream silent this long is checked with ``fetch`` (a lost final batch, a dead link)."""
    poll_interval_s: float = Field(default=0.05, gt=0.0)


class OpcUaClientSecurity(_Section):
    """Sign (or Sign&Encrypt) with the client's certificate; the application URI must be the one
    inside ``certificate``. Without ``server_certificate`` the server's is fetched on connect."""

    policy: Literal["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] = (
        "Basic256Sha256"
    )
    mode: Literal["SignAndEncrypt", "Sign"] = "SignAndEncrypt"
    certificate: Path
    private_key: Path
    application_uri: str = Field(min_length=1)
    server_certificate: Path | None = None

    def security_string(self) -> str:
        """asyncua's ``Policy,Mode,cert,key[,server_cert]`` string."""
        parts = [self.policy, self.mode, str(self.certificate), str(self.private_key)]
        if self.server_certificate is not None:
            parts.append(str(self.server_certificate))
        return ",".join(parts)


class RobotConfig(_Section):
    url: str = Field(pattern=r"^opc\.tcp://.+")
    """Full endpoint URL including its path, e.g. ``opc.tcp://127.0.0.1:4840/voltlab/robot/``."""
    security: OpcUaClientSecurity | None = None
    username: str | None = None
    password: SecretStr | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    heartbeat: HeartbeatPolicy = Field(default_factory=HeartbeatPolicy)
    poll_interval_s: float = Field(default=0.05, gt=0.0)

    @model_validator(mode="after")
    def _login(self) -> "RobotConfig":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class DriverConfig(_Section):
    """Every instrument the lab drives; an instrument left out is not used."""

    robot: RobotConfig | None = None
    cycler: CyclerConfig | None = None
    xrd: XRDConfig | None = None
