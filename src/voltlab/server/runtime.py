"""One process runs the orchestrator and the API on the same lab file.

:class:`LabRuntime` owns the lab store (one connection on one worker thread for operator actions,
a pool of read connections for the API's reads), the event bus every engine publishes on and the
WebSocket clients read, and the campaign engines running in this process (each with its own
store connection and its own connected instruments).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from voltlab.drivers import DriverConfig
from voltlab.orchestrator.campaign import Campaign, parse_campaign
from voltlab.orchestrator.events import EventBus, ZmqEventPublisher
from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.runs import new_campaign_id, prepare
from voltlab.orchestrator.states import CampaignState
from voltlab.orchestrator.steps import EngineSettings
from voltlab.orchestrator.store import AsyncStore, CampaignRow, Store
from voltlab.server.engines import EngineHandle, run_engine, shared_instruments
from voltlab.server.errors import ConflictError, InvalidInputError, NotFoundError
from voltlab.server.read_pool import ReadPool

log = logging.getLogger(__name__)
T = TypeVar("T")
CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
UNFINISHED = (CampaignState.RUNNING, CampaignState.PAUSED)


class LabRuntime:
    """The lab file, the event bus and the engines running in this process.

    ``instruments`` (optional) replaces every campaign's instrument endpoints, so one server
    config says where the lab's instruments are; ``engine_settings`` tunes the engines."""

    def __init__(
        self,
        lab_path: Path,
        *,
        instruments: DriverConfig | None = None,
        engine_settings: EngineSettings | None = None,
        events_endpoint: str | None = None,
    ) -> None:
        self.lab_path = Path(lab_path)
        self.bus = EventBus()
        self.instruments = instruments
        self.engine_settings = engine_settings
        self._events_endpoint = events_endpoint
        self._store: AsyncStore | None = None
        self._reads: ReadPool | None = None
        self._publisher: ZmqEventPublisher | None = None
        self.engines: dict[str, EngineHandle] = {}

    # -- life cycle ------------------------------------------------------------------------

    async def start(self, resume_unfinished: bool = False) -> None:
        """Open the lab file (created if missing), start the ZMQ publisher if configured and,
        with ``resume_unfinished``, resume every campaign left running or paused."""
        store = await asyncio.to_thread(Store.open, self.lab_path)
        self._store = AsyncStore(store)
        self._reads = ReadPool(self.lab_path)
        if self._events_endpoint is not None:
            self._publisher = ZmqEventPublisher(self.bus, self._events_endpoint)
            self._publisher.start()
        if resume_unfinished:
            for row in await self.read(lambda s: s.campaigns()):
                if row.state in UNFINISHED:
                    log.info("resuming campaign %s (%s)", row.id, row.state)
                    await self.start_campaign(row.id)

    async def close(self) -> None:
        """Stop the engines here (their campaigns stay resumable), then close the lab file."""
        for handle in self.engines.values():
            handle.task.cancel()
        await asyncio.gather(*(h.task for h in self.engines.values()), return_exceptions=True)
        if self._publisher is not None:
            await self._publisher.close()
        if self._reads is not None:
            await asyncio.to_thread(self._reads.close)
            self._reads = None
        if self._store is not None:
            await asyncio.to_thread(self._store.close)
            self._store = None

    # -- store access ----------------------------------------------------------------------

    async def read(self, fn: Callable[[Store], T]) -> T:
        """Run the read-only ``fn`` on one of the read connections."""
        return await self._read_pool().read(fn)

    async def lab(self, fn: Callable[[Lab], T]) -> T:
        """Run the read-only ``fn`` on the notebook API (DataFrames) of a read connection."""
        return await self._read_pool().lab(fn)

    async def write(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn``, which writes, on the writer's thread (writes go one at a time)."""
        if self._store is None:
            raise ConflictError("the lab runtime is not started")
        return await self._store.call(fn)

    async def act(self, fn: Callable[[Store], dict[str, Any]]) -> dict[str, Any]:
        """Run an operator action that logs an event; publish that event right away."""
        event = await self.write(fn)
        self.bus.publish(event)
        return event

    def _read_pool(self) -> ReadPool:
        if self._reads is None:
            raise ConflictError("the lab runtime is not started")
        return self._reads

    async def campaign(self, campaign_id: str) -> CampaignRow:
        known = await self.read(lambda s: {row.id: row for row in s.campaigns()})
        if campaign_id not in known:
            raise NotFoundError(f"no campaign {campaign_id!r}")
        return known[campaign_id]

    async def check_experiment(self, experiment_id: str) -> None:
        def exists(store: Store) -> bool:
            return bool(store.db["experiments"].count_where("id = ?", [experiment_id]))

        if not await self.read(exists):
            raise NotFoundError(f"no experiment {experiment_id!r}")

    # -- campaigns -------------------------------------------------------------------------

    def _pointed(self, campaign: Campaign) -> Campaign:
        return campaign if self.instruments is None else campaign.with_instruments(self.instruments)

    async def create_campaign(self, yaml_text: str, campaign_id: str | None = None) -> str:
        """Validate the campaign YAML and store it (state created); returns its id.
        A bad file raises CampaignError naming the field."""
        campaign = self._pointed(parse_campaign(yaml_text, "campaign"))
        ids = {row.id for row in await self.read(lambda s: s.campaigns())}
        if campaign_id is not None and campaign_id in ids:
            raise ConflictError(f"campaign {campaign_id!r} exists already")
        if campaign_id is None:
            base = new_campaign_id(campaign)
            campaign_id = next(
                c for c in (base, *(f"{base}-{n}" for n in range(2, 10_000))) if c not in ids
            )
        chosen = campaign_id

        def create(store: Store) -> list[dict[str, Any]]:
            prepare(store, campaign, yaml_text, chosen)
            return store.events(chosen)

        for event in await self.write(create):
            self.bus.publish(event)
        return chosen

    async def start_campaign(self, campaign_id: str) -> None:
        """Run (or resume) a stored campaign's engine in this process."""
        row = await self.campaign(campaign_id)
        if row.state.is_final:
            raise ConflictError(f"campaign {campaign_id} is {row.state}: it cannot run again")
        handle = self.engines.get(campaign_id)
        if handle is not None and not handle.task.done():
            raise ConflictError(f"campaign {campaign_id} is running in this server already")
        try:
            campaign = self._pointed(Campaign.model_validate(row.config))
        except ValueError as exc:
            raise InvalidInputError(
                f"campaign {campaign_id}: stored config unusable: {exc}"
            ) from exc
        for other in self.engines.values():
            shared = shared_instruments(campaign, other.campaign) if other.running else []
            if shared:
                raise ConflictError(
                    f"campaign {other.campaign_id} is running here on the same instruments "
                    f"({'; '.join(shared)}); start {campaign_id} when it ends"
                )
        handle = EngineHandle(campaign_id, campaign, started_at=time.time())
        handle.task = asyncio.create_task(
            run_engine(handle, self.lab_path, campaign, self.bus, self.engine_settings),
            name=f"campaign {campaign_id}",
        )
        self.engines[campaign_id] = handle

    def engine(self, campaign_id: str) -> EngineHandle | None:
        return self.engines.get(campaign_id)
