"""Told results are validated against the problem and the history, naming the bad field."""

import math

import pytest

from tests.planners.conftest import toy_result
from voltlab.planners import PlannerInputError, Problem, Result, SobolPlanner


def _ok(**objectives: float) -> Result:
    return Result(
        parameters={"x": 0.5, "y": 0.0},
        objectives={"f": 1.0, "g": 2.0, **objectives},
        constraints={"c": 0.5},
    )


@pytest.mark.parametrize(
    ("result", "field", "message"),
    [
        (_ok(f=math.nan), "results[0].objectives.f", "finite"),
        (_ok(g=math.inf), "results[0].objectives.g", "finite"),
        (_ok(h=1.0), "results[0].objectives.h", "unknown outcome"),
        (
            Result(parameters={"x": 0.5, "y": 0.0}, objectives={"f": 1.0}, constraints={"c": 1}),
            "results[0].objectives.g",
            "missing value",
        ),
        (
            Result(parameters={"x": 0.5, "y": 0.0}, objectives={"f": 1.0, "g": 1.0}),
            "results[0].constraints.c",
            "missing value",
        ),
        (
            Result(parameters={"x": 1.5, "y": 0.0}, failed=True),
            "results[0].parameters.x",
            "outside",
        ),
        (
            Result(parameters={"x": 0.5}, failed=True),
            "results[0].parameters.y",
            "missing parameter",
        ),
    ],
)
def test_bad_results_name_the_field(
    toy_problem: Problem, result: Result, field: str, message: str
) -> None:
    planner = SobolPlanner(toy_problem)
    with pytest.raises(PlannerInputError, match=message) as caught:
        planner.tell([result])
    assert caught.value.field == field
    assert planner.history == ()


def test_failed_result_needs_no_outcomes_and_is_kept(toy_problem: Problem) -> None:
    planner = SobolPlanner(toy_problem)
    planner.tell([Result(parameters={"x": 0.9, "y": 1.0}, failed=True)])
    assert len(planner.history) == 1
    assert planner.history[0].failed


def test_duplicated_observations_are_refused(toy_problem: Problem) -> None:
    planner = SobolPlanner(toy_problem)
    first = toy_result({"x": 0.2, "y": 0.1})
    with pytest.raises(PlannerInputError, match="duplicates") as caught:
        planner.tell([first, first])
    assert caught.value.field == "results[1].parameters"
    planner.tell([first])
    with pytest.raises(PlannerInputError, match="duplicates"):
        planner.tell([toy_result({"x": 0.2, "y": 0.1})])
    assert len(planner.history) == 1


def test_ask_validates_n_and_pending(toy_problem: Problem) -> None:
    planner = SobolPlanner(toy_problem)
    with pytest.raises(PlannerInputError, match="positive integer"):
        planner.ask(0)
    with pytest.raises(PlannerInputError, match="unknown parameter") as caught:
        planner.ask(1, pending=[{"x": 0.1, "y": 0.0, "z": 3.0}])
    assert caught.value.field == "pending[0].z"
