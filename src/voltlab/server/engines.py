"""A campaign engine run by the server: its task, its connected instruments and how it ended.

The engine gets its own store connection (its writes never queue behind the API's reads) and
publishes on the server's bus. Its start, end and any failure to start (an unreachable
instrument) are logged as ``engine`` events, so operators see them in the event log.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from voltlab.orchestrator.campaign import Campaign
from voltlab.orchestrator.engine import CampaignEngine
from voltlab.orchestrator.events import EventBus
from voltlab.orchestrator.instruments import Instruments, connected_instruments
from voltlab.orchestrator.steps import EngineSettings
from voltlab.orchestrator.store import AsyncStore, CampaignRow, Store

log = logging.getLogger(__name__)
INSTRUMENT_NAMES = ("robot", "xrd", "cycler")


@dataclass
class EngineHandle:
    """One campaign's engine in this process."""

    campaign_id: str
    campaign: Campaign
    started_at: float
    task: "asyncio.Task[CampaignRow | None]" = field(init=False)
    instruments: Instruments | None = None
    """The connected driver clients while the engine runs (None before connecting, after)."""
    error: str | None = None
    """Why the engine stopped early (an instrument unreachable at start, an internal error)."""
    finished_at: float | None = None

    @property
    def running(self) -> bool:
        return not self.task.done()


def shared_instruments(campaign: Campaign, other: Campaign) -> list[str]:
    """Instruments both campaigns would drive (same endpoint; for the cycler, same channels).
    Engines schedule only their own campaign's steps, so two of them must not share one."""
    mine, theirs = campaign.instruments, other.instruments
    both = {name for name in INSTRUMENT_NAMES if campaign.needs(name) and other.needs(name)}
    shared = []
    if "robot" in both and mine.robot and theirs.robot and mine.robot.url == theirs.robot.url:
        shared.append(f"robot {mine.robot.url}")
    if "xrd" in both and mine.xrd and theirs.xrd and mine.xrd.endpoint == theirs.xrd.endpoint:
        shared.append(f"xrd {mine.xrd.endpoint}")
    if "cycler" in both and mine.cycler and theirs.cycler:
        channels = set(campaign.resources.cycler_channels) & set(other.resources.cycler_channels)
        if mine.cycler.endpoint == theirs.cycler.endpoint and channels:
            shared.append(f"cycler {mine.cycler.endpoint} channels {sorted(channels)}")
    return shared


async def _log(store: AsyncStore, bus: EventBus, campaign_id: str, data: dict) -> None:
    event = await store.call(lambda s: s.log_event(campaign_id, "engine", data))
    bus.publish(event)


async def run_engine(
    handle: EngineHandle,
    lab_path: Path,
    campaign: Campaign,
    bus: EventBus,
    settings: EngineSettings | None,
) -> CampaignRow | None:
    """Connect the campaign's instruments and run its engine to the end (None: failed)."""
    store = AsyncStore(await asyncio.to_thread(Store.open, lab_path))
    campaign_id = handle.campaign_id
    needed = {name for name in INSTRUMENT_NAMES if campaign.needs(name)}
    try:
        await _log(store, bus, campaign_id, {"state": "starting", "instruments": sorted(needed)})
        async with connected_instruments(campaign.instruments, needed) as instruments:
            handle.instruments = instruments
            engine = CampaignEngine(store, campaign_id, campaign, instruments, bus, settings)
            row = await engine.run()
        await _log(store, bus, campaign_id, {"state": "stopped", "campaign_state": row.state})
        return row
    except asyncio.CancelledError:
        log.info("engine of campaign %s stopped with the server", campaign_id)
        raise
    except Exception as exc:  # an engine failing must not take the server down
        log.exception("engine of campaign %s failed", campaign_id)
        handle.error = f"{type(exc).__name__}: {exc}"
        await _log(store, bus, campaign_id, {"state": "failed", "error": handle.error})
        return None
    finally:
        handle.instruments = None
        handle.finished_at = time.time()
        await asyncio.to_thread(store.close)
