"""Auth on every endpoint, found from the OpenAPI document so a new endpoint cannot slip by:
401 without or with a wrong token (with a Bearer challenge), 403 for a viewer acting, and the
WebSocket refusing a missing or wrong token."""

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.server.conftest import Served
from tests.server.server_fixtures import OPERATOR, VIEWER, VIEWER_TOKEN, YAML, cathode_yaml

PUBLIC = {("get", "/api/health")}


def operations(served: Served) -> list[tuple[str, str]]:
    paths = served.client.app.openapi()["paths"]
    found = [(method, path) for path, item in paths.items() for method in item]
    assert len(found) >= 25
    return found


def concrete(path: str) -> str:
    return path.format(campaign_id="some-campaign", experiment_id="some-e0001", sample_id="s")


def test_every_endpoint_but_health_refuses_a_missing_token(served: Served) -> None:
    for method, path in operations(served):
        response = served.client.request(method, concrete(path))
        if (method, path) in PUBLIC:
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "missing bearer token" in response.json()["detail"]


def test_every_endpoint_refuses_a_wrong_token(served: Served) -> None:
    for method, path in operations(served):
        if (method, path) in PUBLIC:
            continue
        for header in ("Bearer not-a-token", f"Basic {VIEWER_TOKEN}"):
            response = served.client.request(
                method, concrete(path), headers={"Authorization": header}
            )
            assert response.status_code == 401, (method, path, header, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_every_mutation_needs_an_operator(served: Served) -> None:
    mutations = [(m, p) for m, p in operations(served) if m != "get"]
    assert len(mutations) == 9
    for method, path in mutations:
        response = served.client.request(method, concrete(path), headers=VIEWER)
        assert response.status_code == 403, (method, path, response.text)
        detail = response.json()["detail"]
        assert "victor" in detail and "needs role operator" in detail


def test_viewers_read_and_whoami_tells_the_role(served: Served) -> None:
    assert served.client.get("/api/whoami", headers=VIEWER).json() == {
        "name": "victor",
        "role": "viewer",
    }
    assert served.client.get("/api/whoami", headers=OPERATOR).json()["role"] == "operator"
    assert served.client.get("/api/campaigns", headers=VIEWER).status_code == 200


@pytest.mark.parametrize("query", ["", "?token=wrong"])
def test_the_event_socket_refuses_a_missing_or_wrong_token(served: Served, query: str) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        served.client.websocket_connect(f"/ws/events{query}") as socket,
    ):
        socket.receive_json()
    assert refused.value.code == 1008


def test_the_event_socket_takes_a_header_or_a_query_token(served: Served) -> None:
    created = served.client.post(
        "/api/campaigns", content=cathode_yaml(), headers={**OPERATOR, **YAML},
        params={"campaign_id": "socket-auth"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    query = "campaign_id=socket-auth"
    with served.client.websocket_connect(f"/ws/events?{query}", headers=VIEWER) as socket:
        event = socket.receive_json()
    assert event["kind"] == "campaign" and event["data"]["state"] == "created"
    with served.client.websocket_connect(f"/ws/events?{query}&token={VIEWER_TOKEN}") as socket:
        assert socket.receive_json() == event
