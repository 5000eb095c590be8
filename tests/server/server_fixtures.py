"""What the API tests share: the simulated lab on its own thread and event loop, a server app
on a temporary lab file pointed at it (engines run in the app's loop, inside TestClient), its
tokens, small campaign files, and polling with a deadline."""

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from voltlab.drivers import DriverConfig
from voltlab.orchestrator.steps import EngineSettings
from voltlab.simlab import simulated_lab
from voltlab.simulated_hardware.config import load_sim_settings

T = TypeVar("T")
EXAMPLES = Path(__file__).parents[2] / "examples"
OPERATOR_TOKEN = "operator-token-for-tests"
VIEWER_TOKEN = "viewer-token-for-tests"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
VIEWER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
YAML = {"Content-Type": "application/yaml"}
FAST_ENGINE = EngineSettings(
    deadlines_s={"synthesize": 30.0, "xrd": 30.0, "assemble_cell": 30.0, "cycle": 120.0},
    outage_timeout_s=20.0,
    control_poll_s=0.05,
)
DEADLINE_S = 90.0


class SimLabThread:
    """Every simulated instrument on free loopback ports, served from a thread of its own
    (as fast as possible) until the ``with`` block ends; entering yields the driver config."""

    def __init__(self, state_dir: Path) -> None:
        self._settings = load_sim_settings(acceleration=float("inf"), state_dir=state_dir)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[DriverConfig] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, name="sim-lab", daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with simulated_lab(self._settings) as config:
                self._ready.set_result(config)
                await self._stop.wait()
        except Exception as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def __enter__(self) -> DriverConfig:
        self._thread.start()
        return self._ready.result(timeout=60)

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)


def cathode_yaml(
    experiments: int = 3, cycles: int = 8, gate_min: float = 0.9, **changes: Any
) -> str:
    """The cathode example made small: Sobol, few cycles, ``changes`` to top-level keys
    (``gate_min`` 0: every powder gets a cell). Its instruments are left as in the file: the
    server's settings point every campaign at the simulated lab."""
    raw = yaml.safe_load((EXAMPLES / "cathode_discovery.yaml").read_text())
    raw["workflow"][2]["min"] = gate_min
    raw["workflow"][4]["protocol"]["cycles"] = cycles
    raw["planner"] = {"kind": "sobol"}
    raw["budget"] = {"experiments": experiments}
    raw.update(changes)
    return yaml.safe_dump(raw, sort_keys=False)


def wait_until(probe: Callable[[], T | None], what: str, timeout_s: float = DEADLINE_S) -> T:
    """Poll ``probe`` until it returns something other than None (or fail after the deadline)."""
    end = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < end, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.05)
