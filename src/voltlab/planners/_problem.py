"""What is optimised: objectives with directions, outcome constraints, and the search space."""

import math
from typing import Literal

from pydantic import Field, model_validator

from voltlab.planners._parameters import FrozenModel
from voltlab.planners._space import SearchSpace


class Objective(FrozenModel):
    """A measured outcome to maximise or minimise (e.g. capacity in mAh/g, maximise)."""

    name: str = Field(min_length=1)
    direction: Literal["maximise", "minimise"] = "maximise"

    @property
    def sign(self) -> float:
        """+1 or -1: multiplies the value so that larger is better (BoTorch maximises)."""
        return 1.0 if self.direction == "maximise" else -1.0


class OutcomeConstraint(FrozenModel):
    """A measured outcome that must stay within bounds (e.g. layered-phase purity >= 0.95)."""

    name: str = Field(min_length=1)
    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> "OutcomeConstraint":
        bounds = [b for b in (self.lower, self.upper) if b is not None]
        if not bounds:
            raise ValueError(f"{self.name}: give a lower and/or an upper bound")
        if not all(math.isfinite(b) for b in bounds):
            raise ValueError(f"{self.name}: bounds must be finite")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"{self.name}: lower {self.lower} is above upper {self.upper}")
        return self

    def slack(self, value: float) -> float:
        """How far ``value`` violates the constraint: <= 0 is feasible (BoTorch's convention)."""
        parts = []
        if self.lower is not None:
            parts.append(self.lower - value)
        if self.upper is not None:
            parts.append(value - self.upper)
        return max(parts)


class Problem(FrozenModel):
    """Search space, objectives (at least two for multi-objective planning) and constraints.

    ``reference_point`` gives, per objective and in its own units, the worst value still worth
    improving on; without it the BoTorch planner infers one from the observed front.
    """

    space: SearchSpace
    objectives: list[Objective] = Field(min_length=1)
    constraints: list[OutcomeConstraint] = Field(default_factory=list)
    reference_point: dict[str, float] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Problem":
        names = [o.name for o in self.objectives] + [c.name for c in self.constraints]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"outcome names used twice: {duplicated}")
        if self.reference_point is not None:
            expected = {o.name for o in self.objectives}
            if set(self.reference_point) != expected:
                raise ValueError(
                    f"reference_point keys {sorted(self.reference_point)} must be the "
                    f"objectives {sorted(expected)}"
                )
        return self

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def constraint_names(self) -> list[str]:
        return [c.name for c in self.constraints]
