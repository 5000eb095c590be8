"""The smaller sections of a campaign: objectives, constraints, budget, concurrency, planner,
resources. Each validates what it can see on its own; cross-section checks live in ``checks``."""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from voltlab.orchestrator.campaign.report import CampaignProblems, validation_issues
from voltlab.orchestrator.campaign.steps import check_bounds
from voltlab.planners import BoTorchOptions

DEFAULT_CYCLER_CHANNELS = 16

_AMERICAN_DIRECTIONS = {"maximize": "maximise", "minimize": "minimise"}


def _british(value: object) -> object:
    """Accept "maximize"/"minimize" for the planners' British spelling."""
    return _AMERICAN_DIRECTIONS.get(value, value) if isinstance(value, str) else value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectiveSpec(_Section):
    """An outcome to optimise: ``metric`` from the catalogue, and its direction.

    ``reference`` (the metric's unit) is the worst value still worth improving on; the planners'
    hypervolume is measured from it.
    """

    name: str = Field(min_length=1)
    metric: str
    direction: Annotated[Literal["maximise", "minimise"], BeforeValidator(_british)]
    reference: float | None = None


class ConstraintSpec(_Section):
    """An outcome that must stay within ``[min, max]`` (the metric's unit) to count as feasible."""

    name: str = Field(min_length=1)
    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> "ConstraintSpec":
        check_bounds(self.min, self.max)
        return self


class Budget(_Section):
    """When the campaign stops: experiments run, wall time (minutes), failed experiments."""

    experiments: int = Field(ge=1)
    wall_time_min: float | None = Field(default=None, gt=0.0)
    max_failures: int | None = Field(default=None, ge=1)


class Concurrency(_Section):
    """``async``: a new experiment is asked for whenever one ends, up to ``max_in_flight``.
    ``batch``: ``batch_size`` are asked for at once and all awaited before the next batch."""

    mode: Literal["async", "batch"] = "async"
    max_in_flight: int = Field(default=4, ge=1)
    batch_size: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _batch_only(self) -> "Concurrency":
        if self.batch_size is not None and self.mode != "batch":
            raise ValueError("batch_size applies to mode 'batch' only")
        return self

    @property
    def effective_batch_size(self) -> int:
        """Experiments asked for at once in batch mode (``max_in_flight`` unless set)."""
        return self.batch_size if self.batch_size is not None else self.max_in_flight


class PlannerSpec(_Section):
    """Which planner suggests experiments; ``options`` are :class:`BoTorchOptions` for botorch."""

    kind: Literal["botorch", "sobol", "random"] = "botorch"
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _options(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind == "botorch":
            try:
                BoTorchOptions.model_validate(value)
            except ValidationError as exc:
                raise CampaignProblems(validation_issues(exc, BoTorchOptions)) from exc
        elif value:
            raise ValueError(f"the {kind} planner takes no options")
        return value

    def botorch_options(self) -> BoTorchOptions:
        """The validated options of a botorch planner."""
        return BoTorchOptions.model_validate(self.options)


class Resources(_Section):
    """Cycler channels this campaign may use (indices on the configured cycler)."""

    cycler_channels: list[int] = Field(
        default_factory=lambda: list(range(DEFAULT_CYCLER_CHANNELS)), min_length=1
    )

    @field_validator("cycler_channels")
    @classmethod
    def _channels(cls, channels: list[int]) -> list[int]:
        problems = []
        negative = [c for c in channels if c < 0]
        if negative:
            problems.append(f"channels must be >= 0, got {negative}")
        repeated = sorted({c for c in channels if channels.count(c) > 1})
        if repeated:
            problems.append(f"channels listed twice: {repeated}")
        if problems:
            raise ValueError("; ".join(problems))
        return channels
