"""Running campaigns against the simulated lab for ``benchmarks/orchestrator.py``.

- :func:`campaign_variant`: an example campaign file with some fields changed (budget,
  concurrency, planner, cycles), as YAML text and as a validated campaign;
- :class:`AckLog` and :func:`timed_instruments`: thin proxies around the driver clients that
  record (``time.time()``, s) when each device command was sent and when the device answered
  it, per job id, so dispatch overhead can be set against the store's step events;
- :func:`run_engine`: one campaign run by :class:`CampaignEngine` on a lab file, returning the
  final row, the engine's cycler utilisation and the acknowledgement log.
"""

import asyncio
import contextlib
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voltlab.drivers import DriverConfig
from voltlab.orchestrator.campaign import Campaign, parse_campaign
from voltlab.orchestrator.engine import CampaignEngine
from voltlab.orchestrator.instruments import (
    BatteryCycler,
    Instruments,
    SynthesisRobot,
    connected_instruments,
)
from voltlab.orchestrator.runs import prepare
from voltlab.orchestrator.steps import EngineSettings
from voltlab.orchestrator.store import AsyncStore, CampaignRow, Store
from voltlab.protocol import Recipe
from voltlab.protocol.cycler import ChannelStatus, CyclerJob, PointBatch, StartParams
from voltlab.protocol.robot import RobotJob
from voltlab.simlab import driver_config, with_free_ports
from voltlab.simulated_hardware.config import SimSettings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
INSTRUMENTS = ("robot", "xrd", "cycler")
LAB_START_TIMEOUT_S = 180.0


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.asynccontextmanager
async def lab_process(state_dir: Path) -> AsyncIterator[DriverConfig]:
    """``voltlab sim all`` at acceleration inf in its own process on free loopback ports, as
    instruments would be in a lab (not sharing the orchestrator's event loop or CPU time
    slice); yields the driver settings reaching it and stops it with SIGTERM."""
    settings = with_free_ports(SimSettings(acceleration=float("inf"), state_dir=state_dir))
    ports = [settings.robot.port, settings.cycler.command_port, settings.cycler.stream_port,
             settings.xrd.port]  # fmt: skip
    command = [
        str(Path(sys.executable).parent / "voltlab"), "sim", "all", "--acceleration", "inf",
        "--state-dir", str(state_dir), "--robot-port", str(ports[0]),
        "--cycler-port", str(ports[1]), "--stream-port", str(ports[2]), "--xrd-port", str(ports[3]),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL)
    try:
        give_up = time.monotonic() + LAB_START_TIMEOUT_S
        while not all(_listening(p) for p in ports):
            if process.returncode is not None:
                raise RuntimeError(f"simulated lab exited with code {process.returncode}")
            if time.monotonic() > give_up:
                raise TimeoutError(f"simulated lab not listening after {LAB_START_TIMEOUT_S} s")
            await asyncio.sleep(0.2)
        yield driver_config(settings)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()


def campaign_variant(
    example: str,
    *,
    experiments: int,
    seed: int | None = None,
    planner: str | None = None,
    concurrency: dict[str, Any] | None = None,
    channels: int | None = None,
    cycles: int | None = None,
) -> tuple[Campaign, str]:
    """The example campaign ``examples/<example>.yaml`` with the given fields replaced; returns
    the campaign and its YAML text (what the store keeps). ``cycles`` sets the cycle step's
    protocol cycles; a planner other than botorch drops the planner options."""
    data = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8"))
    data["budget"] = {**data["budget"], "experiments": experiments}
    if seed is not None:
        data["seed"] = seed
    if planner is not None:
        options = data["planner"].get("options", {}) if planner == "botorch" else {}
        data["planner"] = {"kind": planner, "options": options}
    if concurrency is not None:
        data["concurrency"] = concurrency
    if channels is not None:
        data["resources"] = {"cycler_channels": list(range(channels))}
    if cycles is not None:
        for step in data["workflow"]:
            if step["step"] == "cycle":
                step["protocol"]["cycles"] = cycles
                if "formation_cycles" in step["protocol"]:
                    step["protocol"]["formation_cycles"] = min(
                        step["protocol"]["formation_cycles"], cycles
                    )
    text = yaml.safe_dump(data, sort_keys=False)
    return parse_campaign(text, f"{example}.yaml (benchmark variant)"), text


@dataclass
class Ack:
    """One device command of a job: when it was sent and when the device answered (s, epoch)."""

    kind: str
    sent_at: float
    acked_at: float


