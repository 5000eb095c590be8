"""What an operator can do to a campaign, through the lab store.

Requests go through the store, so they work from another process (the CLI, the API server) as
well as in-process; a running engine picks them up within ``EngineSettings.control_poll_s``.
Each function returns the event it logged.
"""

from collections.abc import Mapping
from typing import Any

from voltlab.orchestrator.errors import OrchestratorError
from voltlab.orchestrator.states import ExperimentState
from voltlab.orchestrator.store import Store
from voltlab.planners import PlannerInputError, SearchSpace


class ControlError(OrchestratorError, ValueError):
    """An operator action that does not apply (wrong state, unknown id, bad parameters)."""


def pause(store: Store, campaign_id: str) -> dict[str, Any]:
    """No new step starts; running device jobs go on. Resume continues."""
    return store.request(campaign_id, "pause")


def resume(store: Store, campaign_id: str) -> dict[str, Any]:
    return store.request(campaign_id, "resume")


def abort(store: Store, campaign_id: str) -> dict[str, Any]:
    """Stop the campaign: running device jobs are stopped, unfinished experiments aborted."""
    return store.request(campaign_id, "abort")


def _awaiting(store: Store, experiment_id: str) -> None:
    state = store.experiment(experiment_id).state
    if state is not ExperimentState.AWAITING_APPROVAL:
        raise ControlError(f"experiment {experiment_id} is {state}, not awaiting approval")


def approve(store: Store, experiment_id: str) -> dict[str, Any]:
    _awaiting(store, experiment_id)
    return store.set_experiment_state(experiment_id, ExperimentState.QUEUED)


def veto(store: Store, experiment_id: str, reason: str) -> dict[str, Any]:
    """Reject a suggestion before it runs; it does not count against the budget."""
    if not reason.strip():
        raise ControlError("a veto needs a reason")
    _awaiting(store, experiment_id)
    return store.set_experiment_state(
        experiment_id, ExperimentState.VETOED, failure=f"vetoed: {reason}"
    )


def add_manual(
    store: Store, campaign_id: str, parameters: Mapping[str, object], note: str = ""
) -> dict[str, Any]:
    """Queue an experiment an operator chose; checked against the campaign's search space.
    It runs like a suggested one, counts against the budget, and is told to the planner."""
    campaign = store.campaign(campaign_id)
    if campaign.state.is_final:
        raise ControlError(f"campaign {campaign_id} is {campaign.state}: no new experiments")
    space = SearchSpace.model_validate(campaign.config["space"])
    try:
        point = space.check_point(parameters, "parameters")
    except PlannerInputError as exc:
        raise ControlError(f"manual experiment for {campaign_id}: {exc}") from exc
    kinds = [step["step"] for step in campaign.config["workflow"]]
    _, event = store.add_experiment(
        campaign_id, point, "manual", ExperimentState.QUEUED, kinds, reason={"note": note}
    )
    return event


def exclude(store: Store, experiment_id: str, reason: str) -> dict[str, Any]:
    """Keep a result out of the model (a bad cell, a mislabelled sample); its data stay."""
    if not reason.strip():
        raise ControlError("excluding a result needs a reason")
    if not store.experiment(experiment_id).state.is_final:
        raise ControlError(f"experiment {experiment_id} has not finished: nothing to exclude")
    return store.set_excluded(experiment_id, True, reason)
