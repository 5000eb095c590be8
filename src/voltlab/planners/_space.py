"""The search space: named parameters, point validation, and the unit-cube encoding."""

import itertools
from collections.abc import Mapping, Sequence
from typing import Annotated

import torch
from pydantic import Field, model_validator

from voltlab.planners._errors import PlannerInputError
from voltlab.planners._parameters import (
    CategoricalParameter,
    ContinuousParameter,
    FrozenModel,
    IntegerParameter,
    ParamValue,
    SimplexGroup,
)

Parameter = Annotated[
    ContinuousParameter | IntegerParameter | CategoricalParameter | SimplexGroup,
    Field(discriminator="kind"),
]
Point = dict[str, ParamValue]
"""A user-level point: every parameter (and every simplex component) by name."""


class SearchSpace(FrozenModel):
    """The knobs a planner may set; names are unique across parameters and simplex components."""

    parameters: list[Parameter] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> "SearchSpace":
        names = self.names
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"parameter names used twice: {duplicated}")
        return self

    @property
    def names(self) -> list[str]:
        """User-level names in order (a simplex group contributes its components)."""
        return [name for p in self.parameters for name in p.names]

    @property
    def dim(self) -> int:
        """Width of the encoded unit cube."""
        return sum(p.width for p in self.parameters)

    @property
    def model_dim(self) -> int:
        """Width of the models' inputs (a simplex group gives all its components)."""
        return sum(p.model_width for p in self.parameters)

    @property
    def numeric_model_columns(self) -> list[int]:
        """Model-input columns of numbers and compositions, i.e. all but categorical one-hots."""
        starts = itertools.accumulate((p.model_width for p in self.parameters), initial=0)
        return [
            column
            for parameter, start in zip(self.parameters, starts, strict=False)
            if not isinstance(parameter, CategoricalParameter)
            for column in range(start, start + parameter.model_width)
        ]

    def to_model(self, coords: torch.Tensor) -> torch.Tensor:
        """Cube points ``... x dim`` as model inputs ``... x model_dim``, all in [0, 1]."""
        parts = [
            parameter.to_model(coords[..., start : start + parameter.width])
            for parameter, start in zip(self.parameters, self._offsets(), strict=False)
        ]
        return torch.cat(parts, dim=-1)

    def _offsets(self) -> list[int]:
        return list(itertools.accumulate((p.width for p in self.parameters), initial=0))

    def check_point(self, point: Mapping[str, object], where: str = "point") -> Point:
        """Validate a user-level point and return it canonicalised (floats, ints, level strings).

        Raises :class:`PlannerInputError` naming the missing, unknown or out-of-range field.
        """
        if not isinstance(point, Mapping):
            raise PlannerInputError(where, f"expected a mapping of parameter names, got {point!r}")
        unknown = sorted(set(point) - set(self.names))
        if unknown:
            raise PlannerInputError(f"{where}.{unknown[0]}", f"unknown parameter {unknown[0]!r}")
        missing = [n for n in self.names if n not in point]
        if missing:
            raise PlannerInputError(f"{where}.{missing[0]}", f"missing parameter {missing[0]!r}")
        checked: Point = {}
        for parameter in self.parameters:
            checked.update(parameter.check(point, where))
        return checked

    def encode(self, point: Mapping[str, object], where: str = "point") -> list[float]:
        """A user-level point (validated) as ``dim`` coordinates in ``[0, 1]``."""
        checked = self.check_point(point, where)
        return [u for p in self.parameters for u in p.encode(checked)]

    def decode(self, coords: Sequence[float], where: str = "point") -> Point:
        """``dim`` unit-cube coordinates as a feasible user-level point (clipped into the cube)."""
        if len(coords) != self.dim:
            raise PlannerInputError(where, f"has {len(coords)} coordinates, expected {self.dim}")
        offsets = self._offsets()
        point: Point = {}
        for parameter, start in zip(self.parameters, offsets, strict=False):
            point.update(parameter.decode(coords[start : start + parameter.width]))
        return point

    def categorical_fixed_features(self) -> list[dict[int, float]]:
        """Every combination of categorical levels as one-hot fixed features of the encoded cube.

        Empty when the space has no categorical parameter. One entry per combination, so the
        optimiser holds one combination fixed per restart (``voltlab.planners._mixed``).
        """
        choices: list[list[dict[int, float]]] = []
        for parameter, start in zip(self.parameters, self._offsets(), strict=False):
            if isinstance(parameter, CategoricalParameter):
                width = parameter.width
                choices.append(
                    [{start + j: float(j == level) for j in range(width)} for level in range(width)]
                )
        return (
            [
                {k: v for part in combo for k, v in part.items()}
                for combo in itertools.product(*choices)
            ]
            if choices
            else []
        )
