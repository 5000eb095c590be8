"""The bluesky plans in a RunEngine against the whole simulated lab: every document validates
against event-model's schemas and carries the sample id and the pattern or points."""

import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest

from tests.conftest import free_port
from tests.drivers.bluesky_harness import LabThread, bluesky_session
from tests.drivers.conftest import FAST_RETRY, QUIET_HEARTBEAT
from voltlab.drivers import (
    CommandRefused,
    CyclerClient,
    CyclerConfig,
    DriverConfig,
    RobotConfig,
    XRDConfig,
)
from voltlab.drivers.devices import Cycler, Robot, XRDStage
from voltlab.drivers.documents import RunRecord, ValidatingSink
from voltlab.drivers.plans import assemble_cell, cycle_cell, measure_xrd, synthesize
from voltlab.drivers.session import BlueskySession
from voltlab.protocol import Recipe
from voltlab.protocol.cycler import CellRef, GalvanostaticCycling
from voltlab.simulated_hardware.config import load_sim_settings
from voltlab.simulated_hardware.world.xrd import simulate_pattern

pytestmark = pytest.mark.servers

RECIPE = Recipe(
    ni=0.8, mn=0.1, co=0.1, li_excess=0.03, calcination_temperature_c=800.0, calcination_time_h=10.0
)
PROTOCOL = GalvanostaticCycling(
    cycles=2, charge_c_rate=1.0, discharge_c_rate=1.0, v_min=2.8, v_max=4.2
)
COLUMNS = ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabThread]:
    settings = load_sim_settings(
        acceleration=float("inf"),
        state_dir=tmp_path_factory.mktemp("lab"),
        robot={"port": free_port()},
        cycler={"command_port": free_port(), "stream_port": free_port(), "channels": 2},
        xrd={"port": free_port()},
    )
    with LabThread(settings) as thread:
        yield thread


@pytest.fixture(scope="module")
def config(lab: LabThread) -> DriverConfig:
    s = lab.lab.settings
    fast = {
        "retry": FAST_RETRY.model_copy(update={"reply_timeout_s": 2.0}),
        "heartbeat": QUIET_HEARTBEAT,
    }
    return DriverConfig(
        robot=RobotConfig(
            url=f"opc.tcp://{s.robot.host}:{s.robot.port}{s.robot.endpoint_path}", **fast
        ),
        cycler=CyclerConfig(
            endpoint=f"tcp://{s.cycler.host}:{s.cycler.command_port}",
            stream_endpoint=f"tcp://{s.cycler.host}:{s.cycler.stream_port}",
            **fast,
        ),
        xrd=XRDConfig(endpoint=f"tcp://{s.xrd.host}:{s.xrd.port}", **fast),
    )  # fmt: skip


class Bench:
    """A session with the three devices connected, and the documents it produced."""

    def __init__(self, session: BlueskySession, sink: ValidatingSink, config: DriverConfig):
        assert config.robot and config.xrd and config.cycler
        self.session, self.sink = session, sink
        self.robot, self.xrd = Robot(config.robot), XRDStage(config.xrd)
        self.cycler = Cycler(config.cycler, channels=[0, 1])

    def run_of(self, plan_name: str) -> RunRecord:
        (run,) = [r for r in self.sink.runs.values() if r.start["plan_name"] == plan_name]
        return run


@pytest.fixture
async def bench(config: DriverConfig) -> AsyncIterator[Bench]:
    async with bluesky_session() as (session, sink):
        bench = Bench(session, sink, config)
        await session.aconnect({"robot": bench.robot, "xrd": bench.xrd, "cycler": bench.cycler})
        yield bench


def data(run: RunRecord) -> list[Mapping[str, Any]]:
    return [event["data"] for event in run.events_of("primary")]


def check_run(run: RunRecord, sample_id: str, events: int) -> None:
    assert run.start["sample_id"] == sample_id
    assert run.stop is not None and run.stop["exit_status"] == "success"
    assert len(run.descriptors) == 1 and len(run.events) == events


async def test_synthesize_records_the_powder(lab: LabThread, bench: Bench) -> None:
    powder = (await bench.session.arun(synthesize(bench.robot, RECIPE, job_id="p-syn"))).plan_result
    assert powder == "p-syn" and lab.lab.registry.powder(powder).recipe == RECIPE
    run = bench.run_of("synthesize")
    check_run(run, "p-syn", events=1)
    assert run.start["recipe"] == RECIPE.model_dump(mode="json")
    (event,) = data(run)
    assert event["robot-product_id"] == "p-syn" and event["robot-job_state"] == "completed"
    assert event["robot-mass_g"] == 5.0


