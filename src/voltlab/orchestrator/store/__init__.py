"""The lab store: one SQLite file per lab (WAL mode, through sqlite-utils), migrated on open."""

from voltlab.orchestrator.store.async_store import AsyncStore
from voltlab.orchestrator.store.lab_store import POINT_COLUMNS, Store
from voltlab.orchestrator.store.rows import CampaignRow, ExperimentRow, SampleRow, StepRow
from voltlab.orchestrator.store.schema import SCHEMA_VERSION

__all__ = [
    "POINT_COLUMNS",
    "SCHEMA_VERSION",
    "AsyncStore",
    "CampaignRow",
    "ExperimentRow",
    "SampleRow",
    "StepRow",
    "Store",
]
