"""The operator dashboard: served offline by the app (page, scripts, plotly.js from the installed
package, no token needed for them), and driven in Debian's headless chromium against a live
approve-mode campaign on the simulated lab: sign in with a token, approve a suggestion, watch
cycling points arrive, pause and resume, see the XRD fit, Pareto front, hypervolume and lineage
of the finished experiment, veto with a reason and abort. Screenshots go to the test's tmp dir
and out/screenshots/."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.server.dashboard_fixtures import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Api,
    EventTap,
    LiveServer,
    PacedSimLab,
    Shots,
    pump_until,
)
from tests.server.server_fixtures import (
    FAST_ENGINE,
    OPERATOR_TOKEN,
    YAML,
    cathode_yaml,
    wait_until,
)
from voltlab.server import LabRuntime, ServerSettings, create_app
from voltlab.server.dashboard import plotly_js

CAMPAIGN = "dashboard"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def offline_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app without its lifespan: enough to fetch the dashboard's files."""
    lab = tmp_path_factory.mktemp("dashboard-files") / "lab.sqlite"
    return TestClient(create_app(ServerSettings(lab=lab), LabRuntime(lab)))


def test_page_and_scripts_are_served_without_a_token(offline_client: TestClient) -> None:
    page = offline_client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    for src in ("/dashboard/vendor/plotly.min.js", "/dashboard/static/dashboard.js"):
        assert f'src="{src}"' in page.text
    for name in ("dashboard.js", "api.js", "charts.js", "tables.js", "dashboard.css"):
        served = offline_client.get(f"/dashboard/static/{name}")
        assert served.status_code == 200, name
        assert "cdn" not in served.text.lower() and "https://" not in served.text, name
    plotly = offline_client.get("/dashboard/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert plotly.content == plotly_js().read_bytes() and b"plotly.js v" in plotly.content[:200]
    assert offline_client.get("/dashboard/static/nope.js").status_code == 404
    assert offline_client.get("/api/campaigns").status_code == 401, "the API still needs a token"
    assert "/" not in offline_client.get("/openapi.json").json()["paths"]


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, token_hashes: list[dict[str, str]]
) -> Iterator[tuple[str, Api]]:
    """A server (uvicorn on loopback) running an approve-mode cathode campaign (three
    experiments, one at a time, every powder made into a cell, no constraint so a finished
    experiment is on the front) on the simulated lab."""
    folder = tmp_path_factory.mktemp("dashboard")
    with PacedSimLab(folder / "sim") as instruments:
        settings = ServerSettings(lab=folder / "lab.sqlite", tokens=token_hashes)
        runtime = LabRuntime(settings.lab, instruments=instruments, engine_settings=FAST_ENGINE)
        with LiveServer(create_app(settings, runtime, event_poll_s=0.2)) as url:
            api = Api(url)
            text = cathode_yaml(
                experiments=3, cycles=30, gate_min=0.0, approve=True, constraints=[],
                concurrency={"mode": "async", "max_in_flight": 1},
                resources={"cycler_channels": [12, 13]},
            )  # fmt: skip
            api.post("/api/campaigns", 201, content=text, headers=YAML,
                     params={"campaign_id": CAMPAIGN})  # fmt: skip
            api.post(f"/api/campaigns/{CAMPAIGN}/start", 202)
            try:
                yield url, api
            finally:
                api.close()


def experiment_state(api: Api, experiment_id: str) -> str:
    return api.get(f"/api/experiments/{experiment_id}")["state"]


def count(page: Any, script: str) -> int:
    return int(page.evaluate(script))


POINTS = "Number(document.getElementById('cycling').dataset.points)"
TRACE_POINTS = "document.getElementById('cycling').data[0].x.length"


@pytest.mark.servers
@pytest.mark.timeout(150)
def test_operator_drives_a_live_campaign_in_chromium(live: tuple[str, Api], tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    url, api = live
    allowed = (url, url.replace("http://", "ws://"), "data:", "blob:")
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda m: m.type == "error" and problems.append(f"{m.text} {m.location}"),
            )
            page.on(
                "request",
                lambda r: r.url.startswith(allowed) or problems.append(f"off-site: {r.url}"),
            )
            tap = EventTap()
            page.route_web_socket(re.compile(r"/ws/events"), tap.route)
            shots = Shots(page, tmp_path / "screenshots")
            try:
                drive(page, url, api, shots, sync_api.expect, tap)
            finally:
                shots.publish()
        finally:
            browser.close()
    assert problems == [], "the page logged errors or left the server"


