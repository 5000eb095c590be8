"""What the dashboard's browser test needs: the app served by uvicorn on a free loopback port
from a thread of its own, a small API client for checking what the browser did, and the
headless chromium Debian ships (driven by Playwright, never a downloaded browser)."""

import json
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI

from tests.server.server_fixtures import OPERATOR, SimLabThread, wait_until
from voltlab.simulated_hardware.config import load_sim_settings

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[2] / "out" / "screenshots"
WATCHABLE = 40_000.0
"""Instrument seconds per wall second: a 30-cycle test streams for about ten seconds, long
enough to watch points arrive (at ``inf`` it is over in two)."""


class PacedSimLab(SimLabThread):
    """The simulated lab at a finite acceleration (instrument s per wall s)."""

    def __init__(self, state_dir: Path, acceleration: float = WATCHABLE) -> None:
        super().__init__(state_dir)
        self._settings = load_sim_settings(acceleration=acceleration, state_dir=state_dir)


class LiveServer:
    """``app`` served over HTTP and WebSocket on 127.0.0.1 (a free port) until the ``with``
    block ends; entering runs the app's lifespan and yields the base URL."""

    def __init__(self, app: FastAPI) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="on", ws="websockets-sansio")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="api", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        self._thread.start()
        wait_until(lambda: self._server.started or None, "the API server to start", 30.0)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()


class Shots:
    """Screenshots numbered in order, in the test's folder; the final set is copied to
    out/screenshots/."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.taken: list[Path] = []
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, name: str) -> None:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        self.page.screenshot(path=path, full_page=True)
        self.taken.append(path)

    def publish(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()
        for path in self.taken:
            shutil.copy2(path, SCREENSHOTS / path.name)


class Api:
    """The operator's side of the API, to set up the campaign and check what the page did."""

    def __init__(self, url: str) -> None:
        self._client = httpx.Client(base_url=url, headers=OPERATOR, timeout=30.0)

    def get(self, path: str) -> Any:
        response = self._client.get(path)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def post(self, path: str, status: int, **kwargs: Any) -> Any:
        response = self._client.post(path, **kwargs)
        assert response.status_code == status, (path, response.text)
        return response.json()

    def close(self) -> None:
        self._client.close()


class EventTap:
    """Sits between the page and ``/ws/events`` (Playwright's WebSocket routing): records each
    connection's URL and the stored events' ``seq`` passed to the page, and can drop the
    connection as a network failure would. Register :meth:`route` with
    ``page.route_web_socket``."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.seqs: list[int] = []
        self._open: tuple[Any, Any] | None = None

    def route(self, page_side: Any) -> None:
        server = page_side.connect_to_server()
        self.urls.append(page_side.url)
        self._open = (page_side, server)

        def forward(message: str | bytes) -> None:
            if self._open is None or self._open[1] is not server:
                return  # dropped
            seq = json.loads(message)["seq"]
            if seq is not None:
                self.seqs.append(seq)
            page_side.send(message)

        server.on_message(forward)

    def drop(self) -> int:
        """Close both sides of the open connection (the page sees code 1012, service restart);
        the last ``seq`` the page got."""
        assert self._open is not None, "no connection to drop"
        page_side, server = self._open
        self._open = None
        page_side.close(code=1012, reason="dropped by the test")
        server.close()
        return self.seqs[-1]


def pump_until(page: Any, probe: Callable[[], T | None], what: str, timeout_s: float = 30.0) -> T:
    """Poll ``probe`` while letting Playwright deliver its events (the sync API only does so
    inside its own calls), until it returns something other than None."""

    def pumped() -> T | None:
        page.wait_for_timeout(50)
        return probe()

    return wait_until(pumped, what, timeout_s)
