"""Run a set of simulated instruments in one process until SIGINT/SIGTERM."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Collection
from enum import StrEnum
from typing import Protocol

from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.servers.cycler import CyclerServer
from voltlab.simulated_hardware.servers.robot import RobotServer
from voltlab.simulated_hardware.servers.xrd import XRDServer

log = logging.getLogger(__name__)


class Instrument(StrEnum):
    ROBOT = "robot"
    CYCLER = "cycler"
    XRD = "xrd"


class InstrumentServer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def describe(self) -> str: ...


SERVER_CLASSES: dict[Instrument, Callable[[LabContext], InstrumentServer]] = {
    Instrument.ROBOT: RobotServer,
    Instrument.CYCLER: CyclerServer,
    Instrument.XRD: XRDServer,
}


@contextlib.asynccontextmanager
async def running_lab(
    settings: SimSettings, instruments: Collection[Instrument] = tuple(Instrument)
) -> AsyncIterator[tuple[LabContext, dict[Instrument, InstrumentServer]]]:
    """Start the chosen instruments on one shared lab context; stop them all on exit."""
    lab = LabContext.from_settings(settings)
    servers: dict[Instrument, InstrumentServer] = {}
    try:
        for instrument in instruments:
            server = SERVER_CLASSES[instrument](lab)
            await server.start()
            servers[instrument] = server
        yield lab, servers
    finally:
        for server in reversed(list(servers.values())):
            await server.stop()
        lab.close()


async def serve_until_signalled(
    settings: SimSettings,
    instruments: Collection[Instrument],
    announce: Callable[[str], None],
) -> None:
    """Serve until SIGINT or SIGTERM, then shut every server down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_lab(settings, instruments) as (_, servers):
            for server in servers.values():
                announce(server.describe())
            announce("simulated lab ready; Ctrl-C or SIGTERM stops it")
            await stop.wait()
            announce("shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
