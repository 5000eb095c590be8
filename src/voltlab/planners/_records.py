"""What goes in and out of a planner: told results, suggestions and the reason for each."""

import math
from collections.abc import Sequence

from pydantic import Field

from voltlab.planners._errors import PlannerInputError
from voltlab.planners._parameters import FrozenModel, ParamValue
from voltlab.planners._problem import Problem


class Result(FrozenModel):
    """One finished experiment.

    A failed experiment (``failed=True``: synthesis failed, cell shorted) needs no outcome values;
    its point is kept and learnt as infeasible. A successful one carries every objective and
    constraint value, finite.
    """

    parameters: dict[str, ParamValue]
    objectives: dict[str, float] = Field(default_factory=dict)
    constraints: dict[str, float] = Field(default_factory=dict)
    failed: bool = False


class Prediction(FrozenModel):
    """Posterior mean and standard deviation of one outcome at a suggested point (its units)."""

    mean: float
    std: float


class Reason(FrozenModel):
    """Why a point was suggested: the strategy, its acquisition value and the model's beliefs.

    ``acquisition_value`` is None for space-filling strategies (Sobol, random). When one point
    is pending beyond those already in qLogNEHVI's box decompositions (running, or chosen just
    before in the same ask) the value is the joint one of the point with it: BoTorch evaluates
    one pending point jointly instead of redoing the decompositions. ``predicted`` is
    empty when no model was fitted. ``failure_risk`` is the predicted failure indicator (0 to 1)
    once some experiment has failed. ``note`` says why a fallback was used.
    """

    strategy: str
    acquisition_value: float | None = None
    predicted: dict[str, Prediction] = Field(default_factory=dict)
    failure_risk: float | None = None
    note: str = ""


class Suggestion(FrozenModel):
    """A point to run next, with the reason it was chosen."""

    parameters: dict[str, ParamValue]
    reason: Reason


def _check_values(
    values: dict[str, float], expected: list[str], where: str, required: bool
) -> dict[str, float]:
    unknown = sorted(set(values) - set(expected))
    if unknown:
        raise PlannerInputError(f"{where}.{unknown[0]}", f"unknown outcome {unknown[0]!r}")
    for name in expected:
        if name not in values:
            if required:
                raise PlannerInputError(f"{where}.{name}", "missing value")
            continue
        if not math.isfinite(values[name]):
            raise PlannerInputError(f"{where}.{name}", f"must be finite, got {values[name]!r}")
    return dict(values)


def check_results(
    problem: Problem, results: Sequence[Result], told: Sequence[Result], where: str = "results"
) -> list[Result]:
    """Validate ``results`` against ``problem`` and against the already ``told`` history.

    Returns the results with canonicalised parameters. Raises :class:`PlannerInputError` naming
    the field for unknown names, missing or non-finite values, out-of-bounds points, and points
    observed twice (in this batch or before): repeat measurements must be averaged by the caller.
    """
    seen = {_key(problem, r.parameters) for r in told}
    checked: list[Result] = []
    for i, result in enumerate(results):
        here = f"{where}[{i}]"
        if not isinstance(result, Result):
            raise PlannerInputError(here, f"expected a Result, got {type(result).__name__}")
        parameters = problem.space.check_point(result.parameters, f"{here}.parameters")
        key = _key(problem, parameters)
        if key in seen:
            raise PlannerInputError(f"{here}.parameters", "duplicates an observation already told")
        seen.add(key)
        required = not result.failed
        objectives = _check_values(
            result.objectives, problem.objective_names, f"{here}.objectives", required
        )
        constraints = _check_values(
            result.constraints, problem.constraint_names, f"{here}.constraints", required
        )
        checked.append(
            Result(
                parameters=parameters,
                objectives=objectives,
                constraints=constraints,
                failed=result.failed,
            )
        )
    return checked


def _key(problem: Problem, parameters: dict[str, ParamValue]) -> tuple[object, ...]:
    """Identity of a point: its encoded coordinates rounded to 1e-9 of the unit cube."""
    return tuple(round(u, 9) for u in problem.space.encode(parameters))
