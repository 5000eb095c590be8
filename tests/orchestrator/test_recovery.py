"""Crash recovery: the orchestrator, run as `voltlab run` in a subprocess, is killed with
SIGKILL during synthesis, during XRD analysis, mid-stream and during planning, and restarted
each time; the campaign completes with no lost measurement and no duplicate device job.

The simulated lab runs in its own subprocess (it must outlive the orchestrator), at a time
acceleration that makes each step last long enough to be caught in the act.
"""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.orchestrator.conftest import cathode_yaml
from voltlab.drivers import CyclerClient, CyclerConfig, DriverConfig, RobotConfig, XRDConfig
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.store import Store

VOLTLAB = [sys.executable, "-m", "voltlab.cli"]
ACCELERATION = "20000"
DEADLINE_S = 240.0

Condition = Callable[[sqlite3.Connection], bool]


def _one(db: sqlite3.Connection, sql: str) -> int:
    return db.execute(sql).fetchone()[0]


KILL_POINTS: dict[str, Condition] = {
    "during synthesis": lambda db: _one(
        db, "SELECT COUNT(*) FROM steps WHERE kind = 'synthesize' AND state = 'running'"
    ) > 0,
    "during XRD analysis": lambda db: _one(
        db,
        "SELECT COUNT(*) FROM steps s JOIN xrd_patterns p ON p.step_id = s.id "
        "WHERE s.state = 'running'",
    ) > 0,
    "mid-stream": lambda db: _one(
        db,
        "SELECT COUNT(*) FROM steps s JOIN cycling_points p ON p.job_id = s.job_id "
        "WHERE s.kind = 'cycle' AND s.state = 'running'",
    ) > 0,
    "during planning": lambda db: _one(
        db, "SELECT kind = 'planning' FROM events ORDER BY seq DESC LIMIT 1"
    ) == 1 and _one(db, "SELECT COUNT(*) FROM experiments WHERE told = 1") >= 2,
}  # fmt: skip


def start_sim(state_dir: Path) -> tuple[subprocess.Popen[bytes], DriverConfig]:
    ports = {name: free_port() for name in ("robot", "cycler", "stream", "xrd")}
    log = state_dir.parent / "sim.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *VOLTLAB, "sim", "all", "--state-dir", str(state_dir),
                "--acceleration", ACCELERATION, "--robot-port", str(ports["robot"]),
                "--cycler-port", str(ports["cycler"]), "--stream-port", str(ports["stream"]),
                "--xrd-port", str(ports["xrd"]),
            ],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"COLUMNS": "200"},
        )  # fmt: skip
    end = time.monotonic() + 60.0
    while "simulated lab ready" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            pytest.fail(f"simulated lab did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    config = DriverConfig(
        robot=RobotConfig(url=f"opc.tcp://127.0.0.1:{ports['robot']}/voltlab/robot/"),
        cycler=CyclerConfig(
            endpoint=f"tcp://127.0.0.1:{ports['cycler']}",
            stream_endpoint=f"tcp://127.0.0.1:{ports['stream']}",
        ),
        xrd=XRDConfig(endpoint=f"tcp://127.0.0.1:{ports['xrd']}"),
    )
    return proc, config


def start_orchestrator(campaign_file: Path, lab: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*VOLTLAB, "run", str(campaign_file), "--lab", str(lab), "--campaign-id", "crash"],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"COLUMNS": "200"},
        )  # fmt: skip


def wait_until(lab: Path, point: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the lab file until the kill point named `point` is reached; a read that fails is
    retried, and its error is reported if the kill point is never seen."""
    condition = KILL_POINTS[point]
    errors: list[str] = []
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(
                f"the orchestrator ended before the kill point {point!r} (failed reads: "
                f"{errors[-3:]}, {len(errors)} in all): {log.read_text()[-4000:]}"
            )
        if lab.exists():
            db = sqlite3.connect(f"file:{lab}?mode=ro", uri=True, timeout=5.0)
            try:
                if condition(db):
                    return
            except sqlite3.OperationalError as exc:
                errors.append(str(exc))
            finally:
                db.close()
        time.sleep(0.02)
    pytest.fail(f"kill point {point!r} not reached in time (failed reads: {errors[-3:]})")


@pytest.mark.servers
@pytest.mark.timeout(DEADLINE_S * 3)
def test_killed_orchestrator_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    sim, instruments = start_sim(tmp_path / "sim-state")
    try:
        text = cathode_yaml(
            instruments,
            cycles=4,  # seconds of streaming at this acceleration: long enough to be caught
            budget={"experiments": 5},
            # One at a time, so later suggestions come from a fitted model (seconds of work,
            # trimmed from the defaults' 5-15 s: this test is about recovery, not suggestions).
            concurrency={"mode": "async", "max_in_flight": 1},
            planner={
                "kind": "botorch",
                "options": {
                    "min_observations": 2, "fit_max_iterations": 100,
                    "num_restarts": 2, "raw_samples": 64, "mc_samples": 32,
                },
            },
        )  # fmt: skip
        campaign_file = tmp_path / "campaign.yaml"
        campaign_file.write_text(text)
        lab, log = tmp_path / "lab.sqlite", tmp_path / "orchestrator.log"
        killed = []
        for name in KILL_POINTS:
            proc = start_orchestrator(campaign_file, lab, log)
            wait_until(lab, name, proc, log)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            killed.append(name)
        final = start_orchestrator(campaign_file, lab, log)
        assert final.wait(DEADLINE_S) == 0, log.read_text()[-3000:]
        assert killed == list(KILL_POINTS)
        check_nothing_lost_or_doubled(lab, tmp_path / "sim-state", instruments)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)


def check_nothing_lost_or_doubled(lab: Path, sim_state: Path, instruments: DriverConfig) -> None:
    with Store.open(lab) as store:
        assert store.campaign("crash").state is CampaignState.COMPLETED
        experiments = store.experiments("crash")
        assert len(experiments) == 5
        assert all(
            e.state in (ExperimentState.COMPLETED, ExperimentState.GATED) for e in experiments
        )
        assert all(e.told for e in experiments)
        steps = [s for e in experiments for s in store.steps(e.id)]
        samples = {s.id for e in experiments for s in store.samples(e.id)}
        points = {s.job_id: store.points(s.job_id) for s in steps if s.kind == "cycle" and s.job_id}
    # Every device job was submitted for one attempt only, so no step ran twice.
    assert all(s.attempt <= 1 for s in steps)
    assert all(s.state in (StepState.COMPLETED, StepState.SKIPPED) for s in steps)
    # The robot made exactly the samples the lab file knows: none twice, none unrecorded.
    registry = sqlite3.connect(sim_state / "samples.sqlite")
    made = {r[0] for r in registry.execute("SELECT sample_id FROM powders")}
    made |= {r[0] for r in registry.execute("SELECT cell_id FROM cells")}
    registry.close()
    assert made == samples
    # Every point the cycler recorded is stored, once, in order.
    assert points
    recorded = asyncio.run(device_points(instruments.cycler, list(points)))
    for job_id, columns in points.items():
        assert list(columns["time_s"]) == recorded[job_id]


async def device_points(config: CyclerConfig, job_ids: list[str]) -> dict[str, list[float]]:
    """Each job's times as the cycler recorded them (its full record, not the stream)."""
    out = {}
    async with CyclerClient(config) as cycler:
        for job_id in job_ids:
            job = await cycler.job(job_id)
            batch = await cycler.fetch(job_id, 0, max_points=100_000)
            assert job.points == len(batch.time_s)
            out[job_id] = batch.time_s
    return out
