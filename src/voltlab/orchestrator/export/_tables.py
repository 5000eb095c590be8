"""The store's campaign rows as flat tables: one row per experiment, step or sample.

Nested values (parameters, outcomes, results, sample data) are kept whole as JSON text, so a
reader gets them back exactly; parameters and outcomes are also spread into ``parameter.<name>``
and ``outcome.<name>`` columns for people who just want to plot them. Times are Unix seconds.
"""

from collections.abc import Sequence
from typing import Any

import pandas as pd

from voltlab.orchestrator.export._writer import finite, to_json
from voltlab.orchestrator.store import ExperimentRow, SampleRow, StepRow

EXPERIMENT_COLUMNS = (
    "id", "number", "source", "state", "failure", "excluded", "exclude_reason", "told",
    "parameters", "outcomes", "reason", "result", "created_at", "updated_at",
)  # fmt: skip
STEP_COLUMNS = (
    "id", "experiment_id", "position", "kind", "state", "attempt", "job_id", "resource",
    "result", "error", "started_at", "finished_at",
)  # fmt: skip
SAMPLE_COLUMNS = (
    "id", "experiment_id", "kind", "parent_id", "step_id", "data", "created_at",
)  # fmt: skip


def _json_or_none(value: Any) -> str | None:
    return None if value is None else to_json(value)


def experiments_frame(experiments: Sequence[ExperimentRow]) -> pd.DataFrame:
    """One row per experiment in number order; ``state`` and ``failure`` say how it ended."""
    records = []
    for e in experiments:
        record: dict[str, Any] = {
            "id": e.id,
            "number": e.number,
            "source": e.source,
            "state": e.state.value,
            "failure": e.failure,
            "excluded": e.excluded,
            "exclude_reason": e.exclude_reason,
            "told": e.told,
            "parameters": to_json(e.parameters),
            "outcomes": _json_or_none(e.outcomes),
            "reason": _json_or_none(e.reason),
            "result": _json_or_none(e.result),
            "created_at": e.created_at,
            "updated_at": e.updated_at,
        }
        record.update({f"parameter.{k}": v for k, v in e.parameters.items()})
        record.update({f"outcome.{k}": v for k, v in finite(e.outcomes or {}).items()})
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=_columns(EXPERIMENT_COLUMNS, records))
    return frame.astype({"number": "int64", "excluded": "bool", "told": "bool"})


def steps_frame(steps: Sequence[StepRow]) -> pd.DataFrame:
    """One row per workflow step; ``attempt`` and ``job_id`` are those of the last attempt."""
    records = [
        {
            "id": s.id,
            "experiment_id": s.experiment_id,
            "position": s.position,
            "kind": s.kind,
            "state": s.state.value,
            "attempt": s.attempt,
            "job_id": s.job_id,
            "resource": s.resource,
            "result": _json_or_none(s.result),
            "error": s.error,
            "started_at": s.started_at,
            "finished_at": s.finished_at,
        }
        for s in steps
    ]
    frame = pd.DataFrame.from_records(records, columns=list(STEP_COLUMNS))
    return frame.astype({"position": "int64", "attempt": "int64"})


def samples_frame(samples: Sequence[SampleRow]) -> pd.DataFrame:
    """Sample lineage: a cell's ``parent_id`` is the powder it was made from."""
    records = [
        {
            "id": s.id,
            "experiment_id": s.experiment_id,
            "kind": s.kind,
            "parent_id": s.parent_id,
            "step_id": s.step_id,
            "data": to_json(s.data),
            "created_at": s.created_at,
        }
        for s in samples
    ]
    return pd.DataFrame.from_records(records, columns=list(SAMPLE_COLUMNS))


def _columns(fixed: Sequence[str], records: Sequence[dict[str, Any]]) -> list[str]:
    """The fixed columns, then the spread ones in the order first seen."""
    extra: dict[str, None] = {}
    for record in records:
        extra.update(dict.fromkeys(k for k in record if k not in fixed))
    return [*fixed, *extra]
