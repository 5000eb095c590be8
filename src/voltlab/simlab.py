"""The simulated lab in this process, on free loopback ports, and driver settings reaching it.

Used by ``voltlab demo``, ``voltlab run --sim`` and ``voltlab replay``: the orchestrator still
talks to the instruments only over their wire protocols.
"""

import contextlib
import socket
from collections.abc import AsyncIterator

from voltlab.drivers import CyclerConfig, DriverConfig, RobotConfig, XRDConfig
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.lab import running_lab


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_free_ports(settings: SimSettings) -> SimSettings:
    """The same settings on free loopback ports, so a run never collides with a running lab."""
    return settings.model_copy(
        update={
            "robot": settings.robot.model_copy(update={"port": free_tcp_port()}),
            "cycler": settings.cycler.model_copy(
                update={"command_port": free_tcp_port(), "stream_port": free_tcp_port()}
            ),
            "xrd": settings.xrd.model_copy(update={"port": free_tcp_port()}),
        }
    )


def driver_config(settings: SimSettings) -> DriverConfig:
    """Driver settings for the simulated instruments (no security: loopback only)."""
    robot, cycler, xrd = settings.robot, settings.cycler, settings.xrd
    return DriverConfig(
        robot=RobotConfig(url=f"opc.tcp://{robot.host}:{robot.port}{robot.endpoint_path}"),
        cycler=CyclerConfig(
            endpoint=f"tcp://{cycler.host}:{cycler.command_port}",
            stream_endpoint=f"tcp://{cycler.host}:{cycler.stream_port}",
        ),
        xrd=XRDConfig(endpoint=f"tcp://{xrd.host}:{xrd.port}"),
    )


@contextlib.asynccontextmanager
async def simulated_lab(settings: SimSettings) -> AsyncIterator[DriverConfig]:
    """Run every simulated instrument on free ports; yield the driver settings reaching them."""
    settings = with_free_ports(settings)
    async with running_lab(settings):
        yield driver_config(settings)
