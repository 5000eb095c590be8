"""Closed-loop campaigns end to end over loopback: budget, gates, lineage, device-side checks,
and every operator action (approve mode, pause/resume, manual experiment, exclude)."""

import asyncio
import json
from pathlib import Path

from event_model import DocumentNames, schema_validators

from tests.orchestrator.conftest import cathode_campaign, run
from tests.polling import eventually
from voltlab.drivers import CyclerClient, DriverConfig
from voltlab.orchestrator import control
from voltlab.orchestrator.runs import prepare
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.store import Store

TIMEOUT_S = 100.0


def experiments(lab: Path, campaign_id: str = "test") -> list:
    with Store.open(lab) as store:
        return store.experiments(campaign_id)


def most_at_once(store: Store, campaign_id: str = "test") -> int:
    """The largest number of experiments running at one moment (first step start to last
    step end)."""
    edges = []
    for experiment in store.experiments(campaign_id):
        steps = store.steps(experiment.id)
        edges.append((min(s.started_at for s in steps if s.started_at is not None), 1))
        edges.append((max(s.finished_at for s in steps if s.finished_at is not None), -1))
    running = peak = 0
    for _, change in sorted(edges):  # an end sorts before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


async def test_campaign_reaches_its_budget_with_every_experiment_accounted_for(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    # A strict gate: some powders are stopped after XRD.
    campaign, text = cathode_campaign(
        sim_lab,
        budget={"experiments": 5},
        concurrency={"mode": "async", "max_in_flight": 3},
    )
    gate = campaign.workflow[2]
    lab = tmp_path / "lab.sqlite"
    row = await run(lab, campaign, text)
    assert row.state is CampaignState.COMPLETED and "budget of 5" in row.reason

    store = Store.open(lab)
    found = store.experiments("test")
    assert [e.number for e in found] == [1, 2, 3, 4, 5]
    assert all(e.state in (ExperimentState.COMPLETED, ExperimentState.GATED) for e in found)
    assert all(e.told for e in found), "every finished experiment is told to the planner"
    assert most_at_once(store) <= 3, "max_in_flight bounds the experiments running at once"
    history = json.loads(store.campaign("test").planner_state)["history"]
    assert len(history) == 5
    async with CyclerClient(sim_lab.cycler) as cycler:
        for experiment in found:
            steps = store.steps(experiment.id)
            samples = {s.kind: s for s in store.samples(experiment.id)}
            if experiment.state is ExperimentState.GATED:
                assert experiment.outcomes["xrd.layered_fraction"] < gate.min
                assert "gate needs at least" in experiment.failure
                assert [s.state for s in steps[3:]] == [StepState.SKIPPED] * 3
                assert set(samples) == {"powder"}
                continue
            assert all(s.state is StepState.COMPLETED and s.attempt == 1 for s in steps)
            outcomes = experiment.outcomes
            assert {"capacity", "retention", "cost", "layered"} <= set(outcomes)
            assert outcomes["layered"] >= gate.min
            assert samples["cell"].parent_id == samples["powder"].id
            cycle = steps[4]
            device_job = await cycler.job(cycle.job_id)
            stored = store.points(cycle.job_id)
            assert device_job.points == len(stored["time_s"]) > 100
            assert len(store.cycle_metrics(cycle.job_id)) == 8
            for step in (steps[0], steps[1], steps[3], steps[4]):
                documents = store.documents(step.id)
                assert documents[0][0] == "start"
                assert documents[-1][0] == "stop"
                for name, doc in documents:
                    schema_validators[DocumentNames(name)].validate(doc)
    store.close()


async def test_approve_mode_runs_nothing_until_an_operator_approves(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    campaign, text = cathode_campaign(
        sim_lab, approve=True, budget={"experiments": 2},
        concurrency={"mode": "async", "max_in_flight": 2},
    )  # fmt: skip
    lab = tmp_path / "lab.sqlite"
    engine = asyncio.create_task(run(lab, campaign, text))
    await eventually(lambda: len(experiments(lab)) >= 1)
    await asyncio.sleep(0.5)
    first = experiments(lab)[0]
    assert first.state is ExperimentState.AWAITING_APPROVAL
    with Store.open(lab) as store:
        assert all(s.state is StepState.PENDING for s in store.steps(first.id))
        control.veto(store, first.id, "too close to last week's batch")
    # The veto does not use budget: two more suggestions are made and approved.
    approved: set[str] = set()
    while not engine.done():
        with Store.open(lab) as store:
            for e in store.experiments("test", [ExperimentState.AWAITING_APPROVAL]):
                control.approve(store, e.id)
                approved.add(e.id)
        await asyncio.sleep(0.05)
    row = engine.result()
    assert row.state is CampaignState.COMPLETED
    final = experiments(lab)
    assert final[0].state is ExperimentState.VETOED and "last week" in final[0].failure
    assert {e.id for e in final[1:]} == approved and len(approved) == 2
    assert all(e.state.is_final and e.state is not ExperimentState.VETOED for e in final[1:])


async def test_pause_holds_new_steps_and_resume_finishes(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    campaign, text = cathode_campaign(sim_lab, budget={"experiments": 3})
    lab = tmp_path / "lab.sqlite"
    engine = asyncio.create_task(run(lab, campaign, text))

    def started_steps() -> int:
        with Store.open(lab) as store:
            return sum(
                s.state is not StepState.PENDING
                for e in store.experiments("test")
                for s in store.steps(e.id)
            )

    await eventually(lambda: started_steps() >= 1)
    with Store.open(lab) as store:
        control.pause(store, "test")
    await eventually(lambda: Store.open(lab).campaign("test").state is CampaignState.PAUSED)
    # Steps already running may finish, but none starts while paused.
    await asyncio.sleep(1.0)
    held = started_steps()
    await asyncio.sleep(1.0)
    assert started_steps() == held
    assert not engine.done()
    with Store.open(lab) as store:
        control.resume(store, "test")
    row = await asyncio.wait_for(engine, TIMEOUT_S)
    assert row.state is CampaignState.COMPLETED
    assert len(experiments(lab)) == 3


async def test_manual_experiment_runs_and_an_excluded_result_leaves_the_model(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    # Suggestions wait for approval, so the campaign still runs when the manual one is told.
    campaign, text = cathode_campaign(
        sim_lab, approve=True, budget={"experiments": 3},
        concurrency={"mode": "async", "max_in_flight": 1},
    )  # fmt: skip
    lab = tmp_path / "lab.sqlite"
    point = {
        "ni": 0.6, "mn": 0.2, "co": 0.2, "li_excess": 0.04,
        "calcination_temperature_c": 850.0, "calcination_time_h": 10.0,
        "dopant": "none", "dopant_fraction": 0.0,
    }  # fmt: skip
    with Store.open(lab) as store:
        prepare(store, campaign, text, "test")
        control.add_manual(store, "test", point, note="a known good NMC622")
    engine = asyncio.create_task(run(lab, campaign, text))
    await eventually(lambda: experiments(lab)[0].told)
    with Store.open(lab) as store:
        assert store.campaign("test").state is CampaignState.RUNNING
        control.exclude(store, "test-e0001", "cell was dropped during assembly")
    for number in (2, 3):
        await eventually(lambda n=number: len(experiments(lab)) >= n)
        with Store.open(lab) as store:
            control.approve(store, f"test-e000{number}")
    row = await asyncio.wait_for(engine, TIMEOUT_S)
    assert row.state is CampaignState.COMPLETED
    found = experiments(lab)
    manual = found[0]
    assert manual.source == "manual" and manual.state is ExperimentState.COMPLETED
    assert manual.parameters == point and manual.excluded
    assert [e.source for e in found[1:]] == ["planner", "planner"]
    with Store.open(lab) as store:
        history = json.loads(store.campaign("test").planner_state)["history"]
    told = [h["parameters"] for h in history]
    assert point not in told and len(told) == 2


async def test_vetoing_the_last_suggestion_of_the_budget_brings_another(
    sim_lab: DriverConfig, tmp_path: Path
) -> None:
    campaign, text = cathode_campaign(sim_lab, approve=True, budget={"experiments": 1})
    lab = tmp_path / "lab.sqlite"
    engine = asyncio.create_task(run(lab, campaign, text))
    await eventually(lambda: len(experiments(lab)) == 1)
    with Store.open(lab) as store:
        control.veto(store, "test-e0001", "not this one")
    await eventually(lambda: len(experiments(lab)) == 2)
    with Store.open(lab) as store:
        control.approve(store, "test-e0002")
    row = await asyncio.wait_for(engine, TIMEOUT_S)
    assert row.state is CampaignState.COMPLETED
    first, second = experiments(lab)
    assert first.state is ExperimentState.VETOED
    assert second.state in (ExperimentState.COMPLETED, ExperimentState.GATED)
