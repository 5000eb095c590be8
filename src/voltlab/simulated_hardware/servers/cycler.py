"""The simulated battery cycler: commands on a ROUTER socket, points on a PUB socket.

Each channel cycles one cell whose trace comes from the cell model (run in worker processes
and cached on disk) and streams it in instrument time, ``acceleration`` times faster than real
time. Commands are checked against the channel interlocks (voltage window, C-rate, current)
before a job starts; job ids are the client's idempotency keys.
"""

import asyncio
import logging
from collections.abc import Mapping

import zmq.asyncio

from voltlab.protocol import ErrorCode, ProtocolError
from voltlab.protocol.cycler import (
    ChannelParams,
    CyclerCommand,
    CyclerJob,
    FastChargeCycling,
    FetchParams,
    JobParams,
    ListChannelsParams,
    StartParams,
)
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.registry import UnknownSampleError
from voltlab.simulated_hardware.servers.cell_pool import CellPool
from voltlab.simulated_hardware.servers.curve import ensure_keypair
from voltlab.simulated_hardware.servers.cycler_channels import Channel, CyclerChannels, Job
from voltlab.simulated_hardware.servers.cycler_interlocks import check_interlocks
from voltlab.simulated_hardware.servers.cycler_stream import PointPublisher
from voltlab.simulated_hardware.servers.zmq_command_server import Command, ZmqCommandServer
from voltlab.simulated_hardware.world.cell_descriptors import cell_descriptors
from voltlab.simulated_hardware.world.cell_types import CellSpec
from voltlab.simulated_hardware.world.fast_charge import (
    REFERENCE_CATHODE_MASS_G,
    REFERENCE_DESCRIPTORS,
    fast_charge_cell_spec,
)

log = logging.getLogger(__name__)

NAME = "cycler"


