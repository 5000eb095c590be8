"""Parameter kinds of a search space and their maps to and from the unit cube.

Each kind knows its width in the encoded space (the unit cube the models see), how to check a
user-level value, and how to encode and decode it:

- continuous: one coordinate, linear in ``[lower, upper]``;
- integer: one coordinate, linear, rounded to the nearest integer when decoded;
- categorical: one-hot, one coordinate per level (the optimiser fixes these coordinates, see
  :meth:`voltlab.planners.SearchSpace.categorical_fixed_features`);
- simplex: ``k`` bounded components summing to ``total`` encoded by *bounded stick-breaking* on
  ``k - 1`` coordinates. Coordinate ``i`` chooses component ``i`` linearly within the interval that
  keeps the remaining components feasible, and the last component takes what remains. The map
  from ``[0, 1]^(k-1)`` covers the whole bounded simplex and every cube point decodes to a
  feasible composition (sum exact to rounding, every component within its bounds). The optimiser
  then needs only box bounds, so L-BFGS-B works; the alternative (dropping the last component
  and adding a linear constraint) forces SLSQP, 3-4x slower.

The cube is not what the models see: on a face where a component reaches a bound, several cube
points decode to one composition, so the GPs get the decoded composition instead (``to_model``,
``model_width``: every component, scaled by its bounds). The map is differentiable, so the
acquisition is optimised in the cube while the models compare physical compositions.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from voltlab.planners._errors import PlannerInputError

ParamValue = float | int | str
"""A user-level parameter value: a number, or a categorical level."""

SIMPLEX_SUM_TOLERANCE = 1e-6
"""How far (absolute) a told composition's sum may be from the group's total."""


class FrozenModel(BaseModel):
    """Base of the planners' configuration models: unknown keys are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _real(value: object, field: str) -> float:
    """``value`` as a finite float; bools and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlannerInputError(field, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise PlannerInputError(field, f"must be finite, got {value!r}")
    return float(value)


def _clip01(u: float) -> float:
    return min(1.0, max(0.0, float(u)))


class _SingleParameter(FrozenModel):
    """One named knob whose cube coordinates are also its model inputs."""

    name: str = Field(min_length=1)

    @property
    def names(self) -> list[str]:
        return [self.name]

    @property
    def width(self) -> int:
        return 1

    @property
    def model_width(self) -> int:
        return self.width

    def to_model(self, u: torch.Tensor) -> torch.Tensor:
        """Cube coordinates (``... x width``) as model inputs: unchanged for this kind."""
        return u


class _NumberParameter(_SingleParameter):
    """A number in ``[lower, upper]``, encoded linearly on one cube coordinate."""

    lower: float
    upper: float

    def encode(self, point: Mapping[str, ParamValue]) -> list[float]:
        return [(float(point[self.name]) - self.lower) / (self.upper - self.lower)]


class ContinuousParameter(_NumberParameter):
    """A real-valued knob in ``[lower, upper]`` (units are the caller's, e.g. degrees C)."""

    kind: Literal["continuous"] = "continuous"
    lower: float
    upper: float

    @model_validator(mode="after")
    def _ordered(self) -> "ContinuousParameter":
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise ValueError(f"{self.name}: bounds must be finite")
        if self.lower >= self.upper:
            raise ValueError(f"{self.name}: lower {self.lower} must be below upper {self.upper}")
        return self

    def check(self, point: Mapping[str, object], where: str) -> dict[str, ParamValue]:
        field = f"{where}.{self.name}"
        value = _real(point[self.name], field)
        if not self.lower <= value <= self.upper:
            raise PlannerInputError(field, f"{value} outside [{self.lower}, {self.upper}]")
        return {self.name: value}

    def decode(self, u: Sequence[float]) -> dict[str, ParamValue]:
        value = self.lower + _clip01(u[0]) * (self.upper - self.lower)
        return {self.name: min(self.upper, max(self.lower, value))}


class IntegerParameter(_NumberParameter):
    """An integer knob in ``[lower, upper]`` (e.g. number of calcination steps)."""

    kind: Literal["integer"] = "integer"
    lower: int
    upper: int

    @model_validator(mode="after")
    def _ordered(self) -> "IntegerParameter":
        if self.lower >= self.upper:
            raise ValueError(f"{self.name}: lower {self.lower} must be below upper {self.upper}")
        return self

    def check(self, point: Mapping[str, object], where: str) -> dict[str, ParamValue]:
        field = f"{where}.{self.name}"
        value = _real(point[self.name], field)
        if not value.is_integer():
            raise PlannerInputError(field, f"expected an integer, got {value!r}")
        if not self.lower <= value <= self.upper:
            raise PlannerInputError(field, f"{int(value)} outside [{self.lower}, {self.upper}]")
        return {self.name: int(value)}

    def decode(self, u: Sequence[float]) -> dict[str, ParamValue]:
        return {self.name: round(self.lower + _clip01(u[0]) * (self.upper - self.lower))}


class CategoricalParameter(_SingleParameter):
    """A choice among named levels (e.g. dopant: none, Al, Mg, Ti)."""

    kind: Literal["categorical"] = "categorical"
    levels: list[str] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique(self) -> "CategoricalParameter":
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"{self.name}: levels must be unique, got {self.levels}")
        return self

    @property
    def width(self) -> int:
        return len(self.levels)

    def check(self, point: Mapping[str, object], where: str) -> dict[str, ParamValue]:
        value = point[self.name]
        if not isinstance(value, str) or value not in self.levels:
            raise PlannerInputError(
                f"{where}.{self.name}", f"{value!r} is not one of the levels {self.levels}"
            )
        return {self.name: value}

    def encode(self, point: Mapping[str, ParamValue]) -> list[float]:
        return [1.0 if level == point[self.name] else 0.0 for level in self.levels]

    def decode(self, u: Sequence[float]) -> dict[str, ParamValue]:
        best = max(range(len(self.levels)), key=lambda i: float(u[i]))
        return {self.name: self.levels[best]}


