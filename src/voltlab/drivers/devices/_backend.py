"""The ophyd-async transport for voltlab's instruments: signals whose values go through a driver.

One :class:`ClientLink` holds the driver client that a device's signals share. The client is
made and connected when the device connects, on the event loop that connects it: ZMQ asyncio
sockets and asyncua sessions belong to one loop, so devices used by a RunEngine must be
connected on the RunEngine's loop (:class:`~voltlab.drivers.session.BlueskySession` does that).

:class:`DriverSignalBackend` is the ``SignalBackend`` of every instrument signal: ``get`` awaits
a read coroutine that asks the driver, ``put`` a write coroutine, and monitors poll the read.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from bluesky.protocols import Reading
from event_model import DataKey
from ophyd_async.core import (
    Callback,
    SignalBackend,
    SignalDatatypeT,
    SignalMetadata,
    SignalR,
    SignalRW,
    get_dtype,
    make_datakey,
)

from voltlab.drivers._deadline import deadline
from voltlab.errors import VoltlabError

log = logging.getLogger(__name__)

DEFAULT_POLL_PERIOD_S = 0.5
"""How often a monitored signal is read; instruments do not push value changes."""


class DeviceError(VoltlabError, RuntimeError):
    """A device used out of order: not connected, connected on another loop, no job set."""


class Connectable(Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=Connectable)
T = TypeVar("T")


class ClientLink(Generic[ClientT]):
    """The driver client of one instrument, shared by the signals of its device(s).

    ``address`` names the instrument in signal sources (an endpoint or OPC UA URL).
    """

    def __init__(self, instrument: str, address: str, make_client: Callable[[], ClientT]) -> None:
        self.instrument = instrument
        self.address = address
        self._make_client = make_client
        self._client: ClientT | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    async def open(self, timeout_s: float) -> None:
        """Make and connect the client on the running loop, once; later calls return at once."""
        async with self._lock:
            if self._client is not None:
                self._check_loop()
                return
            client = self._make_client()
            async with deadline(timeout_s):
                await client.connect()
            self._client, self._loop = client, asyncio.get_running_loop()

    @property
    def client(self) -> ClientT:
        """The connected client; DeviceError if not connected or used from another loop."""
        if self._client is None:
            raise DeviceError(f"{self.instrument} at {self.address}: device is not connected")
        self._check_loop()
        return self._client

    async def close(self) -> None:
        """Close the client (on its own loop); the device must be connected again to be used."""
        async with self._lock:
            if self._client is not None:
                self._check_loop()
                client, self._client, self._loop = self._client, None, None
                await client.close()

    def _check_loop(self) -> None:
        if asyncio.get_running_loop() is not self._loop:
            raise DeviceError(
                f"{self.instrument} at {self.address}: the device was connected on another "
                "event loop; use it from the loop that connected it (the RunEngine's)"
            )


def new_job_id(prefix: str) -> str:
    """A fresh client-chosen job id, e.g. ``xrd-3f2a9c41d07e`` (instruments key jobs by it)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class SharedRead(Generic[T]):
    """Concurrent reads share one request, so a device's signals read together (as
    ``StandardReadable.read`` does) cost one round trip; a read after it finishes asks again."""

    def __init__(self, fetch: Callable[[], Awaitable[T]]) -> None:
        self._fetch = fetch
        self._pending: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._fetch())
        return await asyncio.shield(self._pending)


def _coerce(datatype: type[SignalDatatypeT], value: Any) -> SignalDatatypeT:
    """The driver's value (JSON types: lists, numbers, strings) as the signal's datatype."""
    if isinstance(datatype, type) and issubclass(datatype, bool | int | float | str):
        return datatype(value)  # type: ignore[return-value]
    return np.asarray(value, dtype=get_dtype(datatype))  # type: ignore[return-value]


