"""Cycler wire contract: commands on a ROUTER socket, streamed points on a PUB socket.

Commands use the JSON envelope of :mod:`voltlab.protocol.envelope`. Points are published as
two frames ``[topic, msgpack(PointBatch)]`` with topic ``cycler.ch<channel:03d>`` so a subscriber
can filter by channel. Every point of a job has a sequence number starting at 0; a subscriber that
sees a gap fetches the missing range with the ``fetch`` command, so no point is lost or doubled.
"""

from enum import StrEnum
from typing import Annotated, Literal

import msgpack
from pydantic import BaseModel, Field, model_validator

from voltlab.protocol._model import StrictModel
from voltlab.protocol.errors import ErrorCode, ProtocolError
from voltlab.protocol.jobs import JOB_ID_PATTERN, JobState

POINT_TOPIC_PREFIX = b"cycler.ch"
STATUS_TOPIC = b"cycler.status"


def point_topic(channel: int) -> bytes:
    return POINT_TOPIC_PREFIX + f"{channel:03d}".encode()


class CyclerCommand(StrEnum):
    LIST_CHANNELS = "list_channels"
    STATUS = "status"
    START = "start"
    STOP = "stop"
    JOB = "job"
    FETCH = "fetch"
    RESET = "reset"


class GalvanostaticCycling(StrictModel):
    """CC charge to ``v_max``, CV hold to ``cv_cutoff_c_rate``, rest, CC discharge to ``v_min``.

    Rates are C-rates of the cell's nominal capacity; voltages in V. Formation cycles run first at
    ``formation_c_rate`` and are counted in ``cycles``.
    """

    kind: Literal["galvanostatic"] = "galvanostatic"
    cycles: int = Field(ge=1, le=5000)
    charge_c_rate: float = Field(gt=0.0)
    discharge_c_rate: float = Field(gt=0.0)
    v_min: float = Field(gt=0.0)
    v_max: float = Field(gt=0.0)
    cv_cutoff_c_rate: float = Field(default=0.05, gt=0.0)
    rest_min: float = Field(default=10.0, ge=0.0)
    formation_cycles: int = Field(default=1, ge=0)
    formation_c_rate: float = Field(default=0.1, gt=0.0)

    @model_validator(mode="after")
    def _check(self) -> "GalvanostaticCycling":
        if self.v_min >= self.v_max:
            raise ValueError(f"v_min ({self.v_min} V) must be below v_max ({self.v_max} V)")
        if self.formation_cycles > self.cycles:
            raise ValueError("formation_cycles cannot exceed cycles")
        return self


class FastChargeCycling(StrictModel):
    """Three-step constant-current fast charge from 0 to 80 % SOC in a fixed time, then discharge.

    CC1 runs from 0 to 20 % SOC and CC2 from 20 to 40 %; CC3 covers 40-80 % at the current that
    meets ``charge_time_min`` (after Attia et al., Nature 2020). As in that work, a 1C CC-CV top-up
    to ``v_max`` follows, and the discharge ends with a CV hold at ``v_min`` so every charge starts
    from empty. Step order within a cycle: CC1, CC2, CC3, top-up CC, top-up CV, rest, discharge,
    hold at ``v_min``, rest.
    """

    kind: Literal["fast_charge"] = "fast_charge"
    cycles: int = Field(ge=1, le=5000)
    cc1_c_rate: float = Field(gt=0.0)
    cc2_c_rate: float = Field(gt=0.0)
    charge_time_min: float = Field(default=10.0, gt=0.0)
    discharge_c_rate: float = Field(default=4.0, gt=0.0)
    v_min: float = Field(default=2.5, gt=0.0)
    v_max: float = Field(default=4.2, gt=0.0)
    rest_min: float = Field(default=1.0, ge=0.0)

    def cc3_c_rate(self) -> float:
        """The CC3 rate that completes 80 % SOC in ``charge_time_min``; non-positive if impossible."""
        used_h = 0.2 / self.cc1_c_rate + 0.2 / self.cc2_c_rate
        left_h = self.charge_time_min / 60.0 - used_h
        return 0.4 / left_h if left_h > 0 else -1.0

    @model_validator(mode="after")
    def _check(self) -> "FastChargeCycling":
        if self.v_min >= self.v_max:
            raise ValueError(f"v_min ({self.v_min} V) must be below v_max ({self.v_max} V)")
        if self.cc3_c_rate() <= 0:
            raise ValueError(
                f"CC1={self.cc1_c_rate}C and CC2={self.cc2_c_rate}C leave no time for CC3 within "
                f"{self.charge_time_min} min"
            )
        return self


CyclingProtocol = Annotated[GalvanostaticCycling | FastChargeCycling, Field(discriminator="kind")]


class CellRef(StrictModel):
    """Which cell sits on the channel. ``sample_id`` names the powder it was built from; ``None``
    means the simulator's reference commercial cell (used by the fast-charge campaign)."""

    cell_id: str = Field(pattern=JOB_ID_PATTERN)
    sample_id: str | None = Field(default=None, pattern=JOB_ID_PATTERN)


class ListChannelsParams(StrictModel):
    """``list_channels`` takes no parameters."""


class ChannelParams(StrictModel):
    channel: int = Field(ge=0)


class StartParams(StrictModel):
    channel: int = Field(ge=0)
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    cell: CellRef
    protocol: CyclingProtocol


class JobParams(StrictModel):
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class FetchParams(StrictModel):
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    from_seq: int = Field(default=0, ge=0)
    max_points: int = Field(default=10_000, ge=1, le=100_000)


class ChannelState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    ERROR = "error"


class ChannelStatus(BaseModel):
    channel: int
    state: ChannelState
    job_id: str | None = None
    error: str | None = None


class CyclerJob(BaseModel):
    """A cycling job as the cycler reports it. ``points`` counts points produced so far."""

    job_id: str
    channel: int
    cell: CellRef
    protocol: CyclingProtocol
    state: JobState
    points: int = 0
    cycle: int = 0
    error: str | None = None


class PointBatch(BaseModel):
    """Consecutive points of one job, columnar. Point ``i`` has sequence number ``first_seq + i``.

    Units: time s since job start, voltage V, current A (positive = discharge), capacity Ah
    (charge passed within the current step), cycle number from 1, step index within the cycle.
    """

    job_id: str
    channel: int
    first_seq: int = Field(ge=0)
    time_s: list[float]
    voltage_v: list[float]
    current_a: list[float]
    capacity_ah: list[float]
    cycle: list[int]
    step: list[int]
    final: bool = False
    """True on the batch that ends the job (it may carry no points)."""
    total_points: int | None = None
    """Points the job has recorded so far; set on ``fetch`` replies (``None`` on the stream)."""

    def __len__(self) -> int:
        return len(self.time_s)


def pack_points(batch: PointBatch) -> bytes:
    return msgpack.packb(batch.model_dump(), use_bin_type=True)


def unpack_points(payload: bytes) -> PointBatch:
    """Decode a streamed batch; a garbled or truncated payload is a BAD_MESSAGE ProtocolError."""
    try:
        return PointBatch.model_validate(msgpack.unpackb(payload, raw=False))
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"undecodable point batch: {exc}") from exc
