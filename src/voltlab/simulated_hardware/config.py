"""Settings of the simulated lab: one typed object, loaded once and passed to every server.

Precedence: defaults < YAML file < environment (``VOLTLAB_SIM_...``, ``__`` between levels)
< command-line overrides. Unknown keys are refused, so a typo in a file is an error, not a default.
"""

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from voltlab.protocol.opcua import DEFAULT_ENDPOINT_PATH, Precursor
from voltlab.simulated_hardware.faults import FaultConfig

LOOPBACK = "127.0.0.1"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpcUaSecurity(_Section):
    """Basic256Sha256 Sign&Encrypt with a generated server certificate, and user/password login."""

    enabled: bool = False
    cert_dir: Path | None = None
    """Where the server key and certificate live (generated if missing); default: state dir."""
    users: dict[str, SecretStr] = Field(default_factory=dict)


class CurveSecurity(_Section):
    """ZMQ CURVE: the server's key pair lives in ``key_dir`` (generated if missing)."""

    enabled: bool = False
    key_dir: Path | None = None
    allowed_client_keys: list[str] | None = None
    """Z85 public keys of clients allowed in; ``None`` admits any client that knows the server key."""


class RobotSettings(_Section):
    host: str = LOOPBACK
    port: int = Field(default=4840, ge=0, le=65535)
    endpoint_path: str = DEFAULT_ENDPOINT_PATH
    min_furnace_temperature_c: float = 300.0
    max_furnace_temperature_c: float = 1000.0
    max_calcination_time_h: float = 48.0
    batch_mass_g: float = 5.0
    inventory_g: dict[Precursor, float] = Field(
        default_factory=lambda: {p: 2000.0 for p in Precursor}
    )
    cell_assembly_time_s: float = 600.0
    security: OpcUaSecurity = Field(default_factory=OpcUaSecurity)


class CyclerSettings(_Section):
    host: str = LOOPBACK
    command_port: int = Field(default=5555, ge=0, le=65535)
    stream_port: int = Field(default=5556, ge=0, le=65535)
    channels: int = Field(default=16, ge=1, le=4096)
    v_min_limit: float = 2.0
    """Lowest voltage a protocol may ask for, V."""
    v_max_limit: float = 4.5
    max_c_rate: float = 10.0
    max_current_a: float = 0.05
    """Channel current limit, A (a coin cell channel)."""
    sample_period_s: float = 30.0
    """Instrument time between recorded points within a step, s."""
    security: CurveSecurity = Field(default_factory=CurveSecurity)


class XRDSettings(_Section):
    host: str = LOOPBACK
    port: int = Field(default=5557, ge=0, le=65535)
    two_theta_min: float = 5.0
    two_theta_max: float = 140.0
    min_step: float = 0.002
    max_points: int = 100_000
    max_count_time_s: float = 60.0
    security: CurveSecurity = Field(default_factory=CurveSecurity)


class SimSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VOLTLAB_SIM_", env_nested_delimiter="__", extra="forbid"
    )

    seed: int = 0
    """Seed of the world's batch-to-batch and cell-to-cell variation."""
    acceleration: float = Field(default=1000.0, gt=0.0)
    """Instrument time runs this many times faster than wall time; ``inf`` = as fast as possible."""
    state_dir: Path = Path("voltlab-state")
    """Sample registry, cell cache, certificates and keys."""
    faults: FaultConfig = Field(default_factory=FaultConfig)
    robot: RobotSettings = Field(default_factory=RobotSettings)
    cycler: CyclerSettings = Field(default_factory=CyclerSettings)
    xrd: XRDSettings = Field(default_factory=XRDSettings)

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

    @property
    def registry_path(self) -> Path:
        return self.state_dir / "samples.sqlite"


def load_sim_settings(path: Path | None = None, **overrides: Any) -> SimSettings:
    """Settings from defaults, an optional YAML file, the environment and explicit overrides."""
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"simulator config file {path} does not exist")
    if path is None:
        return SimSettings(**overrides)
    from_file = type(
        "FileSimSettings",
        (SimSettings,),
        {"model_config": {**SimSettings.model_config, "yaml_file": path}},
    )
    return from_file(**overrides)
