"""What the server's settings change in the app: CORS closed by default and open to the listed
origins only, the request size limit (also for a body sent without Content-Length), and a
server without tokens refusing everyone."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.server.server_fixtures import OPERATOR, OPERATOR_TOKEN, YAML
from voltlab.server import LabRuntime, ServerSettings, create_app, hash_token
from voltlab.server.downsample import lttb_indices

PREFLIGHT = {
    "Origin": "https://lab.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization",
}


@pytest.fixture(scope="module")
def operator_hash() -> str:
    return hash_token(OPERATOR_TOKEN)


def client_for(tmp_path: Path, operator_hash: str, **settings: object) -> Iterator[TestClient]:
    tokens = [{"name": "olga", "role": "operator", "hash": operator_hash}]
    config = ServerSettings(lab=tmp_path / "lab.sqlite", **{"tokens": tokens, **settings})
    with TestClient(create_app(config, LabRuntime(config.lab))) as client:
        yield client


def test_cors_is_closed_by_default(tmp_path: Path, operator_hash: str) -> None:
    for client in client_for(tmp_path, operator_hash):
        response = client.options("/api/campaigns", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in response.headers
        plain = client.get("/api/campaigns", headers={**OPERATOR, "Origin": PREFLIGHT["Origin"]})
        assert "access-control-allow-origin" not in plain.headers


def test_cors_allows_only_the_listed_origins(tmp_path: Path, operator_hash: str) -> None:
    for client in client_for(tmp_path, operator_hash, cors_origins=["https://lab.example"]):
        allowed = client.options("/api/campaigns", headers=PREFLIGHT)
        assert allowed.headers["access-control-allow-origin"] == "https://lab.example"
        other = client.options(
            "/api/campaigns", headers={**PREFLIGHT, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_size_limit_holds_without_content_length(tmp_path: Path, operator_hash: str) -> None:
    for client in client_for(tmp_path, operator_hash, max_request_bytes=2048):

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"# " + b"x" * 500 + b"\n"

        response = client.post("/api/campaigns", content=chunks(), headers={**OPERATOR, **YAML})
        assert response.status_code == 413
        assert response.json()["detail"].endswith("limit of 2048 bytes")
        small = client.post(
            "/api/campaigns", content=iter([b"name: x\n"]), headers={**OPERATOR, **YAML}
        )
        assert small.status_code == 422, "a small chunked body reaches the handler"


def test_a_server_without_tokens_refuses_everyone(tmp_path: Path) -> None:
    config = ServerSettings(lab=tmp_path / "lab.sqlite")
    with TestClient(create_app(config, LabRuntime(config.lab))) as client:
        assert client.get("/api/campaigns", headers=OPERATOR).status_code == 401
        assert client.get("/api/health").json()["status"] == "ok"


def test_lttb_keeps_the_ends_and_the_shape() -> None:
    x = np.linspace(0.0, 10.0, 10_001)
    y = np.sin(x) + (x > 5.0) * 3.0  # a step the downsampled curve must keep
    kept = lttb_indices(x, y, 200)
    assert len(kept) == 200 and kept[0] == 0 and kept[-1] == 10_000
    assert np.all(np.diff(kept) > 0)
    assert y[kept].max() == pytest.approx(y.max(), abs=0.01)
    assert y[kept].min() == pytest.approx(y.min(), abs=0.01)
    assert np.mean(np.abs(np.interp(x, x[kept], y[kept]) - y)) < 0.01
    assert lttb_indices(x[:50], y[:50], 200).tolist() == list(range(50))
    with pytest.raises(ValueError, match="at least 3"):
        lttb_indices(x, y, 2)
