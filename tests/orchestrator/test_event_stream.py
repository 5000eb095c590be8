"""Live events of a running campaign: the in-process bus and the ZMQ PUB socket for outside
listeners carry the store's event log (same ``seq``) plus live cycling progress (``seq`` None)."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

from tests.conftest import free_port
from tests.orchestrator.conftest import FAST_ENGINE, cathode_campaign
from tests.polling import eventually
from voltlab.drivers import DriverConfig
from voltlab.orchestrator.events import Event, EventBus
from voltlab.orchestrator.runs import run_campaign
from voltlab.orchestrator.states import CampaignState
from voltlab.orchestrator.store import Store

LIVE_KINDS = {"points", "cycle"}
DRAIN_TIMEOUT_S = 10.0


class Listener:
    """An outside ZMQ SUB client collecting ``[kind, json]`` frames."""

    def __init__(self, endpoint: str) -> None:
        self._ctx = zmq.asyncio.Context()
        self._socket = self._ctx.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RECONNECT_IVL, 10)
        self._socket.subscribe(b"")
        self._socket.connect(endpoint)
        self.frames: list[tuple[str, Event]] = []

    async def listen(self) -> None:
        while True:
            kind, payload = await self._socket.recv_multipart()
            self.frames.append((kind.decode(), json.loads(payload)))

    def close(self) -> None:
        self._socket.close(linger=0)
        self._ctx.term()


@pytest.fixture
async def listener() -> AsyncIterator[tuple[str, Listener]]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    client = Listener(endpoint)
    task = asyncio.create_task(client.listen())
    try:
        yield endpoint, client
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        client.close()


def stored(events: list[Event]) -> list[Event]:
    return [e for e in events if e["seq"] is not None]


def comparable(event: Event) -> dict[str, Any]:
    return {k: event[k] for k in ("seq", "at", "campaign_id", "kind", "data")}


async def test_bus_and_zmq_carry_the_event_log_and_live_progress(
    sim_lab: DriverConfig, tmp_path: Path, listener: tuple[str, Listener]
) -> None:
    endpoint, outside = listener
    lab = tmp_path / "lab.sqlite"
    campaign, text = cathode_campaign(
        sim_lab, cycles=4, budget={"experiments": 2},
        concurrency={"mode": "async", "max_in_flight": 2},
    )  # fmt: skip
    bus = EventBus()
    inside: list[Event] = []
    with bus.subscription() as queue:
        row = await run_campaign(
            lab, campaign, text, "test", bus, FAST_ENGINE, events_endpoint=endpoint
        )
        while not queue.empty():
            inside.append(queue.get_nowait())
    assert row.state is CampaignState.COMPLETED

    with Store.open(lab) as store:
        log = store.events("test")
        experiments = store.experiments("test")
        points = {
            s.job_id: len(store.points(s.job_id)["time_s"])
            for e in experiments
            for s in store.steps(e.id)
            if s.kind == "cycle" and s.job_id
        }
    # In process: exactly the stored events, in order, with their content.
    assert [comparable(e) for e in stored(inside)] == [comparable(e) for e in log]
    # Live progress: every stored point was announced once, per cycler job.
    live = [e for e in inside if e["seq"] is None]
    assert {e["kind"] for e in live} == LIVE_KINDS
    announced: dict[str, int] = {}
    for event in live:
        if event["kind"] == "points":
            job = event["data"]["job_id"]
            announced[job] = announced.get(job, 0) + event["data"]["count"]
    assert points and announced == points

    # Outside: [kind, json] frames up to the campaign's final event, matching the store.
    last = log[-1]["seq"]
    await eventually(lambda: any(p["seq"] == last for _, p in outside.frames), DRAIN_TIMEOUT_S)
    assert all(kind == payload["kind"] for kind, payload in outside.frames)
    received = stored([payload for _, payload in outside.frames])
    by_seq = {e["seq"]: e for e in log}
    assert all(comparable(e) == comparable(by_seq[e["seq"]]) for e in received)
    seqs = [e["seq"] for e in received]
    first = [e["seq"] for e in log].index(seqs[0])
    assert seqs == [e["seq"] for e in log[first:]], "the ZMQ stream skipped or reordered events"
    missed = {e["kind"] for e in log[:first]}
    assert missed <= {"campaign"}, f"a late-joining listener missed {missed}"
    assert {"campaign", "experiment", "step"} <= {e["kind"] for e in received}
    assert {kind for kind, p in outside.frames if p["seq"] is None} == LIVE_KINDS
