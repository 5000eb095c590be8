"""What the orchestrator needs of each instrument, as Protocols, and connecting the drivers.

The engine depends only on these Protocols, so the ZMQ/OPC UA driver clients, a recording fake
or any other transport can stand behind them.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from voltlab.drivers import CyclerClient, DriverConfig, RobotClient, XRDClient
from voltlab.protocol import Recipe
from voltlab.protocol.cycler import ChannelStatus, CyclerJob, PointBatch, StartParams
from voltlab.protocol.robot import RobotJob
from voltlab.protocol.xrd import MeasureParams, Pattern, StageStatus


class HasHealth(Protocol):
    @property
    def healthy(self) -> bool: ...


class SynthesisRobot(HasHealth, Protocol):
    async def submit(self, job_id: str, recipe: Recipe) -> RobotJob: ...
    async def assemble_cell(self, job_id: str, sample_id: str) -> RobotJob: ...
    async def wait(self, job_id: str, deadline_s: float) -> RobotJob: ...
    async def abort(self, job_id: str) -> RobotJob: ...
    async def reset(self) -> dict: ...


class DiffractionStage(HasHealth, Protocol):
    async def measure_pattern(
        self, sample_id: str, params: MeasureParams, deadline_s: float
    ) -> Pattern: ...
    async def reset(self) -> StageStatus: ...


class BatteryCycler(HasHealth, Protocol):
    async def start(self, params: StartParams) -> CyclerJob: ...
    async def job(self, job_id: str) -> CyclerJob: ...
    async def stop(self, job_id: str) -> CyclerJob: ...
    async def reset(self, channel: int) -> ChannelStatus: ...
    def stream(
        self,
        job_id: str,
        from_seq: int = 0,
        channel: int | None = None,
        deadline_s: float | None = None,
    ) -> AsyncIterator[PointBatch]: ...


@dataclass
class Instruments:
    """The connected instruments a campaign uses (None: not used by its workflow)."""

    robot: SynthesisRobot | None = None
    xrd: DiffractionStage | None = None
    cycler: BatteryCycler | None = None


@contextlib.asynccontextmanager
async def connected_instruments(
    config: DriverConfig, needed: set[str]
) -> AsyncIterator[Instruments]:
    """Driver clients for the ``needed`` instruments ("robot", "xrd", "cycler"), connected.

    An instrument unreachable at the start raises the driver's InstrumentUnavailable naming it;
    one lost later is reconnected by its driver while the steps needing it wait."""
    async with contextlib.AsyncExitStack() as stack:
        instruments = Instruments()
        if "robot" in needed and config.robot is not None:
            instruments.robot = await stack.enter_async_context(RobotClient(config.robot))
        if "xrd" in needed and config.xrd is not None:
            instruments.xrd = await stack.enter_async_context(XRDClient(config.xrd))
        if "cycler" in needed and config.cycler is not None:
            instruments.cycler = await stack.enter_async_context(CyclerClient(config.cycler))
        yield instruments