class DriverSignalBackend(SignalBackend[SignalDatatypeT]):
    """A signal read (and optionally written) through a driver client.

    ``read()`` returns the current value, asking the driver client of ``link`` (or what the
    device holds from it, such as the last streamed batch); ``write(value)`` applies a new one.
    ``variable_length`` marks 1-D arrays whose length changes between readings (shape
    ``[None]`` in the data key), e.g. streamed point batches.
    """

    def __init__(
        self,
        datatype: type[SignalDatatypeT],
        link: ClientLink[Any],
        field: str,
        read: Callable[[], Awaitable[Any]],
        write: Callable[[SignalDatatypeT], Awaitable[None]] | None = None,
        *,
        units: str | None = None,
        precision: int | None = None,
        variable_length: bool = False,
        poll_period_s: float = DEFAULT_POLL_PERIOD_S,
    ) -> None:
        super().__init__(datatype)
        self._datatype = datatype
        self._link = link
        self._field = field
        self._read = read
        self._write = write
        self._metadata = SignalMetadata()
        if units is not None:
            self._metadata["units"] = units
        if precision is not None:
            self._metadata["precision"] = precision
        self._variable_length = variable_length
        self._poll_period_s = poll_period_s
        self._setpoint: SignalDatatypeT | None = None
        self._monitor: asyncio.Task[None] | None = None

    def source(self, name: str, read: bool) -> str:
        return f"{self._link.address}#{self._field}"

    async def connect(self, timeout: float) -> None:  # noqa: ASYNC109 (SignalBackend's API)
        await self._link.open(timeout)

    async def put(self, value: SignalDatatypeT | None) -> None:
        if self._write is None:
            raise DeviceError(f"{self.source('', read=False)} is read-only")
        if value is None:
            raise DeviceError(f"{self.source('', read=False)}: a put needs a value")
        value = _coerce(self._datatype, value)
        await self._write(value)
        self._setpoint = value

    async def get_value(self) -> SignalDatatypeT:
        return _coerce(self._datatype, await self._read())

    async def get_reading(self) -> Reading[SignalDatatypeT]:
        value = await self.get_value()
        return Reading(value=value, timestamp=time.time(), alarm_severity=0)

    async def get_setpoint(self) -> SignalDatatypeT:
        return self._setpoint if self._setpoint is not None else await self.get_value()

    async def get_datakey(self, source: str) -> DataKey:
        key = make_datakey(self._datatype, await self.get_value(), source, self._metadata)
        if self._variable_length:
            key["shape"] = [None]
        return key

    def set_callback(self, callback: Callback[Reading[SignalDatatypeT]] | None) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            self._monitor = None
        if callback is not None:
            self._monitor = asyncio.create_task(
                self._poll(callback), name=f"monitor {self._link.address}#{self._field}"
            )

    async def _poll(self, callback: Callback[Reading[SignalDatatypeT]]) -> None:
        """Emit the current reading now, then each change seen by reading every period."""
        last: Any = None
        while True:
            try:
                reading = await self.get_reading()
            except VoltlabError as exc:
                log.info("%s: monitor read failed: %s", self._field, exc)
            else:
                if last is None or not np.array_equal(reading["value"], last):
                    last = reading["value"]
                    callback(reading)
            await asyncio.sleep(self._poll_period_s)


def driver_signal_r(
    datatype: type[SignalDatatypeT],
    link: ClientLink[Any],
    field: str,
    read: Callable[[], Awaitable[Any]],
    **options: Any,
) -> SignalR[SignalDatatypeT]:
    """A read-only signal through ``link``; ``options`` as for :class:`DriverSignalBackend`."""
    return SignalR(DriverSignalBackend(datatype, link, field, read, **options))


def driver_signal_rw(
    datatype: type[SignalDatatypeT],
    link: ClientLink[Any],
    field: str,
    read: Callable[[], Awaitable[Any]],
    write: Callable[[SignalDatatypeT], Awaitable[None]],
    **options: Any,
) -> SignalRW[SignalDatatypeT]:
    """A read-write signal through ``link``; ``options`` as for :class:`DriverSignalBackend`."""
    return SignalRW(DriverSignalBackend(datatype, link, field, read, write, **options))
