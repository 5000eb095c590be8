"""ophyd-async devices of the lab's instruments, whose signals go through the drivers.

Connect them on the loop of the RunEngine that will use them
(:class:`voltlab.drivers.session.BlueskySession` does), and close them there.
"""

from voltlab.drivers.devices._backend import (
    ClientLink,
    DeviceError,
    DriverSignalBackend,
    new_job_id,
)
from voltlab.drivers.devices.cycler_device import Cycler, CyclerChannel, CyclingRequest
from voltlab.drivers.devices.robot_device import CellAssembly, Robot, Synthesis
from voltlab.drivers.devices.xrd_device import XRDStage

__all__ = [
    "CellAssembly",
    "ClientLink",
    "Cycler",
    "CyclerChannel",
    "CyclingRequest",
    "DeviceError",
    "DriverSignalBackend",
    "Robot",
    "Synthesis",
    "XRDStage",
    "new_job_id",
]
