"""The lab store: one SQLite file (WAL mode) holding campaigns, experiments, steps, samples,
measurements, analyses, planner decisions and the event log.

Every state change is one transaction that also appends to the event log, and it is committed
before the action it starts, so after a crash the file says exactly what was under way. The
class is synchronous and owns one connection; :class:`~voltlab.orchestrator.store.AsyncStore`
runs it on a worker thread for the engine.
"""

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_utils import Database

from voltlab.orchestrator.errors import StoreError
from voltlab.orchestrator.states import (
    CAMPAIGN_TRANSITIONS,
    EXPERIMENT_TRANSITIONS,
    STEP_TRANSITIONS,
    CampaignState,
    ExperimentState,
    StepState,
    check_transition,
)
from voltlab.orchestrator.store.rows import CampaignRow, ExperimentRow, SampleRow, StepRow
from voltlab.orchestrator.store.schema import migrate

POINT_COLUMNS = ("time_s", "voltage_v", "current_a", "capacity_ah", "cycle", "step")
BUSY_TIMEOUT_MS = 10_000


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=_to_jsonable)


class Store:
    """One lab file. Use :meth:`open`; close with :meth:`close` (or as a context manager)."""

    def __init__(self, db: Database, path: str) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> "Store":
        """Open (creating if needed) and migrate the lab file at ``path``."""
        path = Path(path)
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist")
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable lab store: {exc}") from exc
        db = Database(conn)
        try:
            migrate(db, str(path))
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: not a usable lab store: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        return cls(db, str(path))

    def close(self) -> None:
        self.db.conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction that takes the write lock at BEGIN (IMMEDIATE): another process
        writing to the lab file (the CLI, the API) makes it wait up to the busy timeout instead
        of failing when a read turns into a write."""
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.conn.execute("ROLLBACK")
            raise
        else:
            self.db.conn.execute("COMMIT")

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ----------------------------------------------------------------------------

    def _event(self, campaign_id: str, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        row = {"at": time.time(), "campaign_id": campaign_id, "kind": kind, "data": _json(data)}
        seq = self.db["events"].insert(row).last_pk
        return {**row, "seq": seq, "data": dict(data)}

    def log_event(self, campaign_id: str, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Append an event (no state change) and return it with its sequence number."""
        with self._write():
            return self._event(campaign_id, kind, data)

    def events(self, campaign_id: str | None = None, after: int = 0, limit: int = 10_000) -> list:
        """Events with ``seq > after`` in order (all campaigns when ``campaign_id`` is None)."""
        where, args = "seq > ?", [after]
        if campaign_id is not None:
            where, args = where + " AND campaign_id = ?", [*args, campaign_id]
        rows = self.db["events"].rows_where(where, args, order_by="seq", limit=limit)
        return [{**r, "data": json.loads(r["data"])} for r in rows]

    # -- campaigns -------------------------------------------------------------------------

    def create_campaign(
        self,
        campaign_id: str,
        name: str,
        config_yaml: str,
        config: Mapping[str, Any],
        seed: int,
        software: Mapping[str, str],
    ) -> tuple[CampaignRow, dict[str, Any]]:
        if self.db["campaigns"].count_where("id = ?", [campaign_id]):
            raise StoreError(f"{self.path}: campaign {campaign_id!r} exists already")
        with self._write():
            self.db["campaigns"].insert(
                {
                    "id": campaign_id,
                    "name": name,
                    "state": CampaignState.CREATED.value,
                    "config_yaml": config_yaml,
                    "config": _json(config),
                    "seed": seed,
                    "software": _json(software),
                    "created_at": time.time(),
                }
            )
            event = self._event(campaign_id, "campaign", {"state": "created", "name": name})
        return self.campaign(campaign_id), event

    def campaign(self, campaign_id: str) -> CampaignRow:
        rows = list(self.db["campaigns"].rows_where("id = ?", [campaign_id]))
        if not rows:
            known = [r["id"] for r in self.db["campaigns"].rows_where(select="id")]
            raise StoreError(f"{self.path}: no campaign {campaign_id!r} (known: {known})")
        return CampaignRow.from_row(rows[0])

    def campaigns(self) -> list[CampaignRow]:
        return [CampaignRow.from_row(r) for r in self.db["campaigns"].rows_where(order_by="rowid")]

    def set_campaign_state(
        self, campaign_id: str, state: CampaignState, reason: str | None = None
    ) -> dict[str, Any]:
        current = self.campaign(campaign_id)
        check_transition(CAMPAIGN_TRANSITIONS, f"campaign {campaign_id}", current.state, state)
        now = time.time()
        updates: dict[str, Any] = {"state": state.value, "reason": reason}
        if state is CampaignState.RUNNING and current.started_at is None:
            updates["started_at"] = now
        if state.is_final:
            updates["finished_at"] = now
        with self._write():
            self.db["campaigns"].update(campaign_id, updates)
            return self._event(campaign_id, "campaign", {"state": state.value, "reason": reason})

    def request(self, campaign_id: str, request: str | None) -> dict[str, Any]:
        """Record an operator's request ("pause", "resume", "abort"; None clears it); the running
        engine acts on it and clears it."""
        if request not in {None, "pause", "resume", "abort"}:
            raise StoreError(f"unknown request {request!r}; allowed: pause, resume, abort")
        state = self.campaign(campaign_id).state
        if request is not None and state.is_final:
            raise StoreError(f"campaign {campaign_id} is {state}: cannot {request} it")
        with self._write():
            self.db["campaigns"].update(campaign_id, {"requested": request})
            return self._event(campaign_id, "request", {"request": request})

    def save_planner_state(self, campaign_id: str, state: str) -> None:
        with self._write():
            self.db["campaigns"].update(campaign_id, {"planner_state": state})

    # -- experiments -----------------------------------------------------------------------

    def add_experiment(
        self,
        campaign_id: str,
        parameters: Mapping[str, Any],
        source: str,
        state: ExperimentState,
        step_kinds: Sequence[str],
        reason: Mapping[str, Any] | None = None,
        planner_state: str | None = None,
        decision: Mapping[str, Any] | None = None,
    ) -> tuple[ExperimentRow, dict[str, Any]]:
        """Create the next experiment with its pending steps, in one transaction together with
        the planner's new state and the decision that proposed it."""
        now = time.time()
        with self._write():
            number = self.db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM experiments WHERE campaign_id = ?",
                [campaign_id],
            ).fetchone()[0]
            experiment_id = f"{campaign_id}-e{number:04d}"
            self.db["experiments"].insert(
                {
                    "id": experiment_id,
                    "campaign_id": campaign_id,
                    "number": number,
                    "source": source,
                    "state": state.value,
                    "parameters": _json(dict(parameters)),
                    "reason": _json(reason),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self.db["steps"].insert_all(
                {
                    "id": f"{experiment_id}-s{position}",
                    "experiment_id": experiment_id,
                    "position": position,
                    "kind": kind,
                    "state": StepState.PENDING.value,
                    "attempt": 0,
                }
                for position, kind in enumerate(step_kinds)
            )
            if planner_state is not None:
                self.db["campaigns"].update(campaign_id, {"planner_state": planner_state})
            if decision is not None:
                self.db["decisions"].insert(
                    {
                        "campaign_id": campaign_id,
                        "experiment_id": experiment_id,
                        "at": now,
                        **{
                            k: _json(v) if k in ("reason", "pending") else v
                            for k, v in decision.items()
                        },
                    }
                )
            event = self._event(
                campaign_id,
                "experiment",
                {
                    "experiment_id": experiment_id,
                    "state": state.value,
                    "source": source,
                    "parameters": dict(parameters),
                },
            )
        return self.experiment(experiment_id), event

    def experiment(self, experiment_id: str) -> ExperimentRow:
        rows = list(self.db["experiments"].rows_where("id = ?", [experiment_id]))
        if not rows:
            raise StoreError(f"{self.path}: no experiment {experiment_id!r}")
        return ExperimentRow.from_row(rows[0])

    def experiments(
        self, campaign_id: str, states: Iterable[ExperimentState] | None = None
    ) -> list[ExperimentRow]:
        where, args = "campaign_id = ?", [campaign_id]
        if states is not None:
            wanted = [s.value for s in states]
            where += f" AND state IN ({', '.join('?' * len(wanted))})"
            args += wanted
        rows = self.db["experiments"].rows_where(where, args, order_by="number")
        return [ExperimentRow.from_row(r) for r in rows]

    def set_experiment_state(
        self,
        experiment_id: str,
        state: ExperimentState,
        outcomes: Mapping[str, float] | None = None,
        failure: str | None = None,
    ) -> dict[str, Any]:
        current = self.experiment(experiment_id)
        check_transition(
            EXPERIMENT_TRANSITIONS, f"experiment {experiment_id}", current.state, state
        )
        updates: dict[str, Any] = {"state": state.value, "updated_at": time.time()}
        if outcomes is not None:
            updates["outcomes"] = _json(dict(outcomes))
        if failure is not None:
            updates["failure"] = failure
        with self._write():
            self.db["experiments"].update(experiment_id, updates)
            return self._event(
                current.campaign_id,
                "experiment",
                {
                    "experiment_id": experiment_id,
                    "state": state.value,
                    "outcomes": dict(outcomes) if outcomes is not None else None,
                    "failure": failure,
                },
            )

    def record_told(
        self, experiment_id: str, result: Mapping[str, Any], planner_state: str
    ) -> None:
        """Mark the experiment's result as learnt by the planner, with the planner's new state."""
        row = self.experiment(experiment_id)
        with self._write():
            self.db["experiments"].update(experiment_id, {"told": 1, "result": _json(dict(result))})
            self.db["campaigns"].update(row.campaign_id, {"planner_state": planner_state})

    def set_excluded(self, experiment_id: str, excluded: bool, reason: str | None) -> dict:
        row = self.experiment(experiment_id)
        with self._write():
            self.db["experiments"].update(
                experiment_id, {"excluded": int(excluded), "exclude_reason": reason}
            )
            return self._event(
                row.campaign_id,
                "exclude",
                {"experiment_id": experiment_id, "excluded": excluded, "reason": reason},
            )

    # -- steps -----------------------------------------------------------------------------

    def steps(self, experiment_id: str) -> list[StepRow]:
        rows = self.db["steps"].rows_where(
            "experiment_id = ?", [experiment_id], order_by="position"
        )
        return [StepRow.from_row(r) for r in rows]

    def step(self, step_id: str) -> StepRow:
        rows = list(self.db["steps"].rows_where("id = ?", [step_id]))
        if not rows:
            raise StoreError(f"{self.path}: no step {step_id!r}")
        return StepRow.from_row(rows[0])

    def set_step_state(
        self,
        step_id: str,
        state: StepState,
        *,
        job_id: str | None = None,
        attempt: int | None = None,
        resource: str | None = None,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        """Move a step; RUNNING carries the job id (idempotency key) the action will use."""
        current = self.step(step_id)
        check_transition(STEP_TRANSITIONS, f"step {step_id}", current.state, state)
        now = time.time()
        updates: dict[str, Any] = {"state": state.value}
        for key, value in (("job_id", job_id), ("attempt", attempt), ("resource", resource)):
            if value is not None:
                updates[key] = value
        if result is not None:
            updates["result"] = _json(dict(result))
        if error is not None:
            updates["error"] = error
        if state is StepState.RUNNING and current.started_at is None:
            updates["started_at"] = now
        if state.is_final:
            updates["finished_at"] = now
        campaign_id = self.experiment(current.experiment_id).campaign_id
        with self._write():
            self.db["steps"].update(step_id, updates)
            return self._event(
                campaign_id,
                "step",
                {
                    "step_id": step_id,
                    "experiment_id": current.experiment_id,
                    "kind": current.kind,
                    "state": state.value,
                    "attempt": updates.get("attempt", current.attempt),
                    "job_id": updates.get("job_id", current.job_id),
                    "resource": updates.get("resource", current.resource),
                    "error": error,
                },
            )

    # -- samples ---------------------------------------------------------------------------

    def add_sample(
        self,
        sample_id: str,
        experiment_id: str,
        kind: str,
        step_id: str,
        parent_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Record a sample once (a retried step recording it again changes nothing)."""
        if self.db["samples"].count_where("id = ?", [sample_id]):
            return None
        campaign_id = self.experiment(experiment_id).campaign_id
        with self._write():
            self.db["samples"].insert(
                {
                    "id": sample_id,
                    "campaign_id": campaign_id,
                    "experiment_id": experiment_id,
                    "kind": kind,
                    "parent_id": parent_id,
                    "step_id": step_id,
                    "data": _json(dict(data or {})),
                    "created_at": time.time(),
                }
            )
            return self._event(
                campaign_id,
                "sample",
                {"sample_id": sample_id, "kind": kind, "parent_id": parent_id,
                 "experiment_id": experiment_id},
            )  # fmt: skip

    def samples(self, experiment_id: str) -> list[SampleRow]:
        rows = self.db["samples"].rows_where("experiment_id = ?", [experiment_id], order_by="rowid")
        return [SampleRow.from_row(r) for r in rows]

    # -- measurements ----------------------------------------------------------------------

    def add_points(self, job_id: str, first_seq: int, columns: Mapping[str, Sequence]) -> int:
        """Insert a cycler job's streamed points ``first_seq, first_seq + 1, ...``; points
        already stored are ignored, so a backfill after a crash never duplicates. Returns the
        rows offered."""
        n = len(columns["time_s"])
        seqs = range(first_seq, first_seq + n)
        rows = zip([job_id] * n, seqs, *(columns[c] for c in POINT_COLUMNS), strict=True)
        with self._write():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO cycling_points VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        return n

    def next_point_seq(self, job_id: str) -> int:
        """The first sequence number not stored yet (points are stored without gaps)."""
        row = self.db.execute(
            "SELECT COALESCE(MAX(seq), -1) + 1 FROM cycling_points WHERE job_id = ?", [job_id]
        ).fetchone()
        return int(row[0])

    def points(self, job_id: str) -> dict[str, np.ndarray]:
        """All stored points of a cycler job, in sequence order, as columns."""
        cursor = self.db.execute(
            f"SELECT {', '.join(POINT_COLUMNS)} FROM cycling_points WHERE job_id = ? ORDER BY seq",
            [job_id],
        )
        data = np.array(cursor.fetchall(), dtype=float).reshape(-1, len(POINT_COLUMNS))
        return {name: data[:, i] for i, name in enumerate(POINT_COLUMNS)}

    def add_cycle_metrics(self, job_id: str, metrics: Sequence[Mapping[str, Any]]) -> None:
        with self._write():
            self.db["cycle_metrics"].upsert_all(
                ({"job_id": job_id, "cycle": m["cycle"], "metrics": _json(dict(m))}
                 for m in metrics),
                pk=("job_id", "cycle"),
            )  # fmt: skip

    def cycle_metrics(self, job_id: str) -> list[dict[str, Any]]:
        rows = self.db["cycle_metrics"].rows_where("job_id = ?", [job_id], order_by="cycle")
        return [json.loads(r["metrics"]) for r in rows]

    def save_pattern(
        self,
        step_id: str,
        sample_id: str,
        job_id: str,
        wavelength_angstrom: float,
        count_time_s: float,
        two_theta: Sequence[float],
        counts: Sequence[float],
    ) -> None:
        with self._write():
            self.db["xrd_patterns"].upsert(
                {
                    "step_id": step_id,
                    "sample_id": sample_id,
                    "job_id": job_id,
                    "wavelength_angstrom": wavelength_angstrom,
                    "count_time_s": count_time_s,
                    "two_theta": np.asarray(two_theta, dtype="<f8").tobytes(),
                    "counts": np.asarray(counts, dtype="<f8").tobytes(),
                },
                pk="step_id",
            )

    def pattern(self, step_id: str) -> dict[str, Any] | None:
        rows = list(self.db["xrd_patterns"].rows_where("step_id = ?", [step_id]))
        if not rows:
            return None
        row = rows[0]
        for key in ("two_theta", "counts"):
            row[key] = np.frombuffer(row[key], dtype="<f8")
        return row

    def save_analysis(
        self,
        step_id: str,
        experiment_id: str,
        kind: str,
        metrics: Mapping[str, float],
        detail: Mapping[str, Any],
    ) -> dict[str, Any]:
        campaign_id = self.experiment(experiment_id).campaign_id
        with self._write():
            self.db["analyses"].upsert(
                {
                    "step_id": step_id,
                    "experiment_id": experiment_id,
                    "kind": kind,
                    "metrics": _json(dict(metrics)),
                    "detail": _json(dict(detail)),
                },
                pk="step_id",
            )
            return self._event(
                campaign_id,
                "analysis",
                {"step_id": step_id, "experiment_id": experiment_id, "kind": kind,
                 "metrics": dict(metrics)},
            )  # fmt: skip

    def analyses(self, experiment_id: str) -> list[dict[str, Any]]:
        rows = self.db["analyses"].rows_where("experiment_id = ?", [experiment_id])
        return [
            {**r, "metrics": json.loads(r["metrics"]), "detail": json.loads(r["detail"])}
            for r in rows
        ]

    def replace_documents(
        self, step_id: str, sample_id: str | None, documents: Sequence[tuple[str, Mapping]]
    ) -> None:
        """Keep ``(name, document)`` pairs of one step's bluesky run; a rerun after a crash
        replaces the earlier, unfinished run's documents."""
        run_uid = next((doc["uid"] for name, doc in documents if name == "start"), None)
        with self._write():
            self.db.execute("DELETE FROM documents WHERE step_id = ?", [step_id])
            self.db["documents"].insert_all(
                {
                    "step_id": step_id,
                    "sample_id": sample_id,
                    "run_uid": run_uid,
                    "name": name,
                    "document": json.dumps(doc, default=_to_jsonable),
                }
                for name, doc in documents
            )

    def documents(self, step_id: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db["documents"].rows_where("step_id = ?", [step_id], order_by="id")
        return [(r["name"], json.loads(r["document"])) for r in rows]


def _to_jsonable(value: Any) -> Any:
    """numpy scalars and arrays inside bluesky documents."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
