"""Creating, listing and starting campaigns, and how bad requests are answered: 422 naming the
field, 404 naming the id, 409 with the reason, 413 naming the limit, 415 for a wrong body."""

from fastapi.testclient import TestClient

from tests.server.conftest import Served
from tests.server.server_fixtures import OPERATOR, VIEWER, YAML, cathode_yaml
from voltlab.orchestrator.store import Store


def create(client: TestClient, text: str, **params: str):
    return client.post("/api/campaigns", content=text, headers={**OPERATOR, **YAML}, params=params)


def test_a_created_campaign_is_stored_as_sent_and_waits_to_be_started(served: Served) -> None:
    text = cathode_yaml(experiments=2)
    response = create(served.client, text, campaign_id="created-only")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] == "created-only" and body["state"] == "created"
    assert body["config_yaml"] == text and body["engine"] is None
    # The server's instrument endpoints replace the file's (which point at default ports).
    cycler = body["config"]["instruments"]["cycler"]["endpoint"]
    assert cycler == served.instruments.cycler.endpoint
    with Store.open(served.lab) as store:
        assert store.campaign("created-only").config_yaml == text
    listed = served.client.get("/api/campaigns", headers=VIEWER).json()
    assert "created-only" in [c["id"] for c in listed]


def test_without_an_id_the_name_and_time_make_a_unique_one(served: Served) -> None:
    first = create(served.client, cathode_yaml()).json()["id"]
    second = create(served.client, cathode_yaml()).json()["id"]
    # Same second: "<name>-<time>-2"; otherwise another time. Never the same id.
    assert first.startswith("cathode-discovery-") and second.startswith("cathode-discovery-")
    assert first != second


def test_campaign_file_errors_are_422_naming_the_field(served: Served) -> None:
    response = create(served.client, cathode_yaml(budget={"experiments": 0}))
    assert response.status_code == 422
    assert "budget.experiments" in response.json()["detail"]
    syntax = create(served.client, "name: [unclosed")
    assert syntax.status_code == 422 and "YAML syntax error" in syntax.json()["detail"]
    bad_id = create(served.client, cathode_yaml(), campaign_id="../etc")
    assert bad_id.status_code == 422
    assert bad_id.json()["detail"][0]["loc"] == ["query", "campaign_id"]


def test_wrong_media_type_oversized_body_and_duplicate_id_are_refused(served: Served) -> None:
    as_json = served.client.post("/api/campaigns", json={"name": "x"}, headers=OPERATOR)
    assert as_json.status_code == 415 and "application/yaml" in as_json.json()["detail"]
    huge = create(served.client, "# " + "x" * (1024 * 1024))
    assert huge.status_code == 413
    assert "limit of 1048576 bytes" in huge.json()["detail"]
    assert create(served.client, cathode_yaml(), campaign_id="twice").status_code == 201
    again = create(served.client, cathode_yaml(), campaign_id="twice")
    assert again.status_code == 409 and "'twice' exists already" in again.json()["detail"]


def test_unknown_ids_are_404_naming_the_id(served: Served) -> None:
    for path in (
        "/api/campaigns/nope",
        "/api/campaigns/nope/experiments",
        "/api/campaigns/nope/pareto",
        "/api/experiments/nope-e0001",
        "/api/experiments/nope-e0001/cycling",
        "/api/samples/nope-powder",
    ):
        response = served.client.get(path, headers=VIEWER)
        assert response.status_code == 404, path
        assert "nope" in response.json()["detail"]
        assert str(served.lab.parent) not in response.json()["detail"]
    for action in ("start", "pause", "resume", "abort"):
        response = served.client.post(f"/api/campaigns/nope/{action}", headers=OPERATOR)
        assert response.status_code == 404 and "'nope'" in response.json()["detail"]
    approve = served.client.post("/api/experiments/nope-e0001/approve", headers=OPERATOR)
    assert approve.status_code == 404 and "'nope-e0001'" in approve.json()["detail"]


def test_a_finished_campaign_cannot_start_or_be_paused_again(served: Served, finished: str) -> None:
    start = served.client.post(f"/api/campaigns/{finished}/start", headers=OPERATOR)
    assert start.status_code == 409 and "is completed" in start.json()["detail"]
    pause = served.client.post(f"/api/campaigns/{finished}/pause", headers=OPERATOR)
    assert pause.status_code == 409 and "cannot pause" in pause.json()["detail"]


def test_the_finished_campaign_reports_its_engine_and_counts(served: Served, finished: str) -> None:
    body = served.client.get(f"/api/campaigns/{finished}", headers=VIEWER).json()
    assert body["state"] == "completed" and "budget of 3" in body["reason"]
    assert sum(body["experiments"].values()) == 3
    engine = body["engine"]
    assert engine["running"] is False and engine["error"] is None
    assert engine["finished_at"] >= engine["started_at"]
    assert body["software"]["voltlab"]