class CyclerServer:
    """``pool`` may be shared between servers (tests do); a server stops only a pool it made."""

    def __init__(self, lab: LabContext, pool: CellPool | None = None) -> None:
        self._lab = lab
        self._settings = lab.settings.cycler
        self._owns_pool = pool is None
        self._pool = pool or CellPool(
            lab.settings.state_dir / "cells", lab.settings.seed, self._settings.sample_period_s
        )
        self._ctx: zmq.asyncio.Context | None = None
        self._commands: ZmqCommandServer | None = None
        self._publisher: PointPublisher | None = None
        self._channels: CyclerChannels | None = None

    @property
    def command_endpoint(self) -> str:
        return self._commands.endpoint if self._commands else "(not started)"

    @property
    def stream_endpoint(self) -> str:
        return self._publisher.endpoint if self._publisher else "(not started)"

    @property
    def public_key(self) -> bytes | None:
        """The server's CURVE public key (Z85) when CURVE is on."""
        return self._commands.public_key if self._commands else None

    @property
    def dropped_batches(self) -> int:
        """Stream batches dropped because a subscriber stalled (they remain fetchable)."""
        return self._publisher.dropped if self._publisher else 0

    @property
    def channels(self) -> CyclerChannels:
        if self._channels is None:
            raise RuntimeError("cycler server is not started")
        return self._channels

    async def start(self) -> None:
        """Warm the cell-model workers (seconds, once per pool), then open both sockets.
        A failed start releases whatever it had opened (workers, sockets) before raising."""
        try:
            await self._open()
        except BaseException:
            await self.stop()
            raise

    async def _open(self) -> None:
        await asyncio.to_thread(self._pool.warm)
        security = self._settings.security
        key_dir = security.key_dir or self._lab.settings.state_dir / "keys"
        keys = ensure_keypair(key_dir, NAME) if security.enabled else None
        self._ctx = zmq.asyncio.Context()
        host = self._settings.host
        self._publisher = PointPublisher(self._ctx, host, self._settings.stream_port, keys)
        self._channels = CyclerChannels(
            self._settings.channels, self._lab, self._pool, self._publisher
        )
        self._commands = ZmqCommandServer(
            NAME,
            host,
            self._settings.command_port,
            self._command_table(),
            self._lab.faults,
            self._ctx,
            curve=security,
            key_dir=key_dir,
        )
        await self._commands.start()
        log.info("%s", self.describe())

    async def stop(self) -> None:
        if self._commands is not None:
            await self._commands.stop()
            self._commands = None
        if self._channels is not None:
            await self._channels.close()
            self._channels = None
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None
        if self._owns_pool:
            await asyncio.to_thread(self._pool.shutdown)

    def describe(self) -> str:
        curve = ", CURVE" if self._settings.security.enabled else ""
        return (
            f"cycler: commands {self.command_endpoint}, points {self.stream_endpoint}, "
            f"{self._settings.channels} channels{curve}"
        )

    def _command_table(self) -> Mapping[str, Command]:
        return {
            CyclerCommand.LIST_CHANNELS: Command(ListChannelsParams, self._list_channels),
            CyclerCommand.STATUS: Command(ChannelParams, self._status),
            CyclerCommand.START: Command(StartParams, self._start),
            CyclerCommand.STOP: Command(JobParams, self._stop),
            CyclerCommand.JOB: Command(JobParams, self._job),
            CyclerCommand.FETCH: Command(FetchParams, self._fetch),
            CyclerCommand.RESET: Command(ChannelParams, self._reset),
        }

    async def _list_channels(self, _: ListChannelsParams) -> dict[str, object]:
        return {"channels": [channel.status() for channel in self.channels.channels]}

    async def _status(self, params: ChannelParams) -> dict[str, object]:
        return self._channel(params.channel).status()

    async def _start(self, params: StartParams) -> CyclerJob:
        known = self.channels.jobs.get(params.job_id)
        if known is not None:
            if known.params != params:
                raise ProtocolError(
                    ErrorCode.JOB_CONFLICT,
                    f"job {params.job_id!r} exists with different parameters "
                    f"(channel {known.params.channel}, cell {known.params.cell.cell_id!r})",
                    field="params.job_id",
                )
            return known.report()
        channel = self._channel(params.channel)
        if channel.error:
            raise ProtocolError(
                ErrorCode.DEVICE_ERROR,
                f"channel {channel.index} is in its error state ({channel.error}); reset it",
                field="params.channel",
            )
        if channel.busy:
            assert channel.job is not None
            raise ProtocolError(
                ErrorCode.BUSY,
                f"channel {channel.index} is running job {channel.job.job_id!r}",
                field="params.channel",
            )
        spec = self._cell_spec(params)
        check_interlocks(params.protocol, spec.nominal_capacity_ah, self._settings)
        job = Job(params, spec)
        await self.channels.start(job)
        return job.report()

    async def _stop(self, params: JobParams) -> CyclerJob:
        job = self._job_named(params.job_id)
        await self.channels.stop(job)
        return job.report()

    async def _job(self, params: JobParams) -> CyclerJob:
        return self._job_named(params.job_id).report()

    async def _fetch(self, params: FetchParams) -> dict[str, object]:
        job = self._job_named(params.job_id)
        return self.channels.fetch(job, params.from_seq, params.max_points)

    async def _reset(self, params: ChannelParams) -> dict[str, object]:
        channel = self._channel(params.channel)
        await self.channels.reset(channel)
        return channel.status()

    def _channel(self, index: int) -> Channel:
        channels = self.channels.channels
        if index >= len(channels):
            raise ProtocolError(
                ErrorCode.UNKNOWN_CHANNEL,
                f"channel {index} does not exist; this cycler has channels 0-{len(channels) - 1}",
                field="params.channel",
            )
        return channels[index]

    def _job_named(self, job_id: str) -> Job:
        job = self.channels.jobs.get(job_id)
        if job is None:
            raise ProtocolError(
                ErrorCode.UNKNOWN_JOB, f"no cycler job {job_id!r}", field="params.job_id"
            )
        return job

    def _cell_spec(self, params: StartParams) -> CellSpec:
        """The physical cell on the channel: one built from a registered powder, or (no sample
        id) the reference cell, whose fast-charge degradation depends on the charging stress."""
        cell = params.cell
        if cell.sample_id is None:
            if isinstance(params.protocol, FastChargeCycling):
                return fast_charge_cell_spec(cell.cell_id, params.protocol)
            return CellSpec(cell.cell_id, REFERENCE_DESCRIPTORS, REFERENCE_CATHODE_MASS_G)
        try:
            powder = self._lab.registry.cell_powder(cell.cell_id)
        except UnknownSampleError as exc:
            raise ProtocolError(
                ErrorCode.UNKNOWN_SAMPLE, exc.args[0], field="params.cell.cell_id"
            ) from exc
        if powder.sample_id != cell.sample_id:
            raise ProtocolError(
                ErrorCode.UNKNOWN_SAMPLE,
                f"cell {cell.cell_id!r} was built from powder {powder.sample_id!r}, "
                f"not {cell.sample_id!r}",
                field="params.cell.sample_id",
            )
        return CellSpec(cell.cell_id, cell_descriptors(powder.product))
