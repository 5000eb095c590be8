"""Search space: validation naming the field, and the unit-cube encoding (simplex exact)."""

import itertools
import math

import pytest
import torch
from pydantic import ValidationError

from voltlab.errors import VoltlabError
from voltlab.planners import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    PlannerInputError,
    Problem,
    SearchSpace,
    SimplexGroup,
)


def _nmc_point(**changes: object) -> dict:
    point = {"ni": 0.6, "mn": 0.2, "co": 0.2, "temp": 800.0, "dopant": "Al"}
    point.update(changes)
    return point


def test_names_and_encoded_width(nmc_problem: Problem) -> None:
    space = nmc_problem.space
    assert space.names == ["ni", "mn", "co", "temp", "dopant"]
    assert space.dim == 2 + 1 + 3


def test_encode_decode_round_trip(nmc_problem: Problem) -> None:
    space = nmc_problem.space
    point = _nmc_point()
    coords = space.encode(point)
    assert all(0.0 <= u <= 1.0 for u in coords)
    decoded = space.decode(coords)
    assert decoded["dopant"] == "Al"
    for name in ("ni", "mn", "co", "temp"):
        assert decoded[name] == pytest.approx(point[name], abs=1e-12)


def test_every_cube_point_decodes_to_an_exact_bounded_simplex(nmc_problem: Problem) -> None:
    space = nmc_problem.space
    group = space.parameters[0]
    corners = [list(c) + [0.5] * 4 for c in itertools.product([0.0, 1.0], repeat=2)]
    random = torch.rand(500, space.dim, generator=torch.Generator().manual_seed(0)).tolist()
    for coords in corners + random:
        point = space.decode(coords)
        assert abs(math.fsum(point[n] for n in ("ni", "mn", "co")) - 1.0) < 1e-9
        for comp in group.components:
            assert comp.lower <= point[comp.name] <= comp.upper


def test_stick_breaking_reaches_the_extremes_of_each_component() -> None:
    group = SimplexGroup(
        name="g", components=[ContinuousParameter(name=n, lower=0, upper=1) for n in "abc"]
    )
    space = SearchSpace(parameters=[group])
    assert space.decode([1.0, 0.3]) == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert space.decode([0.0, 1.0]) == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert space.decode([0.0, 0.0]) == {"a": 0.0, "b": 0.0, "c": 1.0}


def test_integer_rounds_and_categorical_takes_the_largest_coordinate() -> None:
    space = SearchSpace(
        parameters=[
            IntegerParameter(name="steps", lower=1, upper=5),
            CategoricalParameter(name="gas", levels=["air", "O2"]),
        ]
    )
    assert space.decode([0.6, 0.2, 0.7]) == {"steps": 3, "gas": "O2"}
    assert space.encode({"steps": 5, "gas": "air"}) == [1.0, 1.0, 0.0]
    with pytest.raises(PlannerInputError, match=r"point\.steps: expected an integer"):
        space.encode({"steps": 2.5, "gas": "air"})


def test_categorical_fixed_features_enumerate_one_hot_levels(nmc_problem: Problem) -> None:
    fixed = nmc_problem.space.categorical_fixed_features()
    assert fixed == [{3: 1.0, 4: 0.0, 5: 0.0}, {3: 0.0, 4: 1.0, 5: 0.0}, {3: 0.0, 4: 0.0, 5: 1.0}]


@pytest.mark.parametrize(
    ("point", "field", "message"),
    [
        (_nmc_point(temp=1200.0), "point.temp", "outside"),
        (_nmc_point(temp=math.nan), "point.temp", "finite"),
        (_nmc_point(ni=0.7), "point.tm", "sum to"),
        (_nmc_point(ni=0.95, mn=0.03, co=0.02), "point.ni", "outside"),
        (_nmc_point(dopant="Zr"), "point.dopant", "not one of the levels"),
        (_nmc_point(temp="hot"), "point.temp", "expected a number"),
        ({**_nmc_point(), "li": 1.05}, "point.li", "unknown parameter"),
        ({k: v for k, v in _nmc_point().items() if k != "co"}, "point.co", "missing"),
    ],
)
def test_bad_points_name_the_field(
    nmc_problem: Problem, point: dict, field: str, message: str
) -> None:
    with pytest.raises(PlannerInputError, match=message) as caught:
        nmc_problem.space.encode(point)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, VoltlabError)


def test_wrong_dimension_coordinates_are_refused(nmc_problem: Problem) -> None:
    with pytest.raises(PlannerInputError, match="has 3 coordinates, expected 6"):
        nmc_problem.space.decode([0.5, 0.5, 0.5])


def test_invalid_configurations_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"excludes 1\.0"):
        SimplexGroup(
            name="g", components=[ContinuousParameter(name=n, lower=0.6, upper=0.9) for n in "ab"]
        )
    with pytest.raises(ValidationError, match="used twice"):
        SearchSpace(
            parameters=[
                ContinuousParameter(name="a", lower=0, upper=1),
                CategoricalParameter(name="a", levels=["p", "q"]),
            ]
        )
    with pytest.raises(ValidationError, match="must be below"):
        ContinuousParameter(name="a", lower=1, upper=1)


def test_models_see_one_composition_where_cube_points_collapse(nmc_problem: Problem) -> None:
    """With Ni at its upper bound, Mn and Co are fixed: all such cube points are one input."""
    space = nmc_problem.space
    cube = torch.tensor([[1.0, 0.2, 0.5, 1.0, 0.0, 0.0], [1.0, 0.8, 0.5, 1.0, 0.0, 0.0]])
    assert space.decode(cube[0].tolist()) == space.decode(cube[1].tolist())
    inputs = space.to_model(cube.double())
    assert inputs.shape == (2, space.model_dim) == (2, 7)
    assert torch.equal(inputs[0], inputs[1])
    assert ((inputs >= 0) & (inputs <= 1)).all()


def test_numeric_model_columns_leave_out_categorical_one_hots(nmc_problem: Problem) -> None:
    """Simplex components (3) and temperature are numbers; the dopant's 3 columns are not."""
    assert nmc_problem.space.numeric_model_columns == [0, 1, 2, 3]
    first = SearchSpace(
        parameters=[
            CategoricalParameter(name="dopant", levels=["none", "Al"]),
            IntegerParameter(name="steps", lower=1, upper=3),
        ]
    )
    assert first.numeric_model_columns == [2]
