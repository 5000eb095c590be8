"""The lab store's tables and their migrations.

``MIGRATIONS[i]`` takes a store from schema version ``i`` to ``i + 1``; the version lives in the
``meta`` table. Opening a file written by a newer voltlab is refused rather than guessed at.
"""

from collections.abc import Callable

from sqlite_utils import Database

from voltlab.orchestrator.errors import StoreError


def _v1(db: Database) -> None:
    db["campaigns"].create(
        {
            "id": str,
            "name": str,
            "state": str,
            "requested": str,
            "config_yaml": str,
            "config": str,
            "seed": int,
            "planner_state": str,
            "software": str,
            "reason": str,
            "created_at": float,
            "started_at": float,
            "finished_at": float,
        },
        pk="id",
        not_null={"name", "state", "config_yaml", "config", "created_at"},
    )
    db["experiments"].create(
        {
            "id": str,
            "campaign_id": str,
            "number": int,
            "source": str,
            "state": str,
            "parameters": str,
            "reason": str,
            "outcomes": str,
            "result": str,
            "failure": str,
            "told": int,
            "excluded": int,
            "exclude_reason": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
        foreign_keys=[("campaign_id", "campaigns", "id")],
        not_null={"campaign_id", "number", "source", "state", "parameters"},
        defaults={"told": 0, "excluded": 0},
    )
    db["experiments"].create_index(["campaign_id", "number"], unique=True)
    db["steps"].create(
        {
            "id": str,
            "experiment_id": str,
            "position": int,
            "kind": str,
            "state": str,
            "attempt": int,
            "job_id": str,
            "resource": str,
            "result": str,
            "error": str,
            "started_at": float,
            "finished_at": float,
        },
        pk="id",
        foreign_keys=[("experiment_id", "experiments", "id")],
        not_null={"experiment_id", "position", "kind", "state", "attempt"},
        defaults={"attempt": 0},
    )
    db["steps"].create_index(["experiment_id", "position"], unique=True)
    db["samples"].create(
        {
            "id": str,
            "campaign_id": str,
            "experiment_id": str,
            "kind": str,
            "parent_id": str,
            "step_id": str,
            "data": str,
            "created_at": float,
        },
        pk="id",
        foreign_keys=[("experiment_id", "experiments", "id")],
        not_null={"campaign_id", "experiment_id", "kind", "step_id"},
    )
    db.execute(
        "CREATE TABLE cycling_points (job_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "time_s REAL, voltage_v REAL, current_a REAL, capacity_ah REAL, cycle INTEGER, "
        "step INTEGER, PRIMARY KEY (job_id, seq)) WITHOUT ROWID"
    )
    db["cycle_metrics"].create(
        {"job_id": str, "cycle": int, "metrics": str}, pk=("job_id", "cycle")
    )
    db["xrd_patterns"].create(
        {
            "step_id": str,
            "sample_id": str,
            "job_id": str,
            "wavelength_angstrom": float,
            "count_time_s": float,
            "two_theta": bytes,
            "counts": bytes,
        },
        pk="step_id",
    )
    db["analyses"].create(
        {"step_id": str, "experiment_id": str, "kind": str, "metrics": str, "detail": str},
        pk="step_id",
    )
    db["documents"].create(
        {
            "id": int,
            "step_id": str,
            "sample_id": str,
            "run_uid": str,
            "name": str,
            "document": str,
        },
        pk="id",
    )
    db["documents"].create_index(["step_id"])
    db["decisions"].create(
        {
            "id": int,
            "campaign_id": str,
            "experiment_id": str,
            "at": float,
            "planner": str,
            "reason": str,
            "pending": str,
            "duration_s": float,
        },
        pk="id",
    )
    db["events"].create(
        {"seq": int, "at": float, "campaign_id": str, "kind": str, "data": str}, pk="seq"
    )
    db["events"].create_index(["campaign_id", "seq"])


MIGRATIONS: list[Callable[[Database], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: Database) -> int:
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(db: Database, path: str) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`, each step in one transaction; return the version
    found. Raises :class:`StoreError` for a file from a newer voltlab."""
    found = schema_version(db)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: lab store schema version {found} is newer than this voltlab's "
            f"{SCHEMA_VERSION}; upgrade voltlab to open it"
        )
    for version in range(found, SCHEMA_VERSION):
        with db.atomic():
            if version == 0:
                db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            MIGRATIONS[version](db)
            db["meta"].upsert({"key": "schema_version", "value": str(version + 1)}, pk="key")
    return found
