"""The notebook API against a real campaign run on the simulated lab (once per session)."""

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.orchestrator.lab_fixtures import LabRun, lab_run  # noqa: F401
from voltlab.orchestrator.control import ControlError
from voltlab.orchestrator.errors import StoreError
from voltlab.orchestrator.lab import Lab
from voltlab.orchestrator.states import ExperimentState
from voltlab.orchestrator.store import Store
from voltlab.planners import hypervolume

pytestmark = pytest.mark.servers

OBJECTIVES = {"capacity": "maximise", "retention": "maximise", "cost": "minimise"}


@pytest.fixture
def lab(lab_run: LabRun) -> Iterator[Lab]:  # noqa: F811
    with Lab.open(lab_run.path) as opened:
        yield opened


@pytest.fixture
def lab_copy(lab_run: LabRun, tmp_path: Path) -> Path:  # noqa: F811
    """A copy of the session's lab file that a test may change."""
    return Path(shutil.copy(lab_run.path, tmp_path / "lab.sqlite"))


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    signs = np.array([1.0 if d == "maximise" else -1.0 for d in OBJECTIVES.values()])
    return bool(np.all(a * signs >= b * signs) and np.any(a * signs > b * signs))


def test_campaigns_and_experiments_match_the_store(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    campaigns = lab.campaigns()
    row = campaigns.set_index("id").loc[lab_run.campaign_id]
    assert row["state"] == "completed" and row["experiments"] == 4
    assert row["started_at"] <= row["finished_at"]
    assert isinstance(campaigns["created_at"].dtype, pd.DatetimeTZDtype)

    frame = lab.experiments(lab_run.campaign_id)
    stored = lab.store.experiments(lab_run.campaign_id)
    assert frame["id"].tolist() == [e.id for e in stored]
    assert frame["number"].tolist() == [1, 2, 3, 4]
    assert {f"param.{k}" for k in stored[0].parameters} <= set(frame.columns)
    for experiment, (_, row) in zip(stored, frame.iterrows(), strict=True):
        assert row["state"] == experiment.state
        for name, value in (experiment.outcomes or {}).items():
            assert row[f"outcome.{name}"] == pytest.approx(value)
        for name, value in experiment.parameters.items():
            assert row[f"param.{name}"] == value


def test_steps_follow_the_workflow(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    experiment_id = lab.pareto(lab_run.campaign_id)["id"].iloc[0]
    steps = lab.steps(experiment_id)
    kinds = [s["step"] for s in lab.store.campaign(lab_run.campaign_id).config["workflow"]]
    assert steps["kind"].tolist() == kinds
    assert set(steps["state"]) == {"completed"}
    assert (steps["finished_at"] >= steps["started_at"]).all()


def test_cycling_points_are_the_cycler_jobs_points(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    cycled = 0
    for experiment_id in lab.experiments(lab_run.campaign_id)["id"]:
        job = lab.cycle_job(experiment_id)
        points = lab.cycling_points(experiment_id)
        assert list(points.columns) == [
            "time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step",
        ]  # fmt: skip
        if job is None:
            assert points.empty and lab.cycle_metrics(experiment_id).empty
            continue
        cycled += 1
        assert len(points) == lab_run.job_points[job] > 0
        assert points["time_s"].is_monotonic_increasing
        metrics = lab.cycle_metrics(experiment_id)
        outcomes = lab.store.experiment(experiment_id).outcomes or {}
        assert metrics["cycle"].tolist() == list(range(1, len(metrics) + 1))
        assert metrics["complete"].sum() == outcomes["cycling.cycles_completed"]
        assert metrics["specific_discharge_mah_g"].iloc[0] == pytest.approx(
            outcomes["cycling.specific_capacity_mah_g"]
        )
    assert cycled == len(lab_run.job_points) >= 2


def test_xrd_pattern_carries_the_fit(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    for experiment_id in lab.experiments(lab_run.campaign_id)["id"]:
        pattern = lab.xrd_pattern(experiment_id)
        step = lab.steps(experiment_id).set_index("kind").loc["xrd"]
        stored = lab.store.pattern(step["id"])
        assert stored is not None
        assert np.array_equal(pattern["counts"], stored["counts"])
        assert pattern["two_theta"].is_monotonic_increasing
        assert np.isfinite(pattern[["calculated", "background"]].to_numpy()).all()
        assert (pattern["background"] <= pattern["calculated"] + 1e-6).all()
        assert pattern.attrs["sample_id"] == stored["sample_id"]
        assert pattern.attrs["phases"][0]["name"] == "layered"


def test_samples_and_lineage_lead_back_to_the_powder(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    samples = lab.samples(lab_run.campaign_id).set_index("id")
    cells = samples[samples["kind"] == "cell"]
    assert len(cells) == len(lab_run.job_points)
    for cell_id, cell in cells.iterrows():
        chain = lab.lineage(str(cell_id))
        assert chain == [cell_id, cell["parent_id"]]
        assert samples.loc[chain[-1], "kind"] == "powder"
        assert samples.loc[chain[-1], "experiment_id"] == cell["experiment_id"]
    powder = samples.index[samples["kind"] == "powder"][0]
    assert lab.lineage(powder) == [powder]


def test_decisions_events_and_analyses(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    decisions = lab.decisions(lab_run.campaign_id)
    assert len(decisions) == 4
    assert set(decisions["planner"]) == {"sobol"} == set(decisions["strategy"])
    assert decisions["acquisition_value"].isna().all()
    assert (decisions["duration_s"] >= 0).all() and decisions["pending"].iloc[0] == 0

    events = lab.events(lab_run.campaign_id)
    assert events["seq"].is_monotonic_increasing and events["seq"].is_unique
    assert events["kind"].iloc[-1] == "campaign" and events["data"].iloc[-1]["state"] == "completed"
    later = lab.events(lab_run.campaign_id, after=int(events["seq"].iloc[-3]))
    assert later["seq"].tolist() == events["seq"].tolist()[-2:]

    analyses = lab.analyses(lab_run.campaign_id)
    assert set(analyses["kind"]) == {"xrd", "cycling", "outcomes"}
    xrd = analyses[analyses["kind"] == "xrd"]
    assert len(xrd) == 4 and xrd["xrd.layered_fraction"].between(0, 1).all()
    outcomes = analyses[analyses["kind"] == "outcomes"].set_index("experiment_id")
    for experiment_id, row in outcomes.iterrows():
        stored = lab.store.experiment(str(experiment_id)).outcomes or {}
        assert row["capacity"] == pytest.approx(stored["capacity"])


def test_pareto_front_is_non_dominated_and_dominates_the_rest(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    columns = [f"outcome.{name}" for name in OBJECTIVES]
    front = lab.pareto(lab_run.campaign_id)
    feasible = lab.feasible(lab_run.campaign_id)
    assert len(front) >= 1 and set(front["state"]) == {"completed"}
    assert (front["outcome.layered"] >= 0.95).all()
    values = front[columns].to_numpy()
    for i, a in enumerate(values):
        assert not any(_dominates(b, a) for j, b in enumerate(values) if j != i)
    rest = feasible[feasible["feasible"] & ~feasible["id"].isin(front["id"])][columns]
    for b in rest.to_numpy():
        assert any(_dominates(a, b) for a in values)
    gated = feasible[feasible["state"] == "gated"]
    assert not gated["feasible"].any()


def test_hypervolume_history_grows_to_the_fronts_volume(lab: Lab, lab_run: LabRun) -> None:  # noqa: F811
    history = lab.hypervolume_history(lab_run.campaign_id)
    assert history["number"].tolist() == [1, 2, 3, 4]
    assert (np.diff(history["hypervolume"]) >= 0).all()
    assert history.attrs["reference"] == "campaign" == history["reference"].iloc[0]
    reference = history.attrs["reference_point"]
    assert reference == {"capacity": 120.0, "retention": 0.70, "cost": 25.0}
    front = lab.pareto(lab_run.campaign_id)[[f"outcome.{n}" for n in OBJECTIVES]]
    expected = hypervolume(front.to_numpy(), list(reference.values()), list(OBJECTIVES.values()))
    assert history["hypervolume"].iloc[-1] == pytest.approx(expected) and expected > 0


def test_hypervolume_without_references_uses_the_worst_observed(lab_copy: Path) -> None:
    with sqlite3.connect(lab_copy) as conn:
        config = json.loads(conn.execute("SELECT config FROM campaigns").fetchone()[0])
        for objective in config["objectives"]:
            objective["reference"] = None
        conn.execute("UPDATE campaigns SET config = ?", [json.dumps(config)])
    conn.close()
    with Lab.open(lab_copy) as lab:
        campaign_id = lab.campaigns()["id"].iloc[0]
        history = lab.hypervolume_history(campaign_id)
        feasible = lab.feasible(campaign_id)
        feasible = feasible[feasible["feasible"]]
    assert history.attrs["reference"] == "worst observed"
    assert history.attrs["reference_point"] == {
        "capacity": feasible["outcome.capacity"].min(),
        "retention": feasible["outcome.retention"].min(),
        "cost": feasible["outcome.cost"].max(),
    }
    assert (np.diff(history["hypervolume"]) >= 0).all()


@pytest.mark.parametrize(
    ("call", "unknown"),
    [
        (lambda lab: lab.experiments("no-such-campaign"), "no-such-campaign"),
        (lambda lab: lab.pareto("no-such-campaign"), "no-such-campaign"),
        (lambda lab: lab.steps("no-such-experiment"), "no-such-experiment"),
        (lambda lab: lab.cycling_points("no-such-experiment"), "no-such-experiment"),
        (lambda lab: lab.xrd_pattern("no-such-experiment"), "no-such-experiment"),
        (lambda lab: lab.lineage("no-such-sample"), "no-such-sample"),
    ],
)
def test_unknown_ids_are_named(lab: Lab, call: object, unknown: str) -> None:
    with pytest.raises(StoreError, match=unknown):
        call(lab)  # type: ignore[operator]


def test_a_missing_lab_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sqlite"
    with pytest.raises(StoreError, match=r"nothing\.sqlite"):
        Lab.open(missing)
    assert not missing.exists()


def test_actions_go_through_the_store(lab_copy: Path) -> None:
    with Lab.open(lab_copy) as lab:
        done = lab.campaigns()["id"].iloc[0]
        stored = lab.store.campaign(done)
        with pytest.raises(StoreError, match="cannot pause"):
            lab.pause(done)
        lab.store.create_campaign(
            "second", stored.name, stored.config_yaml, stored.config, stored.seed, {}
        )
        assert lab.pause("second")["data"] == {"request": "pause"}
        assert lab.store.campaign("second").requested == "pause"
        lab.resume("second")
        assert lab.store.campaign("second").requested == "resume"
        parameters = lab.store.experiments(done)[1].parameters
        lab.add_manual("second", parameters, note="repeat the best")
        manual = lab.experiments("second")
        assert manual[["source", "state"]].values.tolist() == [["manual", "queued"]]
        with pytest.raises(ControlError, match="not awaiting approval"):
            lab.approve(manual["id"].iloc[0])
        with pytest.raises(ControlError, match="needs a reason"):
            lab.veto(manual["id"].iloc[0], " ")
        lab.abort("second")
        assert lab.store.campaign("second").requested == "abort"

        best = lab.pareto(done)["id"].iloc[0]
        lab.exclude(best, "cell shorted during assembly")
        assert lab.experiments(done).set_index("id").loc[best, "excluded"]
        assert best not in set(lab.pareto(done)["id"])
        assert not lab.feasible(done).set_index("id").loc[best, "feasible"]
    with Store.open(lab_copy) as store:
        assert store.experiment(best).exclude_reason == "cell shorted during assembly"


def test_decisions_flatten_the_models_predictions(lab_run: LabRun, tmp_path: Path) -> None:  # noqa: F811
    """A model-based decision (as the BoTorch planner records it) gives one mean and one std
    column per objective."""
    path = tmp_path / "lab.sqlite"
    with Store.open(lab_run.path) as source, Store.open(path) as store:
        stored = source.campaign(lab_run.campaign_id)
        store.create_campaign("c", stored.name, "yaml", stored.config, stored.seed, {})
        parameters = source.experiments(lab_run.campaign_id)[1].parameters
        reason = {"strategy": "qLogNEHVI", "acquisition_value": -1.5, "failure_risk": 0.1,
                  "predicted": {"capacity": {"mean": 180.0, "std": 4.0},
                                "retention": {"mean": 0.9, "std": 0.02}}}  # fmt: skip
        decision = {"planner": "botorch", "reason": reason, "pending": [parameters],
                    "duration_s": 2.5}  # fmt: skip
        store.add_experiment(
            "c", parameters, "planner", ExperimentState.QUEUED, ["synthesize"], reason,
            None, decision,
        )  # fmt: skip
    with Lab.open(path) as lab:
        row = lab.decisions("c").iloc[0]
    assert row["strategy"] == "qLogNEHVI" and row["acquisition_value"] == -1.5
    assert row["predicted.capacity.mean"] == 180.0 and row["predicted.capacity.std"] == 4.0
    assert row["predicted.retention.std"] == 0.02
    assert row["pending"] == 1 and row["duration_s"] == 2.5 and row["failure_risk"] == 0.1
