"""Operator API under load, while the orchestrator runs a simulated campaign in the same server.

The server is a child process, as ``voltlab serve`` runs it: uvicorn and the lab runtime (the
campaign engine) on one event loop, on a fresh lab file and a free loopback port; the simulated
lab (acceleration inf) is a process of its own, as instruments are other machines. This process
creates the cathode campaign through the API (Sobol, every powder cycled, a budget it will not
reach in the run), starts it, waits for its first cycling points, then measures:

1. reads: N clients (default 50, one ``httpx.AsyncClient`` and keep-alive connection each)
   loop over a mix of read endpoints for S seconds; per request the time from sending to the
   full response, ms. p50 / p99 per endpoint and overall, requests per second, errors.
2. fan-out: M WebSocket clients (default 100) on ``/ws/events``; for each event stored while
   they listen, the time from its ``at`` (stamped by the store inside the committing
   transaction; same host clock) to each client receiving it, ms. Also whether every client got
   every event, in order, exactly once.

Then the campaign is aborted through the API and the server stopped. All runs on one machine:
the clients, the server, the simulator and its PyBaMM workers share its cores, so the figures
are an upper bound on what the API adds.

    .venv/bin/python benchmarks/api.py [--read-clients 50] [--ws-clients 100] [--seconds 20]
"""

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import socket
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import numpy as np
import yaml
from websockets.asyncio.client import ClientConnection, connect

from orchestrator_world import lab_process
from voltlab.server.serving import serve
from voltlab.server.settings import ServerSettings, TokenSpec
from voltlab.server.tokens import hash_token

EXAMPLES = Path(__file__).parents[1] / "examples"
OPERATOR_TOKEN = "benchmark-operator-token"
VIEWER_TOKEN = "benchmark-viewer-token"
CAMPAIGN_ID = "load"
STARTUP_S = 120.0
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# -- the server (child process) ---------------------------------------------------------------


def run_server(folder: Path, port: int) -> None:
    """The child process: API and engines, with the simulated lab in a process of its own
    (``voltlab sim all``, as instruments are other machines), until SIGTERM."""
    logging.basicConfig(level=logging.WARNING, format="server %(name)s: %(message)s")
    tokens = [
        TokenSpec(name="operator", role="operator", hash=hash_token(OPERATOR_TOKEN)),
        TokenSpec(name="viewer", role="viewer", hash=hash_token(VIEWER_TOKEN)),
    ]
    settings = ServerSettings(port=port, lab=folder / "lab.sqlite", tokens=tokens)
    # uvicorn shuts down on SIGTERM, then raises the signal again; without a handler of our
    # own that would kill this process before the simulated lab is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)

    async def main() -> None:
        async with lab_process(folder / "sim") as instruments:
            await serve(settings, instruments=instruments)

    asyncio.run(main())


# -- the campaign -----------------------------------------------------------------------------


def campaign_yaml(experiments: int, cycles: int) -> str:
    """The cathode example, Sobol, every powder cycled (gate at 0), ``cycles`` per cell."""
    raw = yaml.safe_load((EXAMPLES / "cathode_discovery.yaml").read_text())
    raw["workflow"][2]["min"] = 0.0
    raw["workflow"][4]["protocol"]["cycles"] = cycles
    raw["planner"] = {"kind": "sobol"}
    raw["budget"] = {"experiments": experiments}
    return yaml.safe_dump(raw, sort_keys=False)


async def poll(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = STARTUP_S
) -> T:
    """Await ``probe()`` until it returns something other than None, within the deadline."""
    end = time.monotonic() + timeout_s
    while (found := await probe()) is None:
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.2)
    return found


async def latest_seq(client: httpx.AsyncClient) -> int:
    """The newest stored event's sequence number."""
    after = 0
    while True:
        page = (await client.get("/api/events", params={"after": after, "limit": 10_000})).json()
        if not page:
            return after
        after = page[-1]["seq"]
        if len(page) < 10_000:
            return after


async def cycled_experiment(client: httpx.AsyncClient) -> str | None:
    """An experiment of the campaign that has cycling points already (None: none yet)."""
    experiments = (await client.get(f"/api/campaigns/{CAMPAIGN_ID}/experiments")).json()
    for experiment in experiments:
        page = await client.get(f"/api/experiments/{experiment['id']}/cycling", params={"limit": 1})
        if page.json()["total"] > 0:
            return str(experiment["id"])
    return None


