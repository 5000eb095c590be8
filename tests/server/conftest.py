"""Session fixtures: one simulated lab, one server on a temporary lab file (inside TestClient,
whose event loop runs the engines), and one small campaign run to its end through the API."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.server_fixtures import (
    FAST_ENGINE,
    OPERATOR,
    OPERATOR_TOKEN,
    VIEWER_TOKEN,
    YAML,
    SimLabThread,
    cathode_yaml,
    wait_until,
)
from voltlab.drivers import DriverConfig
from voltlab.server import LabRuntime, ServerSettings, create_app, hash_token

FINAL = {"completed", "aborted", "failed"}


@dataclass(frozen=True)
class Served:
    client: TestClient
    runtime: LabRuntime
    lab: Path
    instruments: DriverConfig


@pytest.fixture(scope="session")
def token_hashes() -> list[dict[str, str]]:
    return [
        {"name": "olga", "role": "operator", "hash": hash_token(OPERATOR_TOKEN)},
        {"name": "victor", "role": "viewer", "hash": hash_token(VIEWER_TOKEN)},
    ]


@pytest.fixture(scope="session")
def served(
    tmp_path_factory: pytest.TempPathFactory, token_hashes: list[dict[str, str]]
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("server")
    with SimLabThread(folder / "sim") as instruments:
        settings = ServerSettings(lab=folder / "lab.sqlite", tokens=token_hashes)
        runtime = LabRuntime(settings.lab, instruments=instruments, engine_settings=FAST_ENGINE)
        app = create_app(settings, runtime, event_poll_s=0.2)
        with TestClient(app) as client:
            yield Served(client, runtime, settings.lab, instruments)


def campaign_state(client: TestClient, campaign_id: str) -> str:
    response = client.get(f"/api/campaigns/{campaign_id}", headers=OPERATOR)
    assert response.status_code == 200, response.text
    return response.json()["state"]


@pytest.fixture(scope="session")
def finished(served: Served) -> str:
    """A three-experiment cathode campaign created and started through the API, run to its
    end against the simulated lab; its id."""
    client = served.client
    created = client.post(
        "/api/campaigns", content=cathode_yaml(), headers={**OPERATOR, **YAML},
        params={"campaign_id": "finished"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert client.post("/api/campaigns/finished/start", headers=OPERATOR).status_code == 202
    state = wait_until(
        lambda: ((s := campaign_state(client, "finished")) in FINAL and s) or None,
        "the campaign to finish",
    )
    assert state == "completed", client.get("/api/campaigns/finished", headers=OPERATOR).json()
    return "finished"
