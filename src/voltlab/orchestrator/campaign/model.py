"""The campaign: one validated, immutable description of what to optimise and how to run it."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from voltlab.drivers import DriverConfig
from voltlab.orchestrator.campaign.checks import campaign_issues
from voltlab.orchestrator.campaign.costs import CostModel
from voltlab.orchestrator.campaign.report import CampaignProblems, error_message, validation_issues
from voltlab.orchestrator.campaign.sections import (
    Budget,
    Concurrency,
    ConstraintSpec,
    ObjectiveSpec,
    PlannerSpec,
    Resources,
)
from voltlab.orchestrator.campaign.steps import (
    STEP_INSTRUMENTS,
    CycleStep,
    Step,
    SynthesizeStep,
)
from voltlab.orchestrator.errors import CampaignError
from voltlab.planners import (
    Objective,
    OutcomeConstraint,
    ParamValue,
    PlannerInputError,
    Problem,
    SearchSpace,
)
from voltlab.protocol import Recipe
from voltlab.protocol.cycler import FastChargeCycling, GalvanostaticCycling

CAMPAIGN_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
"""Short, lower case: the name goes into device job ids."""
INSTRUMENTS: tuple[str, ...] = tuple(DriverConfig.model_fields)


class Campaign(BaseModel):
    """Search space, objectives, constraints, workflow, budget, concurrency, planner, resources,
    instrument endpoints and costs. Cross-section consistency is checked on construction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=CAMPAIGN_NAME_PATTERN)
    description: str = ""
    seed: int = 0
    space: SearchSpace
    objectives: list[ObjectiveSpec] = Field(min_length=1)
    constraints: list[ConstraintSpec] = Field(default_factory=list)
    workflow: list[Step] = Field(min_length=1)
    budget: Budget
    concurrency: Concurrency = Field(default_factory=Concurrency)
    planner: PlannerSpec = Field(default_factory=PlannerSpec)
    resources: Resources = Field(default_factory=Resources)
    instruments: DriverConfig = Field(default_factory=DriverConfig)
    costs: CostModel = Field(default_factory=CostModel)
    approve: bool = False
    """Approve-before-run: suggested experiments wait for an operator's approval."""

    @model_validator(mode="after")
    def _consistent(self) -> "Campaign":
        issues = campaign_issues(self)
        if issues:
            raise CampaignProblems(issues)
        return self

    def step_kinds(self) -> list[str]:
        """The workflow's step kinds in order."""
        return [step.step for step in self.workflow]

    def first_step(self, kind: str) -> Step | None:
        """The first workflow step of ``kind`` (every kind but gate appears at most once)."""
        return next((step for step in self.workflow if step.step == kind), None)

    def needs(self, instrument: str) -> bool:
        """Whether a workflow step drives ``instrument`` (robot, cycler or xrd)."""
        if instrument not in INSTRUMENTS:
            raise CampaignError(
                f"unknown instrument {instrument!r} (allowed: {', '.join(INSTRUMENTS)})"
            )
        return any(STEP_INSTRUMENTS.get(kind) == instrument for kind in self.step_kinds())

    @property
    def outcome_metrics(self) -> dict[str, str]:
        """Objective and constraint names -> the catalogue metric each reads."""
        return {o.name: o.metric for o in [*self.objectives, *self.constraints]}

    def problem(self) -> Problem:
        """The planners' view: space, objectives, constraints (by name) and reference point."""
        references = {o.name: o.reference for o in self.objectives}
        return Problem(
            space=self.space,
            objectives=[Objective(name=o.name, direction=o.direction) for o in self.objectives],
            constraints=[
                OutcomeConstraint(name=c.name, lower=c.min, upper=c.max) for c in self.constraints
            ],
            reference_point=(
                {k: v for k, v in references.items() if v is not None}
                if all(v is not None for v in references.values())
                else None
            ),
        )

    def recipe_for(self, point: Mapping[str, ParamValue]) -> Recipe:
        """The Recipe the robot gets for ``point``: the synthesize step's ``fixed`` plus the
        point's Recipe-field parameters. Raises :class:`CampaignError` naming the field."""
        step = self.first_step("synthesize")
        if not isinstance(step, SynthesizeStep):
            raise CampaignError(f"campaign {self.name!r} has no synthesize step")
        checked = self._checked(point)
        try:
            return step.recipe(checked)
        except ValidationError as exc:
            raise CampaignError(_describe("recipe", checked, exc)) from exc

    def protocol_for(
        self, point: Mapping[str, ParamValue]
    ) -> GalvanostaticCycling | FastChargeCycling:
        """The cycle step's protocol template completed by ``point``'s protocol parameters."""
        step = self.first_step("cycle")
        if not isinstance(step, CycleStep):
            raise CampaignError(f"campaign {self.name!r} has no cycle step")
        checked = self._checked(point)
        try:
            return step.build_protocol(checked)
        except ValidationError as exc:
            raise CampaignError(_describe("protocol", checked, exc)) from exc

    def with_instruments(self, config: DriverConfig) -> "Campaign":
        """A copy pointed at other instrument endpoints (checked like the original)."""
        fields: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        try:
            return type(self)(**{**fields, "instruments": config})
        except ValidationError as exc:
            issues = validation_issues(exc, Campaign)
            raise CampaignError(
                f"campaign {self.name!r} with other instruments: "
                + "; ".join(f"{field}: {message}" for field, message in issues)
            ) from exc

    def _checked(self, point: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
        try:
            return self.space.check_point(point)
        except PlannerInputError as exc:
            raise CampaignError(f"campaign {self.name!r}: {exc}") from exc


def _describe(what: str, point: Mapping[str, ParamValue], exc: ValidationError) -> str:
    """``what`` for ``point`` is invalid, one ``field: message`` per problem."""
    problems = "; ".join(
        f"{what}.{'.'.join(map(str, e['loc'])) or '*'}: {error_message(e)}" for e in exc.errors()
    )
    return f"invalid {what} for point {dict(point)}: {problems}"
