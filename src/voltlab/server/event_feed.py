"""A resumable event feed: the stored events after a sequence number, then live ones.

The feed subscribes to the bus before reading the store, so nothing committed in between is
lost. Stored events are passed on in ``seq`` order without duplicates: a live event whose
``seq`` is not the next one (another campaign's engine published later, a slow subscriber lost
events, a write from another process) makes the feed read the gap back from the store. When the
bus is quiet the store is checked every ``poll_s`` seconds, which also picks up events logged by
other processes (the CLI on the same lab file). Live-only events ("points", "cycle"; ``seq``
None) pass straight through.
"""

import asyncio
from collections.abc import AsyncIterator

from voltlab.orchestrator.events import Event
from voltlab.server.reads import finite, max_seq
from voltlab.server.runtime import LabRuntime

PAGE = 1000


class EventFeed:
    """Events with ``seq > after`` (of one campaign, or all when ``campaign_id`` is None)."""

    def __init__(
        self, runtime: LabRuntime, after: int, campaign_id: str | None, poll_s: float = 1.0
    ) -> None:
        self._runtime = runtime
        self._cursor = after
        """The highest stored ``seq`` passed on or skipped (of any campaign)."""
        self._campaign_id = campaign_id
        self._poll_s = poll_s

    def _wanted(self, event: Event) -> bool:
        return self._campaign_id is None or event.get("campaign_id") == self._campaign_id

    async def _stored(self) -> list[Event]:
        """Stored events after the cursor (all pages), moving the cursor past them."""
        wanted: list[Event] = []
        while True:
            page = await self._runtime.read(
                lambda s, after=self._cursor: s.events(None, after=after, limit=PAGE)
            )
            if page:
                self._cursor = page[-1]["seq"]
                wanted.extend(finite(e) for e in page if self._wanted(e))
            if len(page) < PAGE:
                return wanted

    async def events(self) -> AsyncIterator[Event]:
        """Stored events first, then live ones, until the consumer stops iterating."""
        with self._runtime.bus.subscription() as queue:
            newest = await self._runtime.read(max_seq)
            if self._cursor > newest:
                self._cursor = newest  # a sequence number from another lab file: start over
            for event in await self._stored():
                yield event
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), self._poll_s)
                except TimeoutError:
                    for stored in await self._stored():
                        yield stored
                    continue
                seq = event.get("seq")
                if seq is None:
                    if self._wanted(event):
                        yield finite(event)
                elif seq == self._cursor + 1:
                    self._cursor = seq
                    if self._wanted(event):
                        yield finite(event)
                elif seq > self._cursor:
                    for stored in await self._stored():
                        yield stored