@dataclass
class AckLog:
    """The first acknowledged command of each job id (a re-sent command is not counted)."""

    acks: dict[str, Ack] = field(default_factory=dict)

    def record(self, kind: str, job_id: str, sent_at: float) -> None:
        if job_id not in self.acks:
            self.acks[job_id] = Ack(kind, sent_at, time.time())


class TimedRobot:
    """A :class:`SynthesisRobot` that forwards to ``inner`` and logs submit/assemble replies."""

    def __init__(self, inner: SynthesisRobot, log: AckLog) -> None:
        self._inner, self._log = inner, log

    @property
    def healthy(self) -> bool:
        return self._inner.healthy

    async def submit(self, job_id: str, recipe: Recipe) -> RobotJob:
        sent = time.time()
        job = await self._inner.submit(job_id, recipe)
        self._log.record("synthesize", job_id, sent)
        return job

    async def assemble_cell(self, job_id: str, sample_id: str) -> RobotJob:
        sent = time.time()
        job = await self._inner.assemble_cell(job_id, sample_id)
        self._log.record("assemble_cell", job_id, sent)
        return job

    async def wait(self, job_id: str, deadline_s: float) -> RobotJob:
        return await self._inner.wait(job_id, deadline_s)

    async def abort(self, job_id: str) -> RobotJob:
        return await self._inner.abort(job_id)

    async def reset(self) -> dict:
        return await self._inner.reset()


class TimedCycler:
    """A :class:`BatteryCycler` that forwards to ``inner`` and logs start replies."""

    def __init__(self, inner: BatteryCycler, log: AckLog) -> None:
        self._inner, self._log = inner, log

    @property
    def healthy(self) -> bool:
        return self._inner.healthy

    async def start(self, params: StartParams) -> CyclerJob:
        sent = time.time()
        job = await self._inner.start(params)
        self._log.record("cycle", params.job_id, sent)
        return job

    async def job(self, job_id: str) -> CyclerJob:
        return await self._inner.job(job_id)

    async def stop(self, job_id: str) -> CyclerJob:
        return await self._inner.stop(job_id)

    async def reset(self, channel: int) -> ChannelStatus:
        return await self._inner.reset(channel)

    def stream(
        self,
        job_id: str,
        from_seq: int = 0,
        channel: int | None = None,
        deadline_s: float | None = None,
    ) -> AsyncIterator[PointBatch]:
        return self._inner.stream(job_id, from_seq, channel, deadline_s)


def timed_instruments(instruments: Instruments, log: AckLog) -> Instruments:
    """The same instruments with the robot and cycler behind timing proxies. The XRD stage is
    left as is: ``measure_pattern`` answers with the whole pattern, not an acknowledgement."""
    return Instruments(
        robot=TimedRobot(instruments.robot, log) if instruments.robot else None,
        xrd=instruments.xrd,
        cycler=TimedCycler(instruments.cycler, log) if instruments.cycler else None,
    )


@dataclass
class Finished:
    """A campaign run to its end: its row, wall time (s), the engine's cycler utilisation
    (busy channel-time / (channels x time since the engine was made); None without a cycler)
    and the device acknowledgements."""

    row: CampaignRow
    wall_s: float
    utilisation: float | None
    acks: AckLog


async def run_engine(
    lab_path: Path,
    campaign: Campaign,
    yaml_text: str,
    campaign_id: str,
    drivers: DriverConfig,
    settings: EngineSettings | None = None,
) -> Finished:
    """Create ``campaign_id`` in the lab file and run it with timed instruments to its end."""
    campaign = campaign.with_instruments(drivers)
    store = AsyncStore(Store.open(lab_path))
    log = AckLog()
    try:
        await store.call(lambda s: prepare(s, campaign, yaml_text, campaign_id))
        needed = {name for name in INSTRUMENTS if campaign.needs(name)}
        async with contextlib.AsyncExitStack() as stack:
            connected = await stack.enter_async_context(
                connected_instruments(campaign.instruments, needed)
            )
            engine = CampaignEngine(
                store, campaign_id, campaign, timed_instruments(connected, log), None, settings
            )
            started = time.perf_counter()
            row = await engine.run()
            wall = time.perf_counter() - started
            utilisation = (
                engine.resources.utilisation("cycler")
                if "cycler" in engine.resources.kinds()
                else None
            )
    finally:
        store.close()
    return Finished(row, wall, utilisation, log)
