"""Async clients for the instruments' wire protocols, ophyd-async devices and bluesky plans.

Imports only :mod:`voltlab.protocol` of voltlab; the same drivers reach simulated or real
instruments by configuration (:class:`DriverConfig`).
"""

from voltlab.drivers.config import (
    CurveClientKeys,
    CyclerConfig,
    DriverConfig,
    HeartbeatPolicy,
    OpcUaClientSecurity,
    RetryPolicy,
    RobotConfig,
    XRDConfig,
)
from voltlab.drivers.cycler_client import CyclerClient
from voltlab.drivers.errors import (
    CommandRefused,
    DriverError,
    DriverProtocolError,
    DriverTimeout,
    InstrumentUnavailable,
    JobFailed,
)
from voltlab.drivers.robot_client import RobotClient, RobotReadings
from voltlab.drivers.xrd_client import XRDClient

__all__ = [
    "CommandRefused",
    "CurveClientKeys",
    "CyclerClient",
    "CyclerConfig",
    "DriverConfig",
    "DriverError",
    "DriverProtocolError",
    "DriverTimeout",
    "HeartbeatPolicy",
    "InstrumentUnavailable",
    "JobFailed",
    "OpcUaClientSecurity",
    "RetryPolicy",
    "RobotClient",
    "RobotConfig",
    "RobotReadings",
    "XRDClient",
    "XRDConfig",
]