async def campaign_state(client: httpx.AsyncClient) -> str:
    return str((await client.get(f"/api/campaigns/{CAMPAIGN_ID}")).json()["state"])


# -- 1. reads ---------------------------------------------------------------------------------


def read_mix(experiment_id: str, after: int) -> list[tuple[str, str, dict]]:
    """(label, path, query) of the reads a dashboard makes while a campaign runs."""
    c = f"/api/campaigns/{CAMPAIGN_ID}"
    return [
        ("campaigns", "/api/campaigns", {}),
        ("campaign", c, {}),
        ("instruments", "/api/instruments", {}),
        ("experiments", f"{c}/experiments", {}),
        ("events page", "/api/events", {"after": after, "limit": 100}),
        ("cycling 500 pts", f"/api/experiments/{experiment_id}/cycling", {"max_points": 500}),
        ("pareto", f"{c}/pareto", {}),
    ]


@dataclass
class ReadResult:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0


async def read_client(
    base: str, mix: list[tuple[str, str, dict]], start: int, until: float, result: ReadResult
) -> None:
    headers = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60.0) as client:
        await client.get("/api/whoami")  # connect and authenticate before measuring
        i = start
        while time.monotonic() < until:
            label, path, params = mix[i % len(mix)]
            i += 1
            begin = time.perf_counter()
            response = await client.get(path, params=params)
            elapsed_ms = (time.perf_counter() - begin) * 1000.0
            if response.status_code == 200:
                result.latencies_ms[label].append(elapsed_ms)
            else:
                result.errors[f"{label} {response.status_code}"] += 1


async def measure_reads(base: str, mix: list, clients: int, seconds: float) -> ReadResult:
    result = ReadResult()
    begin = time.monotonic()
    until = begin + seconds
    await asyncio.gather(*(read_client(base, mix, n, until, result) for n in range(clients)))
    result.seconds = time.monotonic() - begin
    return result


# -- 2. WebSocket fan-out ---------------------------------------------------------------------


