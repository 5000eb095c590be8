"""Read helpers the API needs beyond the store's and the notebook API's methods: paged cycling
points, decisions as stored, analyses' metrics, instruments' current jobs and recent faults.
Each takes the (synchronous) :class:`Store` and returns JSON-ready values (NaN and infinities
become None, since JSON has neither)."""

import json
import math
from typing import Any

import numpy as np

from voltlab.orchestrator.states import StepState
from voltlab.orchestrator.store import POINT_COLUMNS, Store

FAULT_KINDS = ("instrument", "retry")
INTEGER_COLUMNS = ("cycle", "step")


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (also inside lists and dicts) as None."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def point_page(store: Store, job_id: str, offset: int, limit: int) -> tuple[int, dict[str, Any]]:
    """The job's total point count and points ``offset .. offset + limit - 1`` (by sequence)
    as columns (numpy arrays)."""
    total = store.db.execute(
        "SELECT COUNT(*) FROM cycling_points WHERE job_id = ?", [job_id]
    ).fetchone()[0]
    cursor = store.db.execute(
        f"SELECT {', '.join(POINT_COLUMNS)} FROM cycling_points WHERE job_id = ? "
        "ORDER BY seq LIMIT ? OFFSET ?",
        [job_id, limit, offset],
    )
    data = np.array(cursor.fetchall(), dtype=float).reshape(-1, len(POINT_COLUMNS))
    return int(total), {name: data[:, i] for i, name in enumerate(POINT_COLUMNS)}


def decisions(store: Store, campaign_id: str) -> list[dict[str, Any]]:
    rows = store.db["decisions"].rows_where("campaign_id = ?", [campaign_id], order_by="id")
    return [
        finite({**row, "reason": _loads(row["reason"]) or {}, "pending": _loads(row["pending"])})
        for row in rows
    ]


def analyses(store: Store, campaign_id: str) -> list[dict[str, Any]]:
    """Every analysis of the campaign (metrics only, in experiment order)."""
    cursor = store.db.execute(
        "SELECT a.step_id, a.experiment_id, a.kind, a.metrics FROM analyses a "
        "JOIN experiments e ON e.id = a.experiment_id WHERE e.campaign_id = ? "
        "ORDER BY e.number, a.step_id",
        [campaign_id],
    )
    return [
        {"step_id": s, "experiment_id": e, "kind": k, "metrics": finite(_loads(m) or {})}
        for s, e, k, m in cursor.fetchall()
    ]


def held_resources(store: Store) -> list[dict[str, Any]]:
    """Which experiment and step holds each instrument right now (RUNNING steps)."""
    cursor = store.db.execute(
        "SELECT s.resource, e.campaign_id, s.experiment_id, s.id, s.kind, s.job_id, s.attempt, "
        "s.started_at FROM steps s JOIN experiments e ON e.id = s.experiment_id "
        "WHERE s.state = ? AND s.resource IS NOT NULL ORDER BY s.started_at",
        [StepState.RUNNING.value],
    )
    keys = ("resource", "campaign_id", "experiment_id", "step_id", "step_kind", "job_id",
            "attempt", "started_at")  # fmt: skip
    return [
        {**dict(zip(keys, row, strict=True)), "instrument": row[0].split(":", 1)[0]}
        for row in cursor.fetchall()
    ]


def faults(store: Store, limit: int) -> list[dict[str, Any]]:
    """The newest ``instrument`` (outage) and ``retry`` events, newest first."""
    cursor = store.db.execute(
        f"SELECT seq, at, campaign_id, kind, data FROM events WHERE kind IN "
        f"({', '.join('?' * len(FAULT_KINDS))}) ORDER BY seq DESC LIMIT ?",
        [*FAULT_KINDS, limit],
    )
    return [
        {"seq": seq, "at": at, "campaign_id": c, "kind": kind, "data": _loads(data)}
        for seq, at, c, kind, data in cursor.fetchall()
    ]


def experiment_counts(store: Store) -> dict[str, dict[str, int]]:
    """Campaign id -> experiment state -> count."""
    counts: dict[str, dict[str, int]] = {}
    for campaign_id, state, n in store.db.execute(
        "SELECT campaign_id, state, COUNT(*) FROM experiments GROUP BY campaign_id, state"
    ).fetchall():
        counts.setdefault(campaign_id, {})[state] = n
    return counts


def children(store: Store, sample_id: str) -> list[str]:
    """Samples made from ``sample_id`` (cells from a powder)."""
    rows = store.db["samples"].rows_where(
        "parent_id = ?", [sample_id], select="id", order_by="rowid"
    )
    return [r["id"] for r in rows]


def max_seq(store: Store) -> int:
    return int(store.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])


def no_points() -> dict[str, np.ndarray]:
    return {name: np.empty(0) for name in POINT_COLUMNS}
