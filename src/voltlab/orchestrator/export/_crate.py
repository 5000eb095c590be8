"""The bundle's ``ro-crate-metadata.json`` (RO-Crate 1.1, written with the ``rocrate``
package): every file with its name, media type, description, size and SHA-256; the campaign as
the root dataset; the run as a CreateAction whose instrument is voltlab, with the other
software as SoftwareApplication entities it requires."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rocrate.model import SoftwareApplication
from rocrate.rocrate import ROCrate

from voltlab.orchestrator.export._format import CAMPAIGN_YAML, BundleFile
from voltlab.orchestrator.store import CampaignRow

RO_CRATE_VERSION = "1.1"


def iso(seconds: float | None) -> str | None:
    """Unix seconds as an ISO 8601 UTC time (None stays None)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def write_crate(
    root: Path,
    files: Sequence[BundleFile],
    campaign: CampaignRow,
    software: Mapping[str, str],
    exported_at: float,
) -> Path:
    """Describe ``files`` (already under ``root``) and write the metadata file; return it."""
    crate = ROCrate(version=RO_CRATE_VERSION)
    description = str(campaign.config.get("description") or "").strip()
    crate.name = f"voltlab campaign {campaign.name} ({campaign.id})"
    crate.description = description or f"Closed-loop campaign {campaign.name} run by voltlab."
    crate.datePublished = iso(exported_at)
    root_dataset = crate.root_dataset
    root_dataset["identifier"] = campaign.id
    root_dataset["dateCreated"] = iso(campaign.created_at)
    if campaign.started_at is not None:
        end = iso(campaign.finished_at) or ".."
        root_dataset["temporalCoverage"] = f"{iso(campaign.started_at)}/{end}"
    entities = {
        f.path: crate.add_file(
            root / f.path,
            dest_path=f.path,
            properties={
                "name": f.name,
                "description": f.description,
                "encodingFormat": f.encoding_format,
                "contentSize": str(f.size_bytes),
                "sha256": f.sha256,
            },
        )
        for f in files
    }
    applications = {
        name: crate.add(
            SoftwareApplication(
                crate,
                f"#software-{name}",
                properties={"name": name, "softwareVersion": version},
            )
        )
        for name, version in software.items()
    }
    voltlab = applications.get("voltlab")
    if voltlab is not None:
        voltlab["softwareRequirements"] = [a for n, a in applications.items() if n != "voltlab"]
        crate.add_action(
            voltlab,
            identifier=f"#run-{campaign.id}",
            object=[entities[CAMPAIGN_YAML]] if CAMPAIGN_YAML in entities else None,
            result=[e for path, e in entities.items() if path != CAMPAIGN_YAML],
            properties={
                "name": f"Run of campaign {campaign.name}",
                "description": f"campaign state {campaign.state.value}"
                + (f": {campaign.reason}" if campaign.reason else ""),
                **({"startTime": iso(campaign.started_at)} if campaign.started_at else {}),
                **({"endTime": iso(campaign.finished_at)} if campaign.finished_at else {}),
            },
        )
    crate.write(root)
    return root / "ro-crate-metadata.json"
