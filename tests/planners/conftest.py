"""Small problems and a fast BoTorch configuration shared by the planner tests."""

from collections.abc import Iterator

import pytest
import torch

from voltlab.planners import (
    BoTorchOptions,
    CategoricalParameter,
    ContinuousParameter,
    Objective,
    OutcomeConstraint,
    Problem,
    Result,
    SearchSpace,
    SimplexGroup,
)

FAST = BoTorchOptions(
    num_restarts=2, raw_samples=32, mc_samples=32, max_iterations=50, fit_max_iterations=100
)
"""Few restarts and samples: the tests check behaviour, not optimisation quality."""


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny GPs are faster on one thread, and the test machine's cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def toy_problem() -> Problem:
    """Two continuous knobs, two objectives (max and min), one constraint ``c >= 0.2``."""
    return Problem(
        space=SearchSpace(
            parameters=[
                ContinuousParameter(name="x", lower=0.0, upper=1.0),
                ContinuousParameter(name="y", lower=-2.0, upper=2.0),
            ]
        ),
        objectives=[Objective(name="f"), Objective(name="g", direction="minimise")],
        constraints=[OutcomeConstraint(name="c", lower=0.2)],
    )


def toy_result(point: dict) -> Result:
    """Deterministic outcomes for ``toy_problem``; fails where ``x > 0.85``."""
    x, y = point["x"], point["y"]
    return Result(
        parameters=point,
        objectives={"f": x + 0.3 * y, "g": (x - 0.4) ** 2 + 0.2 * y**2},
        constraints={"c": 1.0 - x * 0.9},
        failed=x > 0.85,
    )


@pytest.fixture
def nmc_problem() -> Problem:
    """An NMC-like space: Ni/Mn/Co simplex, temperature, dopant; capacity vs cobalt cost."""
    return Problem(
        space=SearchSpace(
            parameters=[
                SimplexGroup(
                    name="tm",
                    components=[
                        ContinuousParameter(name="ni", lower=0.3, upper=0.9),
                        ContinuousParameter(name="mn", lower=0.05, upper=0.5),
                        ContinuousParameter(name="co", lower=0.05, upper=0.4),
                    ],
                ),
                ContinuousParameter(name="temp", lower=650.0, upper=1000.0),
                CategoricalParameter(name="dopant", levels=["none", "Al", "Mg"]),
            ]
        ),
        objectives=[Objective(name="capacity"), Objective(name="cost", direction="minimise")],
        constraints=[OutcomeConstraint(name="purity", lower=0.9)],
    )


def nmc_result(point: dict) -> Result:
    """Smooth outcomes for ``nmc_problem`` (mAh/g, $/kg, fraction)."""
    bonus = {"none": 0.0, "Al": 4.0, "Mg": 2.0}[point["dopant"]]
    temp = point["temp"]
    return Result(
        parameters=point,
        objectives={
            "capacity": 150 + 60 * point["ni"] - 1e-4 * (temp - 850) ** 2 + bonus,
            "cost": 10 + 40 * point["co"],
        },
        constraints={"purity": 1.0 - 0.2 * point["mn"] * (temp < 720)},
    )
