"""What every ZMQ instrument client shares: its context, the RPC core and the connection life."""

from types import TracebackType
from typing import Self

import zmq.asyncio

from voltlab.drivers._zmq_rpc import Params, ZmqRpc
from voltlab.drivers.config import ZmqInstrumentConfig


class ZmqInstrumentClient:
    """``async with Client(config) as c``; ``ctx`` may be shared with other clients.

    ``probe`` is the cheap (command, params) the heartbeat sends to see the instrument is alive.
    """

    def __init__(
        self,
        instrument: str,
        config: ZmqInstrumentConfig,
        probe: tuple[str, Params],
        ctx: zmq.asyncio.Context | None = None,
    ) -> None:
        self._owns_ctx = ctx is None
        self._ctx = ctx or zmq.asyncio.Context()
        self._config = config
        self._rpc = ZmqRpc(instrument, config, self._ctx, probe)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Reach the instrument (raising InstrumentUnavailable or DriverTimeout), start the
        heartbeat."""
        try:
            await self._rpc.open()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self._rpc.close()
        if self._owns_ctx:
            self._ctx.destroy(linger=0)

    @property
    def healthy(self) -> bool:
        return self._rpc.heartbeat.healthy

    @property
    def last_seen(self) -> float | None:
        """``time.time()`` of the last reply from the instrument."""
        return self._rpc.heartbeat.last_seen
