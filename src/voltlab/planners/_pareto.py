"""Pareto-front and hypervolume utilities (BoTorch's), with per-objective directions.

Values are given in their own units with a direction each; internally minimised objectives are
negated so that BoTorch's maximisation conventions apply.
"""

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning
from botorch.utils.multi_objective.pareto import is_non_dominated

from voltlab.planners._errors import PlannerInputError
from voltlab.planners._problem import Problem
from voltlab.planners._records import Result

Direction = Literal["maximise", "minimise"]


def _signed(values: object, directions: Sequence[Direction], field: str) -> torch.Tensor:
    """``values`` (n x M) as float64 with minimised columns negated; checks shape and finiteness."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        array = array.reshape(0, len(directions))
    if array.ndim == 1 and len(directions) == array.shape[0]:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != len(directions):
        raise PlannerInputError(
            field, f"expected shape (n, {len(directions)}), got {tuple(array.shape)}"
        )
    if not np.isfinite(array).all():
        raise PlannerInputError(field, "contains NaN or infinite values")
    unknown = [d for d in directions if d not in ("maximise", "minimise")]
    if unknown:
        raise PlannerInputError("directions", f"unknown direction {unknown[0]!r}")
    signs = np.array([1.0 if d == "maximise" else -1.0 for d in directions])
    return torch.from_numpy(array * signs)


def pareto_mask(values: object, directions: Sequence[Direction]) -> np.ndarray:
    """Boolean mask (n,) of the non-dominated rows of ``values`` (n x M)."""
    signed = _signed(values, directions, "values")
    if signed.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return is_non_dominated(signed, deduplicate=False).numpy()


def hypervolume(
    values: object, reference_point: Sequence[float], directions: Sequence[Direction]
) -> float:
    """Volume dominated by ``values`` (n x M) and bounded by ``reference_point`` (M,).

    Points no better than the reference point in every objective add nothing. Units are the
    product of the objectives' units.
    """
    signed = _signed(values, directions, "values")
    ref = _signed([list(reference_point)], directions, "reference_point")[0]
    if signed.shape[0] == 0:
        return 0.0
    partitioning = DominatedPartitioning(ref_point=ref, Y=signed)
    return float(partitioning.compute_hypervolume())


def _feasible(problem: Problem, results: Sequence[Result]) -> list[Result]:
    return [
        r
        for r in results
        if not r.failed and all(c.slack(r.constraints[c.name]) <= 0 for c in problem.constraints)
    ]


def _matrix(problem: Problem, results: Sequence[Result]) -> list[list[float]]:
    return [[r.objectives[name] for name in problem.objective_names] for r in results]


def _directions(problem: Problem) -> list[Direction]:
    return [o.direction for o in problem.objectives]


def pareto_front(problem: Problem, results: Sequence[Result]) -> list[Result]:
    """The successful, constraint-satisfying results that no other such result dominates."""
    feasible = _feasible(problem, results)
    mask = pareto_mask(_matrix(problem, feasible), _directions(problem))
    return [r for r, keep in zip(feasible, mask, strict=True) if keep]


def results_hypervolume(
    problem: Problem,
    results: Sequence[Result],
    reference_point: Mapping[str, float] | None = None,
) -> float:
    """Hypervolume of the feasible results, against ``reference_point`` or the problem's."""
    ref = reference_point if reference_point is not None else problem.reference_point
    if ref is None:
        raise PlannerInputError("reference_point", "needed: give one or set it in the problem")
    missing = [n for n in problem.objective_names if n not in ref]
    if missing:
        raise PlannerInputError(f"reference_point.{missing[0]}", "missing value")
    return hypervolume(
        _matrix(problem, _feasible(problem, results)),
        [ref[n] for n in problem.objective_names],
        _directions(problem),
    )