@dataclass
class Listener:
    """One WebSocket client: (seq, latency ms) of every stored event it got, in arrival order."""

    stored: list[tuple[int, float]] = field(default_factory=list)
    live_only: int = 0
    newest: int = 0
    target: int | None = None
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once an event with ``seq >= target`` arrived."""

    def expect(self, target: int) -> None:
        self.target = target
        if self.newest >= target:
            self.caught_up.set()

    async def listen(self, connection: ClientConnection) -> None:
        with contextlib.suppress(Exception):  # the connection closes at the end of the phase
            async for message in connection:
                arrived = time.time()
                event = json.loads(message)
                if event["seq"] is None:
                    self.live_only += 1
                else:
                    self.stored.append((event["seq"], (arrived - event["at"]) * 1000.0))
                    self.newest = max(self.newest, event["seq"])
                    if self.target is not None and self.newest >= self.target:
                        self.caught_up.set()


@dataclass
class FanOutResult:
    latencies_ms: list[float]
    events: int
    complete_clients: int
    clients: int
    live_only_per_client: float
    seconds: float


async def measure_fan_out(
    base: str, client: httpx.AsyncClient, clients: int, seconds: float
) -> FanOutResult:
    after = await latest_seq(client)
    url = base.replace("http://", "ws://") + f"/ws/events?after={after}"
    headers = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    listeners = [Listener() for _ in range(clients)]
    async with contextlib.AsyncExitStack() as stack:
        sockets = await asyncio.gather(
            *(stack.enter_async_context(connect(url, additional_headers=headers))
              for _ in listeners)
        )  # fmt: skip
        tasks = [
            asyncio.create_task(lst.listen(s)) for lst, s in zip(listeners, sockets, strict=True)
        ]
        start_seq = await latest_seq(client)  # events before this may predate a subscription
        begin = time.monotonic()
        await asyncio.sleep(seconds)
        end_seq = await latest_seq(client)

        for listener in listeners:
            listener.expect(end_seq)
        with contextlib.suppress(TimeoutError):  # a client that missed events shows below
            await asyncio.wait_for(asyncio.gather(*(x.caught_up.wait() for x in listeners)), 30)
        elapsed = time.monotonic() - begin
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    expected = list(range(start_seq + 1, end_seq + 1))
    latencies: list[float] = []
    complete = 0
    for lst in listeners:
        stored = [(seq, ms) for seq, ms in lst.stored if seq > start_seq]
        window = [seq for seq, _ in stored if seq <= end_seq]
        complete += window == expected
        latencies.extend(ms for seq, ms in stored if seq <= end_seq)
    return FanOutResult(
        latencies_ms=latencies,
        events=len(expected),
        complete_clients=complete,
        clients=clients,
        live_only_per_client=statistics.fmean(lst.live_only for lst in listeners),
        seconds=elapsed,
    )


# -- the run ----------------------------------------------------------------------------------


def report(
    reads: ReadResult, fan_out: FanOutResult, args: argparse.Namespace, states: list
) -> None:
    every = [ms for values in reads.latencies_ms.values() for ms in values]
    print(
        f"\nAPI benchmark: {args.read_clients} read clients for {reads.seconds:.1f} s, "
        f"{args.ws_clients} WebSocket clients for {fan_out.seconds:.1f} s; "
        f"campaign state during the phases: {', '.join(states)}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} (1 min) at the end\n"
    )
    print(f"{'reads':<20}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for label, values in [*reads.latencies_ms.items(), ("all reads", every)]:
        print(
            f"{label:<20}{len(values):>10}{percentile(values, 50):>10.1f}"
            f"{percentile(values, 99):>10.1f}{max(values, default=float('nan')):>10.1f}"
        )
    errors = sum(reads.errors.values())
    print(f"throughput {len(every) / reads.seconds:.0f} requests/s, errors {errors}")
    for name, count in reads.errors.items():
        print(f"  error {name}: {count}")
    lat = fan_out.latencies_ms
    print(f"\n{'fan-out':<20}{'deliveries':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print(
        f"{'event -> client':<20}{len(lat):>10}{percentile(lat, 50):>10.1f}"
        f"{percentile(lat, 99):>10.1f}{max(lat, default=float('nan')):>10.1f}"
    )
    print(
        f"stored events in the window {fan_out.events}; clients that got all of them in order, "
        f"once: {fan_out.complete_clients}/{fan_out.clients}; live-only point events per "
        f"client {fan_out.live_only_per_client:.0f}"
    )


async def benchmark(base: str, args: argparse.Namespace) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=operator, timeout=60.0) as client:

        async def healthy() -> bool | None:
            try:
                return (await client.get("/api/health")).status_code == 200 or None
            except httpx.TransportError:
                return None  # not listening yet

        await poll(healthy, "the server to answer")
        created = await client.post(
            "/api/campaigns", params={"campaign_id": CAMPAIGN_ID},
            content=campaign_yaml(args.experiments, args.cycles),
            headers={"Content-Type": "application/yaml"},
        )  # fmt: skip
        created.raise_for_status()
        (await client.post(f"/api/campaigns/{CAMPAIGN_ID}/start")).raise_for_status()
        experiment_id = await poll(lambda: cycled_experiment(client), "the first cycling points")
        states = [await campaign_state(client)]
        mix = read_mix(experiment_id, max(0, await latest_seq(client) - 100))
        reads = await measure_reads(base, mix, args.read_clients, args.seconds)
        states.append(await campaign_state(client))
        fan_out = await measure_fan_out(base, client, args.ws_clients, args.seconds)
        states.append(await campaign_state(client))
        if states[-1] in ("running", "paused"):
            (await client.post(f"/api/campaigns/{CAMPAIGN_ID}/abort")).raise_for_status()
    report(reads, fan_out, args, states)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--read-clients", type=int, default=50)
    parser.add_argument("--ws-clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each phase.")
    parser.add_argument(
        "--experiments", type=int, default=400, help="Campaign budget (not reached in the run)."
    )
    parser.add_argument("--cycles", type=int, default=30, help="Cycles per cell.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="voltlab-api-bench-") as folder:
        server = multiprocessing.get_context("spawn").Process(
            target=run_server, args=(Path(folder), port), name="voltlab-server"
        )
        server.start()
        try:
            asyncio.run(benchmark(f"http://127.0.0.1:{port}", args))
        finally:
            server.terminate()
            server.join(timeout=60)
            if server.is_alive():
                server.kill()


if __name__ == "__main__":
    main()
