"""Sobol and random baselines: seeded, feasible, and restored from JSON mid-sequence."""

import math

import pytest

from voltlab.planners import (
    Planner,
    PlannerInputError,
    Problem,
    RandomPlanner,
    SobolPlanner,
    planner_from_json,
)


@pytest.mark.parametrize("kind", [SobolPlanner, RandomPlanner])
def test_points_are_feasible_and_seeded(nmc_problem: Problem, kind: type[SobolPlanner]) -> None:
    first = kind(nmc_problem, seed=7).ask(16)
    again = kind(nmc_problem, seed=7).ask(16)
    other = kind(nmc_problem, seed=8).ask(16)
    assert [s.parameters for s in first] == [s.parameters for s in again]
    assert [s.parameters for s in first] != [s.parameters for s in other]
    for suggestion in first:
        point = suggestion.parameters
        assert abs(math.fsum(point[n] for n in ("ni", "mn", "co")) - 1.0) < 1e-9
        nmc_problem.space.check_point(point)
        assert suggestion.reason.strategy == kind.kind
    assert len({s.parameters["dopant"] for s in first}) == 3


@pytest.mark.parametrize("kind", [SobolPlanner, RandomPlanner])
def test_restored_planner_continues_the_same_sequence(
    toy_problem: Problem, kind: type[SobolPlanner]
) -> None:
    planner = kind(toy_problem, seed=3)
    assert isinstance(planner, Planner)
    planner.ask(3)
    restored = planner_from_json(planner.to_json())
    assert type(restored) is kind
    assert [s.parameters for s in restored.ask(2)] == [s.parameters for s in planner.ask(2)]


def test_sobol_points_do_not_repeat_across_asks(toy_problem: Problem) -> None:
    planner = SobolPlanner(toy_problem, seed=0)
    points = [tuple(s.parameters.values()) for _ in range(4) for s in planner.ask(4)]
    assert len(set(points)) == 16


def test_state_of_the_wrong_kind_is_refused(toy_problem: Problem) -> None:
    text = SobolPlanner(toy_problem).to_json()
    with pytest.raises(PlannerInputError, match="'sobol' planner") as caught:
        RandomPlanner.from_json(text)
    assert caught.value.field == "kind"
    with pytest.raises(PlannerInputError, match="unknown planner kind"):
        planner_from_json(text.replace('"sobol"', '"grid"'))
    with pytest.raises(PlannerInputError, match="not a planner state"):
        planner_from_json("[1, 2]")