async def test_measure_xrd_records_the_pattern_of_the_sample(lab: LabThread, bench: Bench) -> None:
    await bench.session.arun(synthesize(bench.robot, RECIPE, job_id="p-xrd"))
    plan = measure_xrd(bench.xrd, "p-xrd", (15.0, 70.0), step=0.05, count_time=0.5, job_id="x-1")
    assert (await bench.session.arun(plan)).plan_result == "x-1"
    run = bench.run_of("measure_xrd")
    check_run(run, "p-xrd", events=1)
    assert (run.start["two_theta_range"], run.start["num_points"]) == ([15.0, 70.0], 1101)
    (event,) = data(run)
    grid = 15.0 + 0.05 * np.arange(1101)
    product = lab.lab.registry.powder("p-xrd").product
    truth = simulate_pattern(product, grid, 0.5, lab.lab.rng("xrd", "x-1"))
    np.testing.assert_array_equal(event["xrd-counts"], truth)
    np.testing.assert_allclose(event["xrd-two_theta"], grid)
    assert (event["xrd-sample_id"], event["xrd-job_id"]) == ("p-xrd", "x-1")
    (descriptor,) = run.descriptors.values()
    assert descriptor["data_keys"]["xrd-counts"]["shape"] == [1101]
    assert descriptor["configuration"]["xrd"]["data"]["xrd-step"] == 0.05


async def test_cycle_cell_records_every_point_once(
    lab: LabThread, bench: Bench, config: DriverConfig
) -> None:
    session = bench.session
    await session.arun(synthesize(bench.robot, RECIPE, job_id="p-cyc"))
    cell_id = (await session.arun(assemble_cell(bench.robot, "p-cyc"))).plan_result
    cell = CellRef(cell_id=cell_id, sample_id="p-cyc")
    plan = cycle_cell(bench.cycler.channels[1], PROTOCOL, cell, job_id="c-1", deadline_s=30.0)
    points = (await session.arun(plan)).plan_result
    assert config.cycler is not None
    async with CyclerClient(config.cycler) as cycler:
        truth = await cycler.fetch("c-1", 0, 100_000)
    assert points == len(truth) and truth.final
    run = bench.run_of("cycle_cell")
    check_run(run, cell_id, events=len(run.events))
    assert (run.start["source_sample_id"], run.start["channel"]) == ("p-cyc", 1)
    events = data(run)
    seqs = [e["cycler-channels-1-first_seq"] for e in events]
    lengths = [len(e["cycler-channels-1-time_s"]) for e in events]
    assert seqs == list(np.cumsum([0, *lengths[:-1]])) and sum(lengths) == points
    for name in COLUMNS:
        recorded = np.concatenate([e[f"cycler-channels-1-{name}"] for e in events])
        np.testing.assert_array_equal(recorded, getattr(truth, name))
    (descriptor,) = run.descriptors.values()
    assert descriptor["configuration"]["cycler-channels-1"]["data"] == {
        "cycler-channels-1-job_id": "c-1",
        "cycler-channels-1-cell_id": cell_id,
        "cycler-channels-1-sample_id": "p-cyc",
    }
    assert bench.run_of("assemble_cell").start["source_sample_id"] == "p-cyc"


async def test_a_refused_job_still_leaves_a_valid_closed_run(bench: Bench) -> None:
    hot = RECIPE.model_copy(update={"calcination_temperature_c": 1150.0})
    with pytest.raises(CommandRefused, match="1150"):
        await bench.session.arun(synthesize(bench.robot, hot, job_id="p-hot"))
    run = bench.run_of("synthesize")
    assert run.start["sample_id"] == "p-hot" and not run.events
    assert run.stop is not None and run.stop["exit_status"] == "fail"
    assert "1150" in run.stop["reason"]


async def test_a_bad_scan_is_refused_before_any_document(bench: Bench) -> None:
    with pytest.raises(pydantic.ValidationError, match="two_theta_stop must exceed"):
        await bench.session.arun(measure_xrd(bench.xrd, "p", (70.0, 15.0), 0.1, 1.0))
    assert bench.sink.documents == []


def test_plans_are_message_generators_that_need_no_hardware() -> None:
    xrd = XRDStage(XRDConfig(endpoint="tcp://127.0.0.1:1"), name="xrd")
    messages = list(measure_xrd(xrd, "p-1", (15.0, 70.0), 0.1, 0.2, job_id="x-9"))
    commands = [m.command for m in messages]
    assert commands[0] == "open_run" and commands[-2:] == ["read", "close_run"]
    assert messages[0].kwargs["sample_id"] == "p-1" and messages[0].kwargs["job_id"] == "x-9"
    assert commands.index("set") < commands.index("trigger") < commands.index("save")
    sets = {m.obj.name: m.args[0] for m in messages if m.command == "set"}
    assert sets["xrd-loaded_sample"] == "p-1" and sets["xrd-next_job_id"] == "x-9"


@pytest.mark.slow
def test_the_plain_bluesky_session_example_runs() -> None:
    """examples/bluesky_session.py starts its own lab and runs every plan in a fresh process."""
    script = Path(__file__).parents[2] / "examples" / "bluesky_session.py"
    done = subprocess.run(
        [sys.executable, str(script), "--cycles", "2"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "all valid against event-model's schemas" in done.stdout
    for plan in ("synthesize", "measure_xrd", "assemble_cell", "cycle_cell"):
        assert re.search(rf"^{plan}\s+\S+\s+success\s+[1-9]", done.stdout, re.MULTILINE), plan
