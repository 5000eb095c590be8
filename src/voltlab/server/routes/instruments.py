"""Instruments: health of each running engine's driver clients, which experiment and step holds
each instrument (its current job), and recent faults."""

from typing import Annotated, Protocol, runtime_checkable

from fastapi import APIRouter, Query

from voltlab.server import reads
from voltlab.server.auth import Viewer
from voltlab.server.engines import INSTRUMENT_NAMES
from voltlab.server.models import EventOut, InstrumentOut, InstrumentsOut, ResourceOut
from voltlab.server.routes.common import Runtime, errors

router = APIRouter(prefix="/api", tags=["instruments"])


@runtime_checkable
class _Heartbeat(Protocol):
    """What the driver clients tell of a connection's health (heartbeats)."""

    @property
    def healthy(self) -> bool: ...

    @property
    def last_seen(self) -> float | None: ...


@router.get("/instruments", responses=errors())
async def instruments(
    runtime: Runtime,
    _: Viewer,
    faults: Annotated[int, Query(ge=0, le=1000, description="How many recent faults.")] = 50,
) -> InstrumentsOut:
    """Every running engine's instruments (healthy: answering heartbeats; last_seen: Unix s),
    the instrument units held by running steps, and the newest outage and retry events."""
    clients = []
    for campaign_id, handle in runtime.engines.items():
        connected = handle.instruments
        if connected is None:
            continue
        for name, client in zip(
            INSTRUMENT_NAMES, (connected.robot, connected.xrd, connected.cycler), strict=True
        ):
            if isinstance(client, _Heartbeat):
                clients.append(
                    InstrumentOut(
                        campaign_id=campaign_id,
                        name=name,
                        healthy=client.healthy,
                        last_seen=client.last_seen,
                    )
                )
    held = await runtime.read(reads.held_resources)
    recent = await runtime.read(lambda s: reads.faults(s, faults))
    return InstrumentsOut(
        instruments=clients,
        resources=[ResourceOut(**row) for row in held],
        faults=[EventOut(**event) for event in recent],
    )
