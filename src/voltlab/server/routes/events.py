"""Events: the stored log (REST) and a live WebSocket feed that resumes from a sequence number.

WebSocket ``/ws/events?after=SEQ[&campaign_id=ID]``: authenticate with ``Authorization: Bearer``
or ``?token=`` (browsers cannot set headers on a WebSocket). Each message is one event as JSON
(seq, at, campaign_id, kind, data). A client that reconnects with the last ``seq`` it got misses
nothing and gets nothing twice; live-only "points" and "cycle" events have seq null.
"""

import contextlib
import json
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from voltlab.server.auth import Viewer, websocket_principal
from voltlab.server.event_feed import EventFeed
from voltlab.server.models import EventOut
from voltlab.server.reads import finite
from voltlab.server.routes.common import SQLITE_INT_MAX, Runtime, errors
from voltlab.server.runtime import LabRuntime

router = APIRouter(tags=["events"])
After = Annotated[
    int, Query(ge=0, le=SQLITE_INT_MAX, description="Only events with a larger sequence number.")
]
CampaignFilter = Annotated[str | None, Query(description="Only this campaign's events.")]


@router.get("/api/events", responses=errors())
async def events(
    runtime: Runtime,
    _: Viewer,
    after: After = 0,
    campaign_id: CampaignFilter = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[EventOut]:
    """The stored event log after ``after``, in sequence order."""
    rows = await runtime.read(lambda s: s.events(campaign_id, after=after, limit=limit))
    return [EventOut(**finite(row)) for row in rows]


async def _pump(websocket: WebSocket, feed: EventFeed, done: anyio.CancelScope) -> None:
    """Send the feed's events until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect, OSError):
        async with contextlib.aclosing(feed.events()) as stream:
            async for event in stream:
                await websocket.send_text(json.dumps(event, allow_nan=False, default=str))
    done.cancel()


async def _until_disconnect(websocket: WebSocket, done: anyio.CancelScope) -> None:
    """Read (and ignore) what the client sends, to notice when it disconnects."""
    with contextlib.suppress(WebSocketDisconnect):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    done.cancel()


@router.websocket("/ws/events")
async def event_socket(
    websocket: WebSocket,
    after: After = 0,
    campaign_id: CampaignFilter = None,
    token: Annotated[str | None, Query(description="The API token (browsers).")] = None,
) -> None:
    principal = await run_in_threadpool(websocket_principal, websocket, token)
    if principal is None:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "missing or invalid token")
        return
    runtime: LabRuntime = websocket.app.state.runtime
    await websocket.accept()
    feed = EventFeed(runtime, after, campaign_id, websocket.app.state.event_poll_s)
    async with anyio.create_task_group() as group:
        group.start_soon(_pump, websocket, feed, group.cancel_scope)
        group.start_soon(_until_disconnect, websocket, group.cancel_scope)
