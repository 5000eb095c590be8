"""``export_bundle``: one campaign of a lab file as a self-describing RO-Crate folder (and
optionally a zip of it) that others can read without voltlab and ``voltlab replay`` can rerun."""

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from voltlab.orchestrator.export._bdf import check_labels
from voltlab.orchestrator.export._crate import write_crate
from voltlab.orchestrator.export._format import (
    ANALYSES,
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    CAMPAIGN_YAML,
    DECISIONS,
    EVENTS,
    EXPERIMENTS,
    MANIFEST,
    SAMPLES,
    SOFTWARE,
    STEPS,
    YAML,
    BundleError,
)
from voltlab.orchestrator.export._measurements import write_measurements
from voltlab.orchestrator.export._tables import experiments_frame, samples_frame, steps_frame
from voltlab.orchestrator.export._writer import BundleWriter
from voltlab.orchestrator.software import software_versions
from voltlab.orchestrator.store import SCHEMA_VERSION, CampaignRow, Store

log = logging.getLogger(__name__)
EVENT_PAGE = 10_000


def _empty_folder(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"{out}: exists and is not an empty folder; choose a new bundle path")
    out.mkdir(parents=True, exist_ok=True)


def _events(store: Store, campaign_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = store.events(campaign_id, after=events[-1]["seq"] if events else 0, limit=EVENT_PAGE)
        if not page:
            return events
        events.extend(page)


def _decisions(store: Store, campaign_id: str) -> list[dict[str, Any]]:
    rows = store.db["decisions"].rows_where("campaign_id = ?", [campaign_id], order_by="id")
    return [
        {**row, "reason": _loads(row["reason"]), "pending": _loads(row["pending"])} for row in rows
    ]


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _manifest(campaign: CampaignRow, exported_at: float) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "campaign_id": campaign.id,
        "campaign_name": campaign.name,
        "campaign_state": campaign.state.value,
        "store_schema_version": SCHEMA_VERSION,
        "exported_at": exported_at,
    }


def export_bundle(
    lab_path: str | Path, campaign_id: str, out: str | Path, *, make_zip: bool = False
) -> Path:
    """Write campaign ``campaign_id`` of the lab file ``lab_path`` as a bundle in the new (or
    empty) folder ``out``; return the folder, or the ``<out>.zip`` made from it with
    ``make_zip``. Raises :class:`BundleError` naming the path that is wrong."""
    lab_path, out = Path(lab_path), Path(out)
    if not lab_path.is_file():
        raise BundleError(f"{lab_path}: no lab store file there")
    check_labels()
    _empty_folder(out)
    exported_at = time.time()
    writer = BundleWriter(out)
    with Store.open(lab_path) as store:
        campaign = store.campaign(campaign_id)
        experiments = store.experiments(campaign_id)
        steps = {e.id: store.steps(e.id) for e in experiments}
        samples = {e.id: store.samples(e.id) for e in experiments}
        writer.json(
            MANIFEST, _manifest(campaign, exported_at), "Bundle manifest",
            f"Format ({BUNDLE_FORMAT} version {BUNDLE_VERSION}), campaign id and export time "
            "(Unix s) of this bundle.",
        )  # fmt: skip
        writer.text(
            CAMPAIGN_YAML, campaign.config_yaml, YAML, "Campaign file",
            "The campaign YAML as stored when the campaign was created.",
        )  # fmt: skip
        software = software_versions()
        writer.json(
            SOFTWARE, {"export": software, "campaign": campaign.software}, "Software versions",
            "Versions of Python and packages at export ('export') and as recorded when the "
            "campaign ran ('campaign').",
        )  # fmt: skip
        writer.parquet(
            EXPERIMENTS, experiments_frame(experiments), "Experiments",
            "One row per experiment in order: parameters, outcomes, state, failure reason, "
            "planner reason; parameters and outcomes also as parameter.* and outcome.* columns.",
        )  # fmt: skip
        writer.parquet(
            SAMPLES, samples_frame([s for e in experiments for s in samples[e.id]]), "Samples",
            "Sample lineage: powders and the cells made from them (parent_id).",
        )  # fmt: skip
        writer.parquet(
            STEPS, steps_frame([s for e in experiments for s in steps[e.id]]), "Steps",
            "Workflow steps of every experiment: state, attempts, device job id, resource, "
            "result, error, start and end (Unix s).",
        )  # fmt: skip
        analyses = [a for e in experiments for a in store.analyses(e.id)]
        writer.json(
            ANALYSES, analyses, "Analyses",
            "Inline analysis results per step (xrd, cycling, outcomes): metrics and detail.",
        )  # fmt: skip
        writer.json_lines(
            DECISIONS, _decisions(store, campaign_id), "Planner decisions",
            "One planner decision per line: the experiment it proposed, the reason "
            "(acquisition value, predictions), pending points and planning time (s).",
        )  # fmt: skip
        writer.json_lines(
            EVENTS, _events(store, campaign_id), "Event log",
            "The campaign's event log in sequence order, one event per line.",
        )  # fmt: skip
        for experiment in experiments:
            write_measurements(store, writer, steps[experiment.id], samples[experiment.id])
    write_crate(out, writer.files, campaign, software, exported_at)
    log.info("exported campaign %s to %s (%d files)", campaign_id, out, len(writer.files))
    if not make_zip:
        return out
    return Path(shutil.make_archive(str(out), "zip", root_dir=out))
