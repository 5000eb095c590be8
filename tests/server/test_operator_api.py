"""The human in the loop over the API, on a live approve-mode campaign: suggestions, veto and
approve, instruments and their current jobs, pause and resume, a manual experiment, abort,
exclusion, and the event WebSocket resuming from a sequence number without gap or duplicate."""

from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession

from tests.server.conftest import Served
from tests.server.server_fixtures import OPERATOR, VIEWER, YAML, cathode_yaml, wait_until
from voltlab.orchestrator.store import Store

CAMPAIGN = "approve"
MANUAL = {
    "ni": 0.8, "mn": 0.1, "co": 0.1, "li_excess": 0.05, "calcination_temperature_c": 820.0,
    "calcination_time_h": 10.0, "dopant": "none", "dopant_fraction": 0.0,
}  # fmt: skip


def post(served: Served, path: str, body: dict[str, Any] | None = None, status: int = 200):
    response = served.client.post(path, headers=OPERATOR, json=body)
    assert response.status_code == status, (path, response.text)
    return response.json()


def get(served: Served, path: str) -> Any:
    response = served.client.get(path, headers=VIEWER)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def suggestion(served: Served, exclude: set[str]) -> str:
    def probe() -> str | None:
        waiting = get(served, f"/api/campaigns/{CAMPAIGN}/suggestions")
        return next((s["id"] for s in waiting if s["id"] not in exclude), None)

    return wait_until(probe, "a suggestion awaiting approval")


def state_is(served: Served, state: str) -> None:
    wait_until(
        lambda: get(served, f"/api/campaigns/{CAMPAIGN}")["state"] == state or None,
        f"campaign {state}",
    )


def receive(socket: WebSocketTestSession, until: Any) -> list[dict[str, Any]]:
    """Events until (and including) the first one ``until`` accepts."""
    events = [socket.receive_json()]
    while not until(events[-1]):
        events.append(socket.receive_json())
    return events


