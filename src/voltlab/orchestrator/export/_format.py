"""What a campaign bundle holds: its file names, its format version, and the one error a bundle
that cannot be written or read gives (naming the file)."""

from dataclasses import dataclass

from voltlab.orchestrator.errors import OrchestratorError

BUNDLE_FORMAT = "voltlab-campaign-bundle"
BUNDLE_VERSION = 1
"""Raised whenever a reader of the previous version could no longer read a bundle."""

METADATA = "ro-crate-metadata.json"
MANIFEST = "bundle.json"
CAMPAIGN_YAML = "campaign.yaml"
SOFTWARE = "software.json"
EXPERIMENTS = "experiments.parquet"
SAMPLES = "samples.parquet"
STEPS = "steps.parquet"
ANALYSES = "analyses.json"
DECISIONS = "decisions.jsonl"
EVENTS = "events.jsonl"
CYCLING_DIR = "cycling"
XRD_DIR = "xrd"
DOCUMENTS_DIR = "documents"

PARQUET = "application/vnd.apache.parquet"
JSON = "application/json"
JSON_LINES = "application/jsonl"
YAML = "application/yaml"
CSV = "text/csv"


class BundleError(OrchestratorError, ValueError):
    """A campaign bundle cannot be written or read as asked; the message names the file."""


@dataclass(frozen=True)
class BundleFile:
    """One file of a bundle as the RO-Crate metadata describes it."""

    path: str
    """Relative to the bundle folder, with ``/`` separators."""
    encoding_format: str
    """Its media type."""
    name: str
    description: str
    size_bytes: int
    sha256: str
