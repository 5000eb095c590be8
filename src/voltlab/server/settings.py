"""Settings of the operator server: one typed object, loaded once and passed to the app.

Precedence: defaults < YAML file < environment (``VOLTLAB_SERVER_...``, ``__`` between levels)
< explicit overrides (the command line). Unknown keys are refused. Tokens are kept only as
hashes (:func:`voltlab.server.tokens.hash_token`); a plain token in the file is an error.
"""

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from voltlab.drivers import DriverConfig
from voltlab.server.tokens import HASH_PATTERN

Role = Literal["viewer", "operator"]
"""viewer: reads everything; operator: also acts (create, start, pause, approve, ...)."""
MIB = 1024 * 1024


class TokenSpec(BaseModel):
    """One API token: who holds it, what it may do, and its hash (never the token)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80, pattern=r"^[\w.@-]+$")
    role: Role
    hash: str

    @field_validator("hash")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if not HASH_PATTERN.match(value):
            raise ValueError(
                "expected 'scrypt$<salt hex>$<hash hex>' (make one with `voltlab hash-token`); "
                "plain tokens are refused"
            )
        return value


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VOLTLAB_SERVER_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = "127.0.0.1"
    """Interface to listen on; loopback by default (put a TLS reverse proxy in front)."""
    port: int = Field(default=8000, ge=0, le=65535)
    lab: Path = Path("voltlab.sqlite")
    """The lab file (SQLite store), created if missing."""
    tokens: list[TokenSpec] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the API from a browser; empty: CORS closed."""
    max_request_bytes: int = Field(default=MIB, ge=1024)
    """Largest request body accepted (bytes); larger ones get 413."""
    events_endpoint: str | None = Field(default=None, pattern=r"^(tcp|ipc)://.+")
    """Also publish live events on this ZMQ PUB endpoint (e.g. ``tcp://127.0.0.1:5600``)."""
    instruments: DriverConfig | None = None
    """Instrument endpoints for every campaign (overriding the campaign files' own)."""
    resume_unfinished: bool = True
    """On start, resume the campaigns the lab file says were running or paused."""

    @field_validator("tokens")
    @classmethod
    def _unique_names(cls, tokens: list[TokenSpec]) -> list[TokenSpec]:
        names = [t.name for t in tokens]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"token names must be unique, repeated: {repeated}")
        return tokens

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, YamlConfigSettingsSource(settings_cls)


def load_server_settings(path: Path | None = None, **overrides: Any) -> ServerSettings:
    """Settings from defaults, an optional YAML file, the environment and explicit overrides."""
    if path is None:
        return ServerSettings(**overrides)
    if not path.is_file():
        raise FileNotFoundError(f"server config file {path} does not exist")
    from_file = type(
        "FileServerSettings",
        (ServerSettings,),
        {"model_config": {**ServerSettings.model_config, "yaml_file": path}},
    )
    return from_file(**overrides)
