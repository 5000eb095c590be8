"""FAIR export of a real (simulated) campaign as an RO-Crate, and its replay."""

import json
import math
import re
import shutil
from pathlib import Path

import bdf
import numpy as np
import pandas as pd
import pytest
from bdf.normalize import OPTIONAL, REQUIRED
from rocrate.rocrate import ROCrate

from tests.orchestrator.export_fixtures import (
    EXPERIMENTS,
    RecordedCampaign,
    ReplayedCampaign,
    recorded,
    replayed,
)
from voltlab.orchestrator.export import (
    BDF_COLUMNS,
    BundleError,
    export_bundle,
    queue_replay,
    relative_difference,
    replay_plan,
    verify_bundle,
)
from voltlab.orchestrator.export._bdf import bdf_frame
from voltlab.orchestrator.states import CampaignState, ExperimentState
from voltlab.orchestrator.store import Store

__all__ = ["recorded", "replayed"]  # session fixtures used by name below

REPLAY_TOLERANCE = 0.15
"""Relative outcome difference allowed between a run and its replay (batch noise)."""


def _metadata(bundle: Path) -> list[dict]:
    return json.loads((bundle / "ro-crate-metadata.json").read_text())["@graph"]


def _described(bundle: Path) -> dict[str, dict]:
    return {e["@id"]: e for e in _metadata(bundle) if e.get("@type") == "File"}


# -- without servers --------------------------------------------------------------------------


def test_bdf_frame_uses_batterydf_labels_and_charge_positive_current() -> None:
    points = {
        "time_s": np.array([0.0, 1.0]),
        "voltage_v": np.array([3.7, 3.8]),
        "current_a": np.array([0.5, -0.5]),
        "capacity_ah": np.array([0.0, 1e-4]),
        "cycle": np.array([1.0, 1.0]),
        "step": np.array([0.0, 1.0]),
    }
    frame = bdf_frame(points)
    assert list(frame.columns) == list(BDF_COLUMNS.values())
    assert set(BDF_COLUMNS.values()) <= set(REQUIRED) | set(OPTIONAL)
    assert frame["Current / A"].tolist() == [-0.5, 0.5]
    assert frame["Cycle Count / 1"].dtype == np.int64
    assert bdf.validate_df(frame)["ok"]


def test_relative_difference() -> None:
    assert relative_difference(100.0, 110.0) == pytest.approx(0.1)
    assert relative_difference(-2.0, -1.0) == pytest.approx(0.5)
    assert relative_difference(0.0, 0.0) == 0.0
    assert math.isinf(relative_difference(0.0, 1.0))


def test_export_refuses_missing_lab_and_used_folder(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"nolab\.sqlite: no lab store file"):
        export_bundle(tmp_path / "nolab.sqlite", "c1", tmp_path / "out")
    used = tmp_path / "used"
    used.mkdir()
    (used / "x.txt").write_text("x")
    Store.open(tmp_path / "lab.sqlite").close()
    with pytest.raises(BundleError, match="used: exists and is not an empty folder"):
        export_bundle(tmp_path / "lab.sqlite", "c1", used)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="nothing: not a bundle folder or zip"):
        replay_plan(tmp_path / "nothing")
    with pytest.raises(BundleError, match=r"ro-crate-metadata.json: missing from the bundle"):
        replay_plan(tmp_path)


# -- on a campaign run against the simulated lab ----------------------------------------------


@pytest.mark.servers
def test_every_described_file_exists_and_every_file_is_described(
    recorded: RecordedCampaign,
) -> None:
    bundle = recorded.bundle
    described = _described(bundle)
    on_disk = {
        p.relative_to(bundle).as_posix()
        for p in bundle.rglob("*")
        if p.is_file() and p.name != "ro-crate-metadata.json"
    }
    assert set(described) == on_disk
    for name in ("campaign.yaml", "software.json", "experiments.parquet", "samples.parquet",
                 "steps.parquet", "analyses.json", "decisions.jsonl", "events.jsonl"):  # fmt: skip
        assert name in described
    for entity in described.values():
        assert entity["name"] and entity["description"] and entity["encodingFormat"]
        assert int(entity["contentSize"]) == (bundle / entity["@id"]).stat().st_size
    assert verify_bundle(bundle) == len(described)


@pytest.mark.servers
def test_rocrate_reads_the_metadata_back(recorded: RecordedCampaign) -> None:
    crate = ROCrate(recorded.bundle)
    assert crate.version == "1.1"
    assert crate.name.startswith("voltlab campaign cathode-discovery")
    assert crate.root_dataset["identifier"] == recorded.campaign_id
    assert crate.root_dataset["dateCreated"] and crate.root_dataset["temporalCoverage"]
    assert {e.id for e in crate.data_entities} == set(_described(recorded.bundle))
    software = {e["name"]: e["softwareVersion"] for e in crate.get_by_type("SoftwareApplication")}
    for package in ("voltlab", "python", "numpy", "torch", "botorch", "pybamm", "pymatgen",
                    "asyncua", "pyzmq", "pyarrow", "rocrate"):  # fmt: skip
        assert software[package]
    (action,) = crate.get_by_type("CreateAction")
    assert action["instrument"]["name"] == "voltlab"
    assert action["object"][0].id == "campaign.yaml"
    assert action["startTime"] and action["endTime"]