def drive(page: Any, url: str, api: Api, shots: Shots, expect: Any, tap: EventTap) -> None:
    """The operator's session, checked on the page and through the API."""
    expect.set_options(timeout=WAIT_MS)
    page.goto(url)
    expect(page.locator("#whoami")).to_have_text("not signed in")
    page.fill("#token", OPERATOR_TOKEN)
    page.click("#token-use")
    expect(page.locator("#whoami")).to_have_text("olga (operator)")
    expect(page.locator("#campaign")).to_have_value(CAMPAIGN)
    expect(page.locator("#live")).to_have_text("live")
    assert page.evaluate("sessionStorage.getItem('voltlab.token')") == OPERATOR_TOKEN
    query = parse_qs(urlsplit(tap.urls[0]).query)
    assert query == {"after": ["0"], "token": [OPERATOR_TOKEN], "campaign_id": [CAMPAIGN]}

    # Approve the first suggestion from its row.
    row = page.locator("#suggestions tbody tr").first
    expect(row.locator("button.approve")).to_be_enabled()
    first = row.get_attribute("data-experiment")
    assert experiment_state(api, first) == "awaiting_approval"
    shots.take("suggestion")
    row.locator("button.approve").click()
    expect(page.locator("#message")).to_contain_text("approved")
    assert experiment_state(api, first) in ("queued", "running")

    # Its cell's points arrive: the live chart grows while it cycles.
    page.wait_for_function(f"{POINTS} > 0")
    seen = count(page, POINTS)
    page.wait_for_function(f"{POINTS} > {seen}")
    assert count(page, TRACE_POINTS) >= count(page, POINTS) > seen
    expect(page.locator(f"#queue tr[data-experiment='{first}'] .chip").first).to_be_visible()
    shots.take("cycling-live")

    # The live connection drops: the page reconnects from the last event it got, and the
    # chart keeps growing.
    last = tap.drop()
    pump_until(page, lambda: len(tap.urls) == 2 or None, "the page to reconnect")
    assert parse_qs(urlsplit(tap.urls[1]).query)["after"] == [str(last)]
    expect(page.locator("#live")).to_have_text("live")
    seen = count(page, POINTS)
    page.wait_for_function(f"{POINTS} > {seen}")

    # Pause, then resume, from the header.
    page.click("#pause")
    expect(page.locator("#campaign-state")).to_have_text("paused")
    assert api.get(f"/api/campaigns/{CAMPAIGN}")["state"] == "paused"
    expect(page.locator("#resume")).to_be_enabled()
    expect(page.locator("#pause")).to_be_disabled()
    shots.take("paused")
    page.click("#resume")
    expect(page.locator("#campaign-state")).to_have_text("running")
    assert api.get(f"/api/campaigns/{CAMPAIGN}")["state"] == "running"

    # The experiment finishes: every stored point plotted once, its XRD fit, the front, the
    # hypervolume and its powder -> cell lineage appear.
    wait_until(lambda: experiment_state(api, first) == "completed" or None, "experiment 1 done")
    stored = api.get(f"/api/experiments/{first}/cycling?limit=1")["total"]
    page.wait_for_function(f"{TRACE_POINTS} === {stored}")
    expect(page.locator(f"#queue tr[data-experiment='{first}'] .badge")).to_have_text("completed")
    page.wait_for_function("document.getElementById('pareto').dataset.front === '1'")
    page.wait_for_function("(document.getElementById('xrd').data || []).length === 3")
    xrd = api.get(f"/api/experiments/{first}/xrd?max_points=10")
    expect(page.locator("#phases tbody tr")).to_have_count(len(xrd["phases"]))
    hypervolume = "(document.getElementById('hypervolume').data || [{x: []}])[0].x.length"
    page.wait_for_function(f"{hypervolume} >= 1")
    cells = api.get(f"/api/experiments/{first}")["samples"]
    for sample in cells:
        expect(page.locator("#samples")).to_contain_text(sample["id"])
    assert {s["kind"] for s in cells} == {"powder", "cell"}
    shots.take("experiment-done")

    # Veto the next suggestion: the reason is asked for in the row.
    row = page.locator(f"#suggestions tbody tr:not([data-experiment='{first}'])").first
    expect(row).to_be_visible()
    second = row.get_attribute("data-experiment")
    row.locator("button.veto").click()
    form = row.locator("form.veto-form")
    form.locator("input[name=reason]").fill("too much cobalt for this budget")
    shots.take("veto-reason")
    form.locator("button[type=submit]").click()
    expect(page.locator("#message")).to_contain_text("vetoed")
    vetoed = api.get(f"/api/experiments/{second}")
    assert vetoed["state"] == "vetoed" and "too much cobalt" in vetoed["failure"]
    expect(page.locator(f"#queue tr[data-experiment='{second}'] .badge")).to_have_text("vetoed")
    replacement = page.locator("#suggestions tbody tr").first
    expect(replacement).not_to_have_attribute("data-experiment", second)
    expect(replacement.locator("button.approve")).to_be_enabled()

    # Abort (after a confirmation dialog).
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#abort")
    expect(page.locator("#campaign-state")).to_have_text("aborted")
    assert api.get(f"/api/campaigns/{CAMPAIGN}")["state"] == "aborted"
    shots.take("aborted")

    # Across the reconnection the page got every stored event of the campaign once, in order.
    stored = [e["seq"] for e in api.get(f"/api/events?campaign_id={CAMPAIGN}&limit=10000")]
    assert tap.seqs == [seq for seq in stored if seq <= tap.seqs[-1]]
    assert len(tap.urls) == 2, "one reconnection only"
