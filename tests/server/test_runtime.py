"""The runtime's own promises: a server restarted on a lab file resumes the campaigns it says
were running; an engine that cannot reach its instruments reports why instead of hanging."""

import asyncio
import json
import threading
from pathlib import Path

import zmq
from fastapi.testclient import TestClient

from tests.conftest import free_port
from tests.server.conftest import Served, campaign_state
from tests.server.server_fixtures import FAST_ENGINE, OPERATOR, cathode_yaml, wait_until
from voltlab.drivers import DriverConfig
from voltlab.orchestrator.campaign import parse_campaign
from voltlab.orchestrator.runs import prepare
from voltlab.orchestrator.states import CampaignState
from voltlab.orchestrator.store import Store
from voltlab.server import LabRuntime, ServerSettings, create_app

QUICK_RETRY = {"reply_timeout_s": 0.2, "attempts": 1, "backoff_initial_s": 0.0}
WRITE_HOLD_S = 20.0


def test_a_restarted_server_resumes_running_campaigns(
    served: Served, tmp_path: Path, token_hashes: list[dict[str, str]]
) -> None:
    lab = tmp_path / "lab.sqlite"
    campaign = parse_campaign(cathode_yaml(experiments=1)).with_instruments(served.instruments)
    with Store.open(lab) as store:
        prepare(store, campaign, "yaml", "interrupted")
        store.set_campaign_state("interrupted", CampaignState.RUNNING)
    settings = ServerSettings(lab=lab, tokens=token_hashes)
    runtime = LabRuntime(lab, instruments=served.instruments, engine_settings=FAST_ENGINE)
    with TestClient(create_app(settings, runtime)) as client:
        assert runtime.engine("interrupted") is not None
        wait_until(
            lambda: campaign_state(client, "interrupted") == "completed" or None,
            "the resumed campaign to complete",
        )


def test_an_unreachable_instrument_is_reported_not_waited_on(
    tmp_path: Path, token_hashes: list[dict[str, str]]
) -> None:
    lab = tmp_path / "lab.sqlite"
    nowhere = DriverConfig.model_validate(
        {
            "robot": {"url": f"opc.tcp://127.0.0.1:{free_port()}/x/", "retry": QUICK_RETRY},
            "cycler": {
                "endpoint": f"tcp://127.0.0.1:{free_port()}",
                "stream_endpoint": f"tcp://127.0.0.1:{free_port()}",
                "retry": QUICK_RETRY,
            },
            "xrd": {"endpoint": f"tcp://127.0.0.1:{free_port()}", "retry": QUICK_RETRY},
        }
    )
    settings = ServerSettings(lab=lab, tokens=token_hashes)
    with TestClient(create_app(settings, LabRuntime(lab, instruments=nowhere))) as client:
        created = client.post(
            "/api/campaigns", content=cathode_yaml(), headers={**OPERATOR, "Content-Type":
            "application/yaml"}, params={"campaign_id": "unreachable"},
        )  # fmt: skip
        assert created.status_code == 201
        assert client.post("/api/campaigns/unreachable/start", headers=OPERATOR).status_code == 202

        def stopped() -> dict | None:
            body = client.get("/api/campaigns/unreachable", headers=OPERATOR).json()
            return body if not body["engine"]["running"] else None

        body = wait_until(stopped, "the engine to give up", timeout_s=30)
        assert "InstrumentUnavailable" in body["engine"]["error"]
        assert body["state"] == "created", "the campaign can be started again later"
        events = client.get(
            "/api/events", headers=OPERATOR, params={"campaign_id": "unreachable"}
        ).json()
        assert events[-1]["kind"] == "engine" and events[-1]["data"]["state"] == "failed"


def test_events_are_also_published_on_zmq(
    tmp_path: Path, token_hashes: list[dict[str, str]]
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    lab = tmp_path / "lab.sqlite"
    settings = ServerSettings(lab=lab, tokens=token_hashes, events_endpoint=endpoint)
    runtime = LabRuntime(lab, events_endpoint=settings.events_endpoint)
    context = zmq.Context()
    subscriber = context.socket(zmq.SUB)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"")
    subscriber.setsockopt(zmq.LINGER, 0)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            subscriber.connect(endpoint)
            created = client.post(
                "/api/campaigns", content=cathode_yaml(), params={"campaign_id": "zmq"},
                headers={**OPERATOR, "Content-Type": "application/yaml"},
            )  # fmt: skip
            assert created.status_code == 201

            def request_heard() -> dict | None:
                # PUB drops messages until the subscription has reached it: ask again.
                client.post("/api/campaigns/zmq/pause", headers=OPERATOR)
                if not subscriber.poll(200):
                    return None
                kind, payload = subscriber.recv_multipart()
                return json.loads(payload) if kind == b"request" else None

            event = wait_until(request_heard, "an event on the ZMQ socket", timeout_s=10)
            assert event["campaign_id"] == "zmq" and event["data"] == {"request": "pause"}
    finally:
        subscriber.close()
        context.term()


async def test_reads_go_on_while_a_write_holds_the_writer(tmp_path: Path) -> None:
    """API reads have connections of their own: a slow write does not queue them, and they
    see what the writer has committed."""
    runtime = LabRuntime(tmp_path / "lab.sqlite")
    await runtime.start()
    try:
        created = await runtime.create_campaign(cathode_yaml(experiments=1), "seen")
        release = threading.Event()
        held = asyncio.ensure_future(runtime.write(lambda _: release.wait(WRITE_HOLD_S)))
        rows = await asyncio.wait_for(runtime.read(lambda s: s.campaigns()), WRITE_HOLD_S / 2)
        assert [row.id for row in rows] == [created] and not held.done()
        frame = await asyncio.wait_for(runtime.lab(lambda lab: lab.experiments(created)), 5)
        assert frame.empty
        release.set()
        assert await held is True
    finally:
        await runtime.close()
