"""Replaying a bundle: the recorded campaign's experiments, in order, queued as manual
experiments of a new campaign, so the engine runs exactly those points (budget = their count)
against another lab, typically the simulator.

Only experiments that reached a result are replayed (completed, failed, gated); vetoed,
aborted or unfinished ones are listed in :attr:`ReplayPlan.skipped`.
"""

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow

from voltlab.orchestrator.campaign import Campaign, parse_campaign
from voltlab.orchestrator.control import add_manual
from voltlab.orchestrator.errors import CampaignError
from voltlab.orchestrator.export._format import CAMPAIGN_YAML, EXPERIMENTS, BundleError
from voltlab.orchestrator.export._reading import BundleReader
from voltlab.orchestrator.software import software_versions
from voltlab.orchestrator.states import ExperimentState
from voltlab.orchestrator.store import Store

REPLAYED_STATES = (ExperimentState.COMPLETED, ExperimentState.FAILED, ExperimentState.GATED)
_NEEDED_COLUMNS = ("id", "number", "state", "parameters", "outcomes", "failure")


@dataclass(frozen=True)
class RecordedExperiment:
    """One experiment as the bundle recorded it."""

    number: int
    experiment_id: str
    parameters: dict[str, Any]
    state: ExperimentState
    outcomes: dict[str, float]
    """Objective and constraint values (empty when it failed or was gated)."""
    failure: str | None


@dataclass(frozen=True)
class ReplayPlan:
    """What to rerun: the campaign YAML as recorded and its experiments in number order."""

    bundle: Path
    campaign_id: str
    """The recorded campaign's id."""
    campaign_yaml: str
    experiments: tuple[RecordedExperiment, ...]
    skipped: tuple[str, ...]
    """Ids of recorded experiments not replayed (no result to compare)."""

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return [dict(e.parameters) for e in self.experiments]

    def campaign(self) -> Campaign:
        """The recorded campaign, set to run exactly the replayed experiments: budget = their
        count, no wall-time or failure limit, no approval step. Instrument endpoints are the
        recorded ones; point them elsewhere with :meth:`Campaign.with_instruments`."""
        campaign = parse_campaign(self.campaign_yaml, source=f"{self.bundle}/{CAMPAIGN_YAML}")
        budget = campaign.budget.model_copy(
            update={
                "experiments": max(len(self.experiments), 1),
                "wall_time_min": None,
                "max_failures": None,
            }
        )
        return campaign.model_copy(update={"budget": budget, "approve": False})


def _frame(reader: BundleReader) -> pd.DataFrame:
    where = reader.where(EXPERIMENTS)
    try:
        frame = pd.read_parquet(io.BytesIO(reader.read(EXPERIMENTS)), engine="pyarrow")
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise BundleError(f"{where}: not a readable Parquet table ({exc})") from exc
    missing = [c for c in _NEEDED_COLUMNS if c not in frame.columns]
    if missing:
        raise BundleError(f"{where}: missing columns {missing}")
    return frame.sort_values("number")


def _recorded(row: Mapping[str, Any], where: str) -> RecordedExperiment:
    try:
        state = ExperimentState(row["state"])
        parameters = json.loads(row["parameters"])
        outcomes = json.loads(row["outcomes"]) if isinstance(row["outcomes"], str) else {}
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{where}: experiment {row['id']}: {exc}") from exc
    if not isinstance(parameters, dict):
        raise BundleError(f"{where}: experiment {row['id']}: parameters are not a mapping")
    failure = row["failure"] if isinstance(row["failure"], str) else None
    return RecordedExperiment(
        int(row["number"]), str(row["id"]), parameters, state, outcomes or {}, failure
    )


def replay_plan(bundle: str | Path) -> ReplayPlan:
    """Read what to replay from a bundle folder or zip. Raises :class:`BundleError` naming the
    file for a missing or changed file, bad metadata or an unsupported bundle version."""
    with BundleReader(bundle) as reader:
        manifest = reader.manifest()
        text = reader.read(CAMPAIGN_YAML).decode("utf-8", errors="strict")
        try:
            parse_campaign(text, source=reader.where(CAMPAIGN_YAML))
        except CampaignError as exc:
            raise BundleError(str(exc)) from exc
        rows = _frame(reader).to_dict("records")
        recorded = [_recorded(row, reader.where(EXPERIMENTS)) for row in rows]
    return ReplayPlan(
        bundle=Path(bundle),
        campaign_id=str(manifest.get("campaign_id")),
        campaign_yaml=text,
        experiments=tuple(e for e in recorded if e.state in REPLAYED_STATES),
        skipped=tuple(e.experiment_id for e in recorded if e.state not in REPLAYED_STATES),
    )


def queue_replay(
    store: Store, plan: ReplayPlan, campaign_id: str, campaign: Campaign
) -> list[dict[str, Any]]:
    """Create campaign ``campaign_id`` in ``store`` and queue every replayed experiment as a
    manual one, in recorded order; return the events logged. ``campaign`` is what will run
    (usually ``plan.campaign()`` pointed at the simulator); its budget must equal the count of
    replayed experiments so the planner proposes nothing of its own.

    Device job ids derive from the campaign id, and the simulator draws batch noise from its
    seed and the job id: replayed under the recorded id (``plan.campaign_id``) in a new lab
    file, against a simulator with the recorded seed, every measurement repeats exactly; under
    another id the noise is drawn afresh."""
    if not plan.experiments:
        raise BundleError(f"{plan.bundle}: no finished experiment to replay")
    if campaign.budget.experiments != len(plan.experiments):
        raise BundleError(
            f"replay of {plan.bundle}: campaign budget is {campaign.budget.experiments} "
            f"experiments but {len(plan.experiments)} are replayed; use ReplayPlan.campaign()"
        )
    _, created = store.create_campaign(
        campaign_id,
        campaign.name,
        plan.campaign_yaml,
        campaign.model_dump(mode="json"),
        campaign.seed,
        software_versions(),
    )
    provenance = {"replay_of": plan.campaign_id, "bundle": str(plan.bundle)}
    events = [created, store.log_event(campaign_id, "replay", provenance)]
    for experiment in plan.experiments:
        note = f"replay of {experiment.experiment_id} from {plan.bundle}"
        events.append(add_manual(store, campaign_id, experiment.parameters, note=note))
    return events