@pytest.mark.servers
def test_tables_match_the_store(recorded: RecordedCampaign) -> None:
    bundle = recorded.bundle
    experiments = pd.read_parquet(bundle / "experiments.parquet")
    steps = pd.read_parquet(bundle / "steps.parquet")
    samples = pd.read_parquet(bundle / "samples.parquet")
    with Store.open(recorded.lab_path) as store:
        rows = store.experiments(recorded.campaign_id)
        assert len(experiments) == len(rows) == EXPERIMENTS
        for (_, exported), row in zip(experiments.iterrows(), rows, strict=True):
            assert exported["id"] == row.id and exported["state"] == row.state.value
            assert json.loads(exported["parameters"]) == row.parameters
            assert exported["parameter.li_excess"] == row.parameters["li_excess"]
            for name, value in (row.outcomes or {}).items():
                assert exported[f"outcome.{name}"] == value
        assert len(steps) == sum(len(store.steps(r.id)) for r in rows)
        assert len(samples) == sum(len(store.samples(r.id)) for r in rows)
        assert len(json.loads((bundle / "analyses.json").read_text())) == sum(
            len(store.analyses(r.id)) for r in rows
        )
        stored_yaml = store.campaign(recorded.campaign_id).config_yaml
        assert (bundle / "campaign.yaml").read_text() == stored_yaml
        events = (bundle / "events.jsonl").read_text().splitlines()
        assert len(events) == len(store.events(recorded.campaign_id))
    cells = samples[samples["kind"] == "cell"]
    powders = set(samples.loc[samples["kind"] == "powder", "id"])
    assert len(cells) >= 1 and set(cells["parent_id"]) <= powders
    decisions = [json.loads(line) for line in (bundle / "decisions.jsonl").read_text().splitlines()]
    assert [d["experiment_id"] for d in decisions] == list(experiments["id"])
    assert all(d["planner"] == "sobol" and "reason" in d for d in decisions)


@pytest.mark.servers
def test_cycling_points_per_job_match_the_store(recorded: RecordedCampaign) -> None:
    files = sorted((recorded.bundle / "cycling").glob("*.bdf.parquet"))
    assert files, "the campaign cycled at least one cell"
    with Store.open(recorded.lab_path) as store:
        for path in files:
            job_id = path.name.removesuffix(".bdf.parquet")
            stored = store.points(job_id)
            (count,) = store.db.execute(
                "SELECT COUNT(*) FROM cycling_points WHERE job_id = ?", [job_id]
            ).fetchone()
            frame = bdf.read(path)
            assert len(frame) == count == len(stored["time_s"]) > 100
            assert set(BDF_COLUMNS.values()) <= set(frame.columns)
            np.testing.assert_array_equal(frame["Voltage / V"], stored["voltage_v"])
            np.testing.assert_array_equal(frame["Current / A"], -stored["current_a"])
            cycles = pd.read_parquet(path.with_name(f"{job_id}.cycles.parquet"))
            assert len(cycles) == len(store.cycle_metrics(job_id))
            assert cycles["discharge_capacity_ah"].max() > 0


@pytest.mark.servers
def test_xrd_patterns_and_bluesky_documents(recorded: RecordedCampaign) -> None:
    bundle = recorded.bundle
    steps = pd.read_parquet(bundle / "steps.parquet")
    with Store.open(recorded.lab_path) as store:
        xrd_steps = steps[(steps["kind"] == "xrd") & (steps["state"] == "completed")]
        assert len(xrd_steps) == EXPERIMENTS
        for step_id in xrd_steps["id"]:
            pattern = store.pattern(step_id)
            exported = pd.read_csv(bundle / "xrd" / f"{pattern['sample_id']}.csv")
            assert list(exported.columns) == ["two_theta", "counts"]
            np.testing.assert_allclose(exported["two_theta"], pattern["two_theta"], rtol=1e-9)
            np.testing.assert_allclose(exported["counts"], pattern["counts"], rtol=1e-9)
        document_files = sorted((bundle / "documents").glob("*.jsonl"))
        assert document_files
        for path in document_files:
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            assert len(lines) == len(store.documents(path.stem))
            assert lines[0][0] == "start" and lines[-1][0] == "stop"
            assert all(isinstance(name, str) and "uid" in doc for name, doc in lines)


@pytest.mark.servers
def test_zip_bundle_reads_like_the_folder(recorded: RecordedCampaign, tmp_path: Path) -> None:
    archive = export_bundle(recorded.lab_path, recorded.campaign_id, tmp_path / "b", make_zip=True)
    assert archive.suffix == ".zip"
    from_zip, from_folder = replay_plan(archive), replay_plan(recorded.bundle)
    assert from_zip.experiments == from_folder.experiments
    assert verify_bundle(archive) == len(_described(recorded.bundle))