class SimplexGroup(FrozenModel):
    """Continuous components that must sum to ``total`` (e.g. Ni + Mn + Co = 1 in NMC).

    Each component keeps its own bounds; the group must be feasible: the lower bounds sum to at
    most ``total`` and the upper bounds to at least ``total``.
    """

    kind: Literal["simplex"] = "simplex"
    name: str = Field(min_length=1)
    components: list[ContinuousParameter] = Field(min_length=2)
    total: float = Field(default=1.0, gt=0.0)

    @model_validator(mode="after")
    def _feasible(self) -> "SimplexGroup":
        low = sum(c.lower for c in self.components)
        high = sum(c.upper for c in self.components)
        if not low <= self.total <= high:
            raise ValueError(
                f"{self.name}: bounds allow sums in [{low}, {high}], which excludes {self.total}"
            )
        return self

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.components]

    @property
    def width(self) -> int:
        return len(self.components) - 1

    def _interval(self, i: int, remaining: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feasible range of component ``i`` given ``remaining`` to share among ``i`` and later."""
        rest = self.components[i + 1 :]
        comp = self.components[i]
        low = (remaining - sum(c.upper for c in rest)).clamp_min(comp.lower)
        high = torch.maximum(low, (remaining - sum(c.lower for c in rest)).clamp_max(comp.upper))
        return low, high

    def check(self, point: Mapping[str, object], where: str) -> dict[str, ParamValue]:
        values: dict[str, ParamValue] = {}
        for comp in self.components:
            values.update(comp.check(point, where))
        total = math.fsum(float(v) for v in values.values())
        if abs(total - self.total) > SIMPLEX_SUM_TOLERANCE:
            raise PlannerInputError(
                f"{where}.{self.name}",
                f"components {self.names} sum to {total}, expected {self.total}",
            )
        return values

    def encode(self, point: Mapping[str, ParamValue]) -> list[float]:
        coords: list[float] = []
        remaining = torch.tensor(self.total, dtype=torch.float64)
        for i, comp in enumerate(self.components[:-1]):
            low, high = (float(b) for b in self._interval(i, remaining))
            value = float(point[comp.name])
            coords.append(_clip01((value - low) / (high - low)) if high > low else 0.0)
            remaining = remaining - value
        return coords

    @property
    def model_width(self) -> int:
        return len(self.components)

    def decode_tensor(self, u: torch.Tensor) -> torch.Tensor:
        """Stick-breaking: cube coordinates ``... x (k-1)`` to components ``... x k``.

        Differentiable almost everywhere; the components sum to ``total`` up to rounding.
        """
        u = u.clamp(0.0, 1.0)
        remaining = torch.full_like(u[..., 0], self.total)
        values = []
        for i in range(len(self.components) - 1):
            low, high = self._interval(i, remaining)
            value = torch.minimum(high, low + u[..., i] * (high - low))
            values.append(value)
            remaining = remaining - value
        last = self.components[-1]
        values.append(remaining.clamp(last.lower, last.upper))
        return torch.stack(values, dim=-1)

    def to_model(self, u: torch.Tensor) -> torch.Tensor:
        """Cube coordinates ``... x (k-1)`` as components scaled by their bounds, ``... x k``."""
        lower = u.new_tensor([c.lower for c in self.components])
        upper = u.new_tensor([c.upper for c in self.components])
        return (self.decode_tensor(u) - lower) / (upper - lower)

    def decode(self, u: Sequence[float]) -> dict[str, ParamValue]:
        values = self.decode_tensor(torch.tensor(list(u), dtype=torch.float64)).tolist()
        return dict(zip(self.names, values, strict=True))
