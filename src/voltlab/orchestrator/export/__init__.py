"""FAIR export of a campaign and its replay.

:func:`export_bundle` writes one campaign of a lab file as an RO-Crate folder: the campaign
YAML, software versions, experiments, samples, steps (Parquet), analyses, planner decisions and
the event log (JSON), cycling points per cycler job with Battery Data Format column labels,
per-cycle metrics, XRD patterns per powder (CSV), bluesky documents per step (JSON lines), and
``ro-crate-metadata.json`` describing each file with its checksum.

:func:`replay_plan` reads a bundle back; :func:`queue_replay` queues its experiments in a new
campaign for the engine to run against another (simulated) lab; :func:`compare_replay` sets the
replay against the recording.
"""

from voltlab.orchestrator.export._bdf import BDF_COLUMNS
from voltlab.orchestrator.export._compare import (
    ExperimentComparison,
    ReplayComparison,
    compare_replay,
    relative_difference,
)
from voltlab.orchestrator.export._export import export_bundle
from voltlab.orchestrator.export._format import BUNDLE_FORMAT, BUNDLE_VERSION, BundleError
from voltlab.orchestrator.export._reading import verify_bundle
from voltlab.orchestrator.export._replay import (
    REPLAYED_STATES,
    RecordedExperiment,
    ReplayPlan,
    queue_replay,
    replay_plan,
)
from voltlab.orchestrator.software import software_versions

__all__ = [
    "BDF_COLUMNS",
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "REPLAYED_STATES",
    "BundleError",
    "ExperimentComparison",
    "RecordedExperiment",
    "ReplayComparison",
    "ReplayPlan",
    "compare_replay",
    "export_bundle",
    "queue_replay",
    "relative_difference",
    "replay_plan",
    "software_versions",
    "verify_bundle",
]