@pytest.fixture(scope="module")
def live(served: Served) -> str:
    text = cathode_yaml(
        experiments=2, cycles=30, approve=True,
        concurrency={"mode": "async", "max_in_flight": 1},
        resources={"cycler_channels": [8, 9]},
    )  # fmt: skip
    response = served.client.post(
        "/api/campaigns", content=text, headers={**OPERATOR, **YAML},
        params={"campaign_id": CAMPAIGN},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    started = post(served, f"/api/campaigns/{CAMPAIGN}/start", status=202)
    assert started["engine"]["running"]
    again = served.client.post(f"/api/campaigns/{CAMPAIGN}/start", headers=OPERATOR)
    assert again.status_code == 409 and "running in this server" in again.json()["detail"]
    return CAMPAIGN


def test_event_socket_resumes_without_gap_or_duplicate(served: Served) -> None:
    text = cathode_yaml(experiments=1, gate_min=0.0, resources={"cycler_channels": [10]})
    created = served.client.post(
        "/api/campaigns", content=text, headers={**OPERATOR, **YAML},
        params={"campaign_id": "socket"},
    )  # fmt: skip
    assert created.status_code == 201
    post(served, "/api/campaigns/socket/start", status=202)
    url = "/ws/events?campaign_id=socket"
    with served.client.websocket_connect(f"{url}&after=0", headers=VIEWER) as socket:
        before = receive(socket, lambda e: e["kind"] == "step" and e["data"]["state"] == "running")
    last = max(e["seq"] for e in before if e["seq"] is not None)
    with served.client.websocket_connect(f"{url}&after={last}", headers=VIEWER) as socket:
        after = receive(socket, lambda e: e["kind"] == "engine" and e["data"]["state"] == "stopped")
    received = [e["seq"] for e in before + after if e["seq"] is not None]
    with Store.open(served.lab) as store:
        stored = [e["seq"] for e in store.events("socket") if e["seq"] <= received[-1]]
        final = store.campaign("socket").state
    assert received == stored, "every stored event once, in order"
    assert final == "completed"
    live_only = [e for e in after if e["seq"] is None]
    assert {e["kind"] for e in live_only} <= {"points", "cycle"}
    assert any(e["kind"] == "points" for e in live_only), "points streamed while it cycled"
    assert all(e["campaign_id"] == "socket" for e in before + after)


def test_operator_flow_on_a_live_campaign(served: Served, live: str) -> None:
    first = suggestion(served, set())
    detail = get(served, f"/api/experiments/{first}")
    assert detail["state"] == "awaiting_approval" and detail["reason"]["strategy"] == "sobol"

    blank = served.client.post(
        f"/api/experiments/{first}/veto", headers=OPERATOR, json={"reason": "  "}
    )
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "reason"]
    vetoed = post(served, f"/api/experiments/{first}/veto", {"reason": "too much cobalt"})
    assert vetoed["event"]["data"]["state"] == "vetoed"
    late = served.client.post(f"/api/experiments/{first}/approve", headers=OPERATOR)
    assert late.status_code == 409 and "not awaiting approval" in late.json()["detail"]

    # Engines schedule only their own steps: a second campaign on the same instruments waits.
    other = served.client.post(
        "/api/campaigns", content=cathode_yaml(), headers={**OPERATOR, **YAML},
        params={"campaign_id": "waits"},
    )  # fmt: skip
    assert other.status_code == 201
    refused = served.client.post("/api/campaigns/waits/start", headers=OPERATOR)
    assert refused.status_code == 409
    assert f"campaign {live} is running here on the same instruments" in refused.json()["detail"]

    second = suggestion(served, {first})
    assert post(served, f"/api/experiments/{second}/approve")["event"]["data"]["state"] == "queued"
    early = served.client.post(
        f"/api/experiments/{second}/exclude", headers=OPERATOR, json={"reason": "bad cell"}
    )
    assert early.status_code == 409 and "has not finished" in early.json()["detail"]

    # While it runs, its instruments answer heartbeats and a step holds an instrument.
    def busy() -> dict[str, Any] | None:
        body = get(served, "/api/instruments")
        mine = {i["name"]: i for i in body["instruments"] if i["campaign_id"] == live}
        held = [r for r in body["resources"] if r["experiment_id"] == second]
        healthy = len(mine) == 3 and all(i["healthy"] for i in mine.values())
        return body if healthy and held else None

    body = wait_until(busy, "healthy instruments and a held resource")
    held = next(r for r in body["resources"] if r["experiment_id"] == second)
    assert held["instrument"] in ("robot", "xrd", "cycler") and held["job_id"]

    bad = served.client.post(
        f"/api/campaigns/{live}/experiments", headers=OPERATOR,
        json={"parameters": {**MANUAL, "li_excess": 0.5}},
    )  # fmt: skip
    assert bad.status_code == 422 and "parameters.li_excess" in bad.json()["detail"]
    manual = post(
        served, f"/api/campaigns/{live}/experiments", {"parameters": MANUAL, "note": "NMC811"},
        status=201,
    )  # fmt: skip
    added = get(served, f"/api/experiments/{manual['experiment_id']}")
    assert added["source"] == "manual" and added["parameters"] == MANUAL

    post(served, f"/api/campaigns/{live}/pause", status=202)
    state_is(served, "paused")
    post(served, f"/api/campaigns/{live}/resume", status=202)
    state_is(served, "running")
    post(served, f"/api/campaigns/{live}/abort", status=202)
    state_is(served, "aborted")
    experiments = get(served, f"/api/campaigns/{live}/experiments")
    assert {e["id"]: e["state"] for e in experiments}[first] == "vetoed"
    assert all(e["state"] in ("vetoed", "aborted", "completed", "gated") for e in experiments)

    excluded = post(served, f"/api/experiments/{second}/exclude", {"reason": "bad cell"})
    assert excluded["event"]["kind"] == "exclude"
    assert get(served, f"/api/experiments/{second}")["exclude_reason"] == "bad cell"
    engine = wait_until(
        lambda: (
            ((e := get(served, f"/api/campaigns/{live}")["engine"])["running"] is False and e)
            or None
        ),
        "the engine to stop",
    )
    assert engine["error"] is None
