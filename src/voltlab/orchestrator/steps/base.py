"""What a workflow step executor gets and returns.

An executor runs one step of one experiment on its (already acquired) resource, using the job
id the runner wrote to the store before calling it. It must be safe to call again with the same
job id after a crash: instruments treat a known job id as "that job", and whatever the step
already stored (a pattern, points) is reused rather than measured again.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from voltlab.orchestrator.campaign import Campaign
from voltlab.orchestrator.errors import OrchestratorError
from voltlab.orchestrator.events import Event
from voltlab.orchestrator.instruments import Instruments
from voltlab.orchestrator.store import AsyncStore, ExperimentRow, StepRow


class StepFailed(OrchestratorError):
    """A step failed for good (not worth retrying): bad data, an analysis that cannot work."""


@dataclass(frozen=True)
class EngineSettings:
    """Limits of the engine, not of a campaign: deadlines per step kind (s, None: no limit),
    attempts per step, and how long a lost instrument is waited for (s)."""

    deadlines_s: dict[str, float | None] = field(
        default_factory=lambda: {
            "synthesize": 48 * 3600.0,
            "xrd": 4 * 3600.0,
            "assemble_cell": 3600.0,
            "cycle": None,
        }
    )
    max_attempts: int = 3
    outage_timeout_s: float = 600.0
    control_poll_s: float = 0.2


@dataclass
class StepContext:
    campaign: Campaign
    experiment: ExperimentRow
    step: StepRow
    """The step as stored, RUNNING with its current attempt's job id."""
    store: AsyncStore
    instruments: Instruments
    publish: Callable[[Event], None]
    settings: EngineSettings
    resource: str | None
    outputs: dict[str, Any]
    """What earlier steps of the experiment produced (powder_id, cell_id, cathode_mass_g)."""
    metrics: dict[str, float]
    """Metrics measured so far in the experiment, by catalogue name."""

    @property
    def job_id(self) -> str:
        assert self.step.job_id is not None
        return self.step.job_id

    @property
    def spec(self) -> Any:
        return self.campaign.workflow[self.step.position]

    @property
    def deadline_s(self) -> float | None:
        return self.settings.deadlines_s.get(self.step.kind)

    def run_metadata(self) -> dict[str, Any]:
        return {
            "campaign_id": self.experiment.campaign_id,
            "experiment_id": self.experiment.id,
            "step_id": self.step.id,
            "job_id": self.job_id,
        }


@dataclass
class StepOutcome:
    outputs: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    gated: str | None = None
    """Why a gate stopped the experiment (None: it goes on)."""

    def as_result(self) -> dict[str, Any]:
        return {"outputs": self.outputs, "metrics": self.metrics, "gated": self.gated}


Executor = Callable[[StepContext], Awaitable[StepOutcome]]
