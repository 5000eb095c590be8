"""The nginx example: TLS in front, the API's configured address behind, WebSocket upgrade
headers on /ws, the API's body limit, and no location losing the forwarded headers."""

import pytest

from tests.deploy.deploy_files import DEPLOY, example_settings, nginx_blocks
from voltlab.server import ServerSettings

BLOCKS = nginx_blocks((DEPLOY / "proxy" / "nginx.conf").read_text())
FORWARDED = {"Host $host", "X-Forwarded-For $proxy_add_x_forwarded_for",
             "X-Forwarded-Proto $scheme"}  # fmt: skip


@pytest.fixture(scope="module")
def settings() -> ServerSettings:
    return example_settings()


def directive(block: str, name: str) -> list[str]:
    return [d.split(" ", 1)[1] for d in BLOCKS[block] if d.split(" ", 1)[0] == name]


def test_proxies_to_the_configured_api_address(settings: ServerSettings) -> None:
    assert directive("upstream voltlab_api", "server") == [f"{settings.host}:{settings.port}"]
    locations = [h for h in BLOCKS if h.startswith("location")]
    assert {"location /api/", "location /ws/"} <= set(locations)
    for location in locations:
        assert directive(location, "proxy_pass") == ["http://voltlab_api"], location


def test_terminates_tls_and_redirects_plain_http() -> None:
    tls = [h for h in BLOCKS if h.startswith("server") and "listen 443 ssl" in BLOCKS[h]]
    assert len(tls) == 1
    assert directive(tls[0], "ssl_certificate") and directive(tls[0], "ssl_certificate_key")
    assert directive(tls[0], "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    plain = [h for h in BLOCKS if h.startswith("server") and "listen 80" in BLOCKS[h]]
    assert [directive(h, "return") for h in plain] == [["301 https://$host$request_uri"]]


def test_websocket_location_upgrades_the_connection() -> None:
    headers = set(directive("location /ws/", "proxy_set_header"))
    assert "Upgrade $http_upgrade" in headers
    assert "Connection $voltlab_connection" in headers
    assert directive("map $http_upgrade $voltlab_connection", "default") == ["upgrade"]
    assert directive("location /ws/", "proxy_http_version") == ["1.1"]
    assert directive("location /ws/", "proxy_buffering") == ["off"]


def test_every_location_forwards_client_headers() -> None:
    """nginx drops inherited proxy_set_header as soon as a location sets one."""
    for location in (h for h in BLOCKS if h.startswith("location")):
        assert set(directive(location, "proxy_set_header")) >= FORWARDED, location


def test_body_limit_matches_the_api_and_tokens_stay_out_of_logs(settings: ServerSettings) -> None:
    tls = next(h for h in BLOCKS if "listen 443 ssl" in BLOCKS[h])
    (limit,) = directive(tls, "client_max_body_size")
    assert limit.endswith("m") and int(limit[:-1]) * 1024 * 1024 == settings.max_request_bytes
    (log_format,) = directive("", "log_format")
    assert "$uri" in log_format and "$request " not in log_format and "$args" not in log_format
    assert directive(tls, "access_log")[0].split()[-1] == log_format.split()[0]
