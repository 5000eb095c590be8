"""Pareto masks and hypervolumes with directions, checked against hand-computed values."""

import numpy as np
import pytest

from voltlab.planners import (
    PlannerInputError,
    Problem,
    Result,
    hypervolume,
    pareto_front,
    pareto_mask,
    results_hypervolume,
)


def test_pareto_mask_respects_directions() -> None:
    values = [[1.0, 5.0], [2.0, 3.0], [0.5, 6.0], [2.0, 2.0]]
    assert pareto_mask(values, ["maximise", "maximise"]).tolist() == [True, True, True, False]
    assert pareto_mask(values, ["maximise", "minimise"]).tolist() == [False, False, False, True]


def test_hypervolume_of_two_points_by_hand() -> None:
    # Maximise both from ref (0, 0): union of [0,2]x[0,1] and [0,1]x[0,3] = 2 + 3 - 1 = 4.
    assert hypervolume([[2.0, 1.0], [1.0, 3.0]], [0.0, 0.0], ["maximise", "maximise"]) == 4.0
    # Minimising the second objective from ref 4: boxes [0,2]x[1,4] and [0,1]x[3,4] -> 6.
    assert hypervolume([[2.0, 1.0], [1.0, 3.0]], [0.0, 4.0], ["maximise", "minimise"]) == 6.0
    assert hypervolume(np.zeros((0, 2)), [0.0, 0.0], ["maximise", "maximise"]) == 0.0


def test_bad_values_are_refused() -> None:
    with pytest.raises(PlannerInputError, match="NaN") as caught:
        hypervolume([[np.nan, 1.0]], [0.0, 0.0], ["maximise", "maximise"])
    assert caught.value.field == "values"
    with pytest.raises(PlannerInputError, match=r"expected shape \(n, 2\)"):
        pareto_mask([[1.0, 2.0, 3.0]], ["maximise", "maximise"])
    with pytest.raises(PlannerInputError, match="unknown direction"):
        pareto_mask([[1.0, 2.0]], ["maximise", "up"])  # type: ignore[list-item]


def test_front_and_hypervolume_of_results_skip_infeasible_and_failed(
    toy_problem: Problem,
) -> None:
    def result(f: float, g: float, c: float = 1.0, failed: bool = False) -> Result:
        return Result(
            parameters={"x": f / 10, "y": g / 10},
            objectives={"f": f, "g": g},
            constraints={"c": c},
            failed=failed,
        )

    good, dominated = result(3.0, 1.0), result(2.0, 2.0)
    infeasible, failed = result(9.0, 0.0, c=0.0), result(8.0, 0.5, failed=True)
    results = [good, dominated, infeasible, failed]
    assert pareto_front(toy_problem, results) == [good]
    # Box from ref (f=0, g=5) to (3, 1): 3 * 4.
    assert results_hypervolume(toy_problem, results, {"f": 0.0, "g": 5.0}) == 12.0
    with pytest.raises(PlannerInputError, match="needed") as caught:
        results_hypervolume(toy_problem, results)
    assert caught.value.field == "reference_point"
