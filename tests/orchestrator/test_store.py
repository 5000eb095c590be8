"""The lab store on its own: state machines enforced, idempotent point ingestion, schema
versions, and clear errors for files it cannot use."""

from pathlib import Path

import pytest

from voltlab.orchestrator.errors import StoreError, TransitionError
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.store import SCHEMA_VERSION, Store

COLUMNS = ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")


def batch(first: int, n: int) -> dict[str, list[float]]:
    return {name: [float(first + i) for i in range(n)] for name in COLUMNS}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "lab.sqlite")
    store.create_campaign("c", "c", "name: c\n", {"name": "c"}, 1, {"voltlab": "test"})
    return store


def test_the_file_is_in_wal_mode_with_the_current_schema(store: Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version[0]) == SCHEMA_VERSION


def test_transitions_follow_the_state_machines_and_are_logged(store: Store) -> None:
    experiment, _ = store.add_experiment(
        "c", {"x": 1.0}, "planner", ExperimentState.QUEUED, ["synthesize", "xrd"]
    )
    step = store.steps(experiment.id)[0]
    with pytest.raises(TransitionError, match="from pending to completed"):
        store.set_step_state(step.id, StepState.COMPLETED)
    store.set_step_state(step.id, StepState.RUNNING, job_id="j-a1", attempt=1, resource="robot")
    assert store.step(step.id).job_id == "j-a1"
    store.set_step_state(step.id, StepState.COMPLETED, result={"metrics": {"m": 1.0}})
    with pytest.raises(TransitionError, match="it is final"):
        store.set_step_state(step.id, StepState.RUNNING)
    with pytest.raises(TransitionError, match="queued to completed"):
        store.set_experiment_state(experiment.id, ExperimentState.COMPLETED)
    with pytest.raises(TransitionError):
        store.set_campaign_state("c", CampaignState.PAUSED)
    kinds = [e["kind"] for e in store.events("c")]
    assert kinds == ["campaign", "experiment", "step", "step"]
    assert [e["seq"] for e in store.events("c", after=2)] == [3, 4]


def test_points_are_stored_once_whatever_is_offered_again(store: Store) -> None:
    store.add_points("job", 0, batch(0, 100))
    store.add_points("job", 50, batch(50, 100))  # a backfill overlapping what is stored
    store.add_points("job", 0, batch(0, 10))
    points = store.points("job")
    assert store.next_point_seq("job") == 150
    assert list(points["time_s"]) == [float(i) for i in range(150)]


def test_operator_requests_are_checked(store: Store) -> None:
    with pytest.raises(StoreError, match="allowed: pause, resume, abort"):
        store.request("c", "explode")
    with pytest.raises(StoreError, match="no campaign 'nope'"):
        store.request("nope", "pause")
    store.set_campaign_state("c", CampaignState.ABORTED, "test")
    with pytest.raises(StoreError, match="is aborted: cannot pause"):
        store.request("c", "pause")


def test_files_it_cannot_use_are_refused_by_name(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    with Store.open(newer) as store:
        store.db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match=r"newer\.sqlite: lab store schema version 999 is newer"):
        Store.open(newer)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"garbage\.sqlite: not a usable lab store"):
        Store.open(garbage)
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "missing" / "lab.sqlite")


def test_a_campaign_id_is_created_once(store: Store) -> None:
    with pytest.raises(StoreError, match="campaign 'c' exists already"):
        store.create_campaign("c", "c", "", {}, 1, {})
