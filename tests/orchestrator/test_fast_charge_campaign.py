"""The fast-charge example, made small, on the simulated lab: a cycler-only workflow (reference
cells, early cycle-life prediction as the objective) runs on the same engine as the cathode
campaign and never touches the robot or the XRD stage, though both are configured and running."""

import math
import sqlite3
from pathlib import Path

import yaml

from tests.orchestrator.conftest import EXAMPLES, FAST_ENGINE
from voltlab.drivers import CyclerClient, DriverConfig
from voltlab.orchestrator.campaign import Campaign, parse_campaign
from voltlab.orchestrator.runs import run_campaign
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.store import Store
from voltlab.protocol import JobState
from voltlab.protocol.xrd import StageState
from voltlab.simlab import driver_config
from voltlab.simulated_hardware.config import SimSettings
from voltlab.simulated_hardware.lab import Instrument, running_lab
from voltlab.simulated_hardware.servers.xrd import XRDServer

EXPERIMENTS = 3
CHANNELS = [0, 1, 2, 3]


def fast_charge_campaign(instruments: DriverConfig) -> tuple[Campaign, str]:
    """examples/fast_charge.yaml with three Sobol experiments on four channels, and every
    simulated instrument configured (the workflow needs only the cycler)."""
    raw = yaml.safe_load((EXAMPLES / "fast_charge.yaml").read_text())
    raw["budget"] = {"experiments": EXPERIMENTS}
    raw["planner"] = {"kind": "sobol"}
    raw["resources"] = {"cycler_channels": CHANNELS}
    raw["concurrency"] = {"mode": "async", "max_in_flight": len(CHANNELS)}
    raw["instruments"] = instruments.model_dump(mode="json", exclude_none=True)
    text = yaml.safe_dump(raw, sort_keys=False)
    return parse_campaign(text, "fast-charge-test.yaml"), text


def registry_counts(path: Path) -> tuple[int, int]:
    """Powders and cells the simulated robot has made (its shared sample registry)."""
    with sqlite3.connect(path) as db:
        powders = db.execute("SELECT COUNT(*) FROM powders").fetchone()[0]
        cells = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    return powders, cells


async def test_fast_charge_campaign_runs_on_the_cycler_alone(
    sim_settings: SimSettings, tmp_path: Path
) -> None:
    lab = tmp_path / "lab.sqlite"
    async with running_lab(sim_settings) as (context, servers):
        config = driver_config(sim_settings)
        campaign, text = fast_charge_campaign(config)
        assert not campaign.needs("robot") and not campaign.needs("xrd")
        row = await run_campaign(lab, campaign, text, "fast", None, FAST_ENGINE)

        with Store.open(lab) as store:
            found = store.experiments("fast")
            steps = {e.id: store.steps(e.id) for e in found}
            samples = {e.id: store.samples(e.id) for e in found}
            points = {
                e.id: len(store.points(steps[e.id][0].job_id)["time_s"])
                for e in found
                if steps[e.id][0].job_id
            }
        assert config.cycler is not None
        async with CyclerClient(config.cycler) as cycler:
            jobs = {e.id: await cycler.job(steps[e.id][0].job_id) for e in found}
        # Nothing reached the robot or the XRD stage.
        assert registry_counts(context.registry.path) == (0, 0)
        stage = servers[Instrument.XRD]
        assert isinstance(stage, XRDServer)
        assert stage.status().state is StageState.EMPTY and stage.status().job_id is None

    assert row.state is CampaignState.COMPLETED and f"budget of {EXPERIMENTS}" in row.reason
    assert len(found) == EXPERIMENTS
    assert all(e.state is ExperimentState.COMPLETED for e in found), [
        (e.id, e.state, e.failure) for e in found
    ]
    for experiment in found:
        outcomes = experiment.outcomes or {}
        life = outcomes["cycling.predicted_cycle_life"]
        assert math.isfinite(life) and life > 0
        assert outcomes["cycle_life"] == life
        assert 0.0 < outcomes["retention"] == outcomes["cycling.retention"] <= 1.05
        assert [s.kind for s in steps[experiment.id]] == ["cycle", "analyse"]
        assert all(s.state is StepState.COMPLETED for s in steps[experiment.id])
        # A reference cell, with no powder behind it.
        (cell,) = samples[experiment.id]
        assert cell.kind == "cell" and cell.parent_id is None
        assert cell.data["cathode_mass_g"] == 0.015
        # The cycler ran the experiment's own charging protocol, to the last point stored.
        job = jobs[experiment.id]
        assert job.state is JobState.COMPLETED and job.channel in CHANNELS
        assert job.cell.sample_id is None
        assert job.protocol.kind == "fast_charge" and job.protocol.cycles == 100
        assert job.protocol.cc1_c_rate == experiment.parameters["cc1_c_rate"]
        assert job.protocol.cc2_c_rate == experiment.parameters["cc2_c_rate"]
        assert job.points == points[experiment.id] > 0
