"""Live events: an in-process publish/subscribe bus, and a ZMQ PUB socket for outside listeners.

Events are the store's event-log rows (``seq``, ``at``, ``campaign_id``, ``kind``, ``data``),
published after they are committed, so a listener that missed some can read them back from the
store by sequence number. A slow subscriber loses its oldest events rather than slowing the
engine; the ``seq`` gap tells it to catch up from the store.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import zmq
import zmq.asyncio

log = logging.getLogger(__name__)

Event = dict[str, Any]
SUBSCRIBER_QUEUE = 10_000


class EventBus:
    """Fan-out of events to any number of asyncio subscribers."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.contextmanager
    def subscription(self) -> Iterator[asyncio.Queue[Event]]:
        """A queue receiving every event published while the ``with`` block lasts."""
        queue: asyncio.Queue[Event] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def events(self) -> AsyncIterator[Event]:
        """Iterate over events from now on (until the consumer stops)."""
        with self.subscription() as queue:
            while True:
                yield await queue.get()


class ZmqEventPublisher:
    """Publishes every bus event on a ZMQ PUB socket as ``[kind, json]`` frames."""

    def __init__(self, bus: EventBus, endpoint: str) -> None:
        self._bus = bus
        self._ctx = zmq.asyncio.Context()
        self._socket = self._ctx.socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self.port = self._bind(endpoint)
        self._task: asyncio.Task[None] | None = None

    def _bind(self, endpoint: str) -> int:
        if endpoint.endswith(":0"):
            return self._socket.bind_to_random_port(endpoint.rsplit(":", 1)[0])
        self._socket.bind(endpoint)
        return int(endpoint.rsplit(":", 1)[1])

    def start(self) -> None:
        self._task = asyncio.create_task(self._forward(), name="zmq-event-publisher")

    async def _forward(self) -> None:
        with self._bus.subscription() as queue:
            while True:
                event = await queue.get()
                payload = json.dumps(event, default=str).encode()
                await self._socket.send_multipart([event["kind"].encode(), payload])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._socket.close(linger=0)
        self._ctx.term()