@pytest.mark.servers
def test_replay_plan_reads_the_recorded_experiments(recorded: RecordedCampaign) -> None:
    plan = replay_plan(recorded.bundle)
    assert plan.campaign_id == recorded.campaign_id and not plan.skipped
    with Store.open(recorded.lab_path) as store:
        rows = store.experiments(recorded.campaign_id)
    assert plan.parameters == [r.parameters for r in rows]
    assert [e.state for e in plan.experiments] == [r.state for r in rows]
    campaign = plan.campaign()
    assert campaign.budget.experiments == EXPERIMENTS and not campaign.approve


@pytest.mark.servers
def test_queue_replay_needs_the_replay_budget(recorded: RecordedCampaign, tmp_path: Path) -> None:
    plan = replay_plan(recorded.bundle)
    campaign = plan.campaign()
    wrong = campaign.model_copy(update={"budget": campaign.budget.model_copy(
        update={"experiments": EXPERIMENTS + 5})})  # fmt: skip
    with Store.open(tmp_path / "lab.sqlite") as store:
        with pytest.raises(BundleError, match="budget is 8 experiments but 3 are replayed"):
            queue_replay(store, plan, "again", wrong)
        queue_replay(store, plan, "again", campaign)
        queued = store.experiments("again")
    assert [e.parameters for e in queued] == plan.parameters
    assert all(e.source == "manual" and e.state is ExperimentState.QUEUED for e in queued)


@pytest.mark.servers
def test_replay_reproduces_states_and_outcomes(replayed: ReplayedCampaign) -> None:
    assert replayed.state is CampaignState.COMPLETED
    comparison = replayed.comparison
    assert [e.recorded_id for e in comparison.experiments] == [
        e.experiment_id for e in replayed.plan.experiments
    ]
    assert all(e.replayed_id is not None for e in comparison.experiments)
    assert comparison.states_match, [
        (e.recorded_state, e.replayed_state) for e in comparison.experiments
    ]
    completed = [e for e in comparison.experiments if e.recorded_state == "completed"]
    assert completed, "at least one experiment reached a cell result"
    for experiment in completed:
        assert set(experiment.relative_differences) >= {"capacity", "retention", "cost"}
    objectives = {"capacity", "retention", "cost", "layered"}
    assert comparison.within(REPLAY_TOLERANCE, objectives), comparison.to_dict()
    assert comparison.within(REPLAY_TOLERANCE), comparison.to_dict()


# -- damaged bundles ---------------------------------------------------------------------------


def _copy(recorded: RecordedCampaign, tmp_path: Path) -> Path:
    return Path(shutil.copytree(recorded.bundle, tmp_path / "bundle"))


@pytest.mark.servers
def test_missing_file_is_named(recorded: RecordedCampaign, tmp_path: Path) -> None:
    bundle = _copy(recorded, tmp_path)
    (bundle / "experiments.parquet").unlink()
    with pytest.raises(BundleError, match=r"bundle/experiments.parquet: missing from the bundle"):
        replay_plan(bundle)


@pytest.mark.servers
def test_damaged_file_is_named(recorded: RecordedCampaign, tmp_path: Path) -> None:
    bundle = _copy(recorded, tmp_path)
    path = bundle / "experiments.parquet"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BundleError, match=r"experiments.parquet: content does not match"):
        replay_plan(bundle)
    shutil.copyfile(recorded.bundle / "experiments.parquet", path)
    assert len(replay_plan(bundle).experiments) == EXPERIMENTS
    cycling = next((bundle / "cycling").glob("*.bdf.parquet"))
    cycling.write_bytes(b"garbage")
    with pytest.raises(BundleError, match=re.escape(f"{cycling.name}: content does not match")):
        verify_bundle(bundle)


@pytest.mark.servers
def test_bad_metadata_is_named(recorded: RecordedCampaign, tmp_path: Path) -> None:
    bundle = _copy(recorded, tmp_path)
    (bundle / "ro-crate-metadata.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"ro-crate-metadata.json: not valid JSON"):
        replay_plan(bundle)
    (bundle / "ro-crate-metadata.json").write_text('{"@context": "x"}')
    with pytest.raises(BundleError, match=r"ro-crate-metadata.json: not RO-Crate metadata"):
        replay_plan(bundle)


@pytest.mark.servers
def test_wrong_version_is_named(recorded: RecordedCampaign, tmp_path: Path) -> None:
    bundle = _copy(recorded, tmp_path)
    manifest = json.loads((bundle / "bundle.json").read_text())
    (bundle / "bundle.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(BundleError, match=r"bundle.json: content does not match"):
        replay_plan(bundle)
    metadata = json.loads((bundle / "ro-crate-metadata.json").read_text())
    for entity in metadata["@graph"]:
        if entity["@id"] == "bundle.json":
            del entity["sha256"]
    (bundle / "ro-crate-metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(
        BundleError, match=r"bundle.json: bundle format version 99 is not supported"
    ):
        replay_plan(bundle)
