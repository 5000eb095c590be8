"""Starting or resuming a campaign in a lab file and running it to its end.

A campaign id names one run of a campaign file. Given an id already in the lab file, the run
resumes it (after a crash or a stop), provided the file still describes the same campaign
(instrument endpoints may change); without an id a new, unique one is made, because instruments
remember job ids across campaigns.
"""

import contextlib
import time
from pathlib import Path

from voltlab.orchestrator.campaign import Campaign
from voltlab.orchestrator.engine import CampaignEngine
from voltlab.orchestrator.errors import CampaignError
from voltlab.orchestrator.events import Event, EventBus, ZmqEventPublisher
from voltlab.orchestrator.instruments import connected_instruments
from voltlab.orchestrator.software import software_versions
from voltlab.orchestrator.steps import EngineSettings
from voltlab.orchestrator.store import AsyncStore, CampaignRow, Store


def new_campaign_id(campaign: Campaign) -> str:
    return f"{campaign.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _comparable(campaign: Campaign) -> dict:
    return campaign.model_dump(mode="json", exclude={"instruments"})


def prepare(store: Store, campaign: Campaign, yaml_text: str, campaign_id: str | None) -> str:
    """Create the campaign in the store, or check that ``campaign_id`` there is this campaign.
    Returns the id."""
    return _prepared(store, campaign, yaml_text, campaign_id)[0]


def _prepared(
    store: Store, campaign: Campaign, yaml_text: str, campaign_id: str | None
) -> tuple[str, Event | None]:
    """:func:`prepare`, also returning the "created" event of a new campaign (to publish)."""
    campaign_id = campaign_id or new_campaign_id(campaign)
    known = {row.id: row for row in store.campaigns()}
    if campaign_id not in known:
        _, created = store.create_campaign(
            campaign_id,
            campaign.name,
            yaml_text,
            campaign.model_dump(mode="json"),
            campaign.seed,
            software_versions(),
        )
        return campaign_id, created
    stored = known[campaign_id]
    if {k: v for k, v in stored.config.items() if k != "instruments"} != _comparable(campaign):
        raise CampaignError(
            f"{store.path}: campaign {campaign_id} was started from a different campaign file; "
            "resume it with the same file (only instrument endpoints may change)"
        )
    return campaign_id, None


async def run_campaign(
    lab_path: Path,
    campaign: Campaign,
    yaml_text: str,
    campaign_id: str | None = None,
    bus: EventBus | None = None,
    settings: EngineSettings | None = None,
    events_endpoint: str | None = None,
) -> CampaignRow:
    """Run (or resume) the campaign to its end against its instruments; returns its final row."""
    bus = bus or EventBus()
    store = AsyncStore(Store.open(lab_path))
    try:
        async with contextlib.AsyncExitStack() as stack:
            if events_endpoint is not None:
                publisher = ZmqEventPublisher(bus, events_endpoint)
                publisher.start()
                stack.push_async_callback(publisher.close)
            campaign_id, created = await store.call(
                lambda s: _prepared(s, campaign, yaml_text, campaign_id)
            )
            if created is not None:
                bus.publish(created)
            needed = {name for name in ("robot", "xrd", "cycler") if campaign.needs(name)}
            instruments = await stack.enter_async_context(
                connected_instruments(campaign.instruments, needed)
            )
            engine = CampaignEngine(store, campaign_id, campaign, instruments, bus, settings)
            return await engine.run()
    finally:
        store.close()
