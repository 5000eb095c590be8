"""An instrument that goes away pauses the steps that need it, not the campaign.

The simulated lab's servers are started one by one here, so the XRD stage can be stopped while
a campaign runs and a new one started on the same port and lab context (a restarted instrument
that has forgotten its jobs). An instrument unreachable at the start is a clear error naming it,
and the campaign stays in the lab file to be resumed.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.orchestrator.conftest import cathode_campaign, run
from tests.polling import eventually
from voltlab.drivers import DriverConfig, InstrumentUnavailable, RetryPolicy
from voltlab.orchestrator.events import Event, EventBus
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.store import Store
from voltlab.protocol.xrd import StageState
from voltlab.simlab import driver_config
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.context import LabContext
from voltlab.simulated_hardware.faults import FaultKind
from voltlab.simulated_hardware.lab import SERVER_CLASSES, Instrument, InstrumentServer
from voltlab.simulated_hardware.servers.xrd import XRDServer

TIMEOUT_S = 100.0
MIN_OUTAGE_S = 2.0
QUICK_RETRY = RetryPolicy(
    reply_timeout_s=0.5, attempts=2, backoff_initial_s=0.02, backoff_max_s=0.1
)
"""Lets a lost XRD stage surface to the engine within about a second."""


class Servers:
    """The simulated instruments on one lab context, each stoppable and restartable."""

    def __init__(self, settings: SimSettings) -> None:
        self.lab = LabContext.from_settings(settings)
        self.running: dict[Instrument, InstrumentServer] = {}

    async def start(self, instrument: Instrument) -> None:
        server = SERVER_CLASSES[instrument](self.lab)
        await server.start()
        self.running[instrument] = server

    async def stop(self, instrument: Instrument) -> None:
        await self.running.pop(instrument).stop()


@contextlib.asynccontextmanager
async def servers_running(settings: SimSettings) -> AsyncIterator[Servers]:
    servers = Servers(settings)
    try:
        for instrument in Instrument:
            await servers.start(instrument)
        yield servers
    finally:
        for instrument in list(servers.running):
            await servers.stop(instrument)
        servers.lab.close()


def with_xrd(config: DriverConfig, **changes: object) -> DriverConfig:
    assert config.xrd is not None
    xrd = config.xrd.model_copy(update={"retry": QUICK_RETRY, **changes})
    return config.model_copy(update={"xrd": xrd})


def steps_of(lab: Path) -> list:
    with Store.open(lab) as store:
        return [s for e in store.experiments("test") for s in store.steps(e.id)]


def xrd_needed_while_cycling(lab: Path) -> bool:
    """A cell is cycling while another experiment still has its XRD to do."""
    steps = steps_of(lab)
    cycling = {s.experiment_id for s in steps if s.kind == "cycle" and s.state is StepState.RUNNING}
    waiting = {s.experiment_id for s in steps if s.kind == "xrd" and not s.state.is_final}
    return bool(cycling) and bool(waiting - cycling)


async def test_an_xrd_outage_holds_only_the_steps_that_need_it(
    sim_settings: SimSettings, tmp_path: Path
) -> None:
    lab = tmp_path / "lab.sqlite"
    bus = EventBus()
    async with servers_running(sim_settings) as servers:
        instruments = with_xrd(driver_config(sim_settings))
        campaign, text = cathode_campaign(
            instruments, budget={"experiments": 4},
            concurrency={"mode": "async", "max_in_flight": 3},
        )  # fmt: skip
        seen: list[tuple[float, Event]] = []
        with bus.subscription() as queue:

            async def record() -> None:
                while True:
                    event = await queue.get()
                    seen.append((time.time(), event))

            recorder = asyncio.create_task(record())
            engine = asyncio.create_task(run(lab, campaign, text, bus=bus))
            try:
                await eventually(lambda: xrd_needed_while_cycling(lab))
                down_at = time.time()
                await servers.stop(Instrument.XRD)

                def outage_felt() -> bool:
                    """A step missed the stage, and a cell went on cycling (its trace streams
                    once computed) while the stage was down."""
                    kinds = {e["kind"] for at, e in seen if at >= down_at}
                    long_enough = time.time() - down_at >= MIN_OUTAGE_S
                    return long_enough and {"instrument", "points"} <= kinds

                await eventually(outage_felt, 60.0)
                await servers.start(Instrument.XRD)
                up_at = time.time()
                row = await asyncio.wait_for(engine, TIMEOUT_S)
            finally:
                recorder.cancel()
                await asyncio.gather(recorder, engine, return_exceptions=True)

    assert row.state is CampaignState.COMPLETED, row.reason
    with Store.open(lab) as store:
        found = store.experiments("test")
        outage_events = [e for e in store.events("test") if e["kind"] == "instrument"]
        steps = {s.id: s for e in found for s in store.steps(e.id)}
    assert len(found) == 4
    assert all(e.state in (ExperimentState.COMPLETED, ExperimentState.GATED) for e in found), [
        (e.id, e.state, e.failure) for e in found
    ]
    # The steps that needed the stage waited for it, then finished at their first attempt.
    assert all(e["data"]["instrument"] == "xrd" for e in outage_events)
    assert any(e["data"]["state"] == "unavailable" for e in outage_events)
    held = {e["data"]["step_id"] for e in outage_events}
    assert all(steps[s].kind == "xrd" and steps[s].state is StepState.COMPLETED for s in held)
    assert all(steps[s].attempt == 1 for s in held), "an outage is not a failed attempt"
    assert all(down_at <= e["at"] <= up_at + 5.0 for e in outage_events)
    # Meanwhile a cell of another experiment went on cycling.
    held_experiments = {steps[s].experiment_id for s in held}
    cycled = [e["data"] for at, e in seen if e["kind"] == "points" and down_at < at < up_at]
    assert cycled, "no cycling progress while the XRD stage was down"
    assert not {d["experiment_id"] for d in cycled} & held_experiments
    assert sum(d["count"] for d in cycled) > 0


async def test_an_xrd_stage_restarted_mid_measurement_is_waited_for_not_failed(
    sim_settings: SimSettings, tmp_path: Path
) -> None:
    """A hung measurement, and the stage is power-cycled: it comes back (having forgotten its
    jobs) before the driver gives up on a command. The measurement is made again under the
    same job id and the experiment goes on."""
    lab = tmp_path / "lab.sqlite"
    async with servers_running(sim_settings) as servers:
        servers.lab.faults.schedule(FaultKind.STUCK_JOB, "xrd.measure")
        campaign, text = cathode_campaign(
            driver_config(sim_settings), cycles=4, budget={"experiments": 1}
        )
        engine = asyncio.create_task(run(lab, campaign, text))
        try:
            stage = servers.running[Instrument.XRD]
            assert isinstance(stage, XRDServer)
            await eventually(lambda: stage.status().state is StageState.MEASURING)
            await servers.stop(Instrument.XRD)
            await asyncio.sleep(0.5)  # the outage itself, shorter than the driver's retries
            await servers.start(Instrument.XRD)
            row = await asyncio.wait_for(engine, TIMEOUT_S)
        finally:
            await asyncio.gather(engine, return_exceptions=True)
    with Store.open(lab) as store:
        (experiment,) = store.experiments("test")
        xrd = store.steps(experiment.id)[1]
        missed = [e["data"] for e in store.events("test") if e["kind"] == "instrument"]
    assert row.state is CampaignState.COMPLETED
    assert experiment.state in (ExperimentState.COMPLETED, ExperimentState.GATED), (
        experiment.failure
    )
    assert xrd.state is StepState.COMPLETED and xrd.attempt == 1
    assert missed and {(d["instrument"], d["step_id"]) for d in missed} == {("xrd", xrd.id)}


async def test_an_instrument_unreachable_at_the_start_is_named_and_the_campaign_kept(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    lab = tmp_path / "lab.sqlite"
    nowhere = f"tcp://127.0.0.1:{free_port()}"
    campaign, text = cathode_campaign(
        with_xrd(sim_lab, endpoint=nowhere), cycles=4, budget={"experiments": 1}
    )
    with pytest.raises(InstrumentUnavailable) as raised:
        await run(lab, campaign, text)
    assert isinstance(raised.value, ConnectionError)
    assert raised.value.instrument == "xrd"
    assert "xrd" in str(raised.value) and nowhere in str(raised.value)

    with Store.open(lab) as store:
        kept = store.campaign("test")
        assert kept.state is CampaignState.CREATED and kept.config_yaml == text
        assert store.experiments("test") == []

    # Pointed at the stage, the same campaign resumes from the lab file and completes.
    fixed, fixed_text = cathode_campaign(with_xrd(sim_lab), cycles=4, budget={"experiments": 1})
    row = await run(lab, fixed, fixed_text)
    assert row.state is CampaignState.COMPLETED and "budget of 1" in row.reason
    with Store.open(lab) as store:
        assert [e.state.is_final for e in store.experiments("test")] == [True]
