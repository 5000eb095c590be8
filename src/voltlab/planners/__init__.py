"""Ask/tell experiment planners (BoTorch multi-objective, Sobol and random baselines).

Imports nothing else of voltlab. A :class:`Problem` (search space, objectives, constraints) is
given to a planner; :meth:`Planner.ask` returns :class:`Suggestion` s and :meth:`Planner.tell`
takes :class:`Result` s. :func:`planner_from_json` restores any planner saved with ``to_json``.
"""

import json

from voltlab.planners._base import HistoryPlanner, Planner, PlannerState
from voltlab.planners._baselines import RandomPlanner, SobolPlanner
from voltlab.planners._botorch import BoTorchOptions, BoTorchPlanner
from voltlab.planners._errors import PlannerInputError
from voltlab.planners._parameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParamValue,
    SimplexGroup,
)
from voltlab.planners._pareto import hypervolume, pareto_front, pareto_mask, results_hypervolume
from voltlab.planners._problem import Objective, OutcomeConstraint, Problem
from voltlab.planners._records import Prediction, Reason, Result, Suggestion
from voltlab.planners._space import Point, SearchSpace

PLANNER_KINDS: dict[str, type[HistoryPlanner]] = {
    cls.kind: cls for cls in (SobolPlanner, RandomPlanner, BoTorchPlanner)
}


def planner_from_json(text: str) -> HistoryPlanner:
    """Restore a planner of whichever kind ``text`` (from ``to_json``) was saved from."""
    try:
        kind = json.loads(text).get("kind")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise PlannerInputError("state", f"not a planner state: {exc}") from exc
    if kind not in PLANNER_KINDS:
        raise PlannerInputError(
            "kind", f"unknown planner kind {kind!r}, known: {sorted(PLANNER_KINDS)}"
        )
    return PLANNER_KINDS[kind].from_json(text)


__all__ = [
    "PLANNER_KINDS",
    "BoTorchOptions",
    "BoTorchPlanner",
    "CategoricalParameter",
    "ContinuousParameter",
    "IntegerParameter",
    "Objective",
    "OutcomeConstraint",
    "ParamValue",
    "Planner",
    "PlannerInputError",
    "PlannerState",
    "Point",
    "Prediction",
    "Problem",
    "RandomPlanner",
    "Reason",
    "Result",
    "SearchSpace",
    "SimplexGroup",
    "SobolPlanner",
    "Suggestion",
    "hypervolume",
    "pareto_front",
    "pareto_mask",
    "planner_from_json",
    "results_hypervolume",
]
