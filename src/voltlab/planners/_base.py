"""The ask/tell contract every planner meets, and the history and JSON state they share."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import torch
from pydantic import Field
from torch.quasirandom import SobolEngine

from voltlab.planners._errors import PlannerInputError
from voltlab.planners._parameters import FrozenModel
from voltlab.planners._problem import Problem
from voltlab.planners._records import Result, Suggestion, check_results
from voltlab.planners._space import Point


@runtime_checkable
class Planner(Protocol):
    """Suggests experiments given finished (told) and running (pending) ones."""

    problem: Problem

    def ask(self, n: int = 1, pending: Sequence[Mapping[str, object]] = ()) -> list[Suggestion]:
        """``n`` new points, different from the ``pending`` ones still running."""
        ...

    def tell(self, results: Sequence[Result]) -> None:
        """Learn finished experiments (successful or failed)."""
        ...

    def to_json(self) -> str:
        """The whole state (problem, seed, history, counters) as JSON."""
        ...


class PlannerState(FrozenModel):
    """Everything needed to continue a planner after a restart, with identical next suggestions."""

    kind: str
    problem: Problem
    seed: int
    asks: int = Field(ge=0)
    sobol_drawn: int = Field(ge=0)
    history: list[Result]
    options: dict[str, Any] = Field(default_factory=dict)
    hyperparameters: list[dict[str, Any]] = Field(
        default_factory=list,
        description="a model-based planner's last fitted parameters, where its next fit starts",
    )


class SobolSource:
    """A scrambled, seeded Sobol sequence over the encoded cube that remembers how far it got."""

    def __init__(self, dim: int, seed: int, drawn: int = 0) -> None:
        self._engine = SobolEngine(dimension=dim, scramble=True, seed=seed)
        self._engine.fast_forward(drawn)
        self.drawn = drawn

    def draw(self, n: int) -> torch.Tensor:
        """The next ``n`` points, shape ``n x dim``, float64 in ``[0, 1]``."""
        self.drawn += n
        return self._engine.draw(n, dtype=torch.float64)


class HistoryPlanner(ABC):
    """Shared part of the planners: validated history, ask counter, Sobol source, JSON state.

    Subclasses set ``kind`` and implement :meth:`_propose`; those with options override
    :meth:`_options`.
    """

    kind: ClassVar[str]

    def __init__(self, problem: Problem, seed: int = 0) -> None:
        self.problem = problem
        self.seed = seed
        self._history: list[Result] = []
        self._asks = 0
        self._sobol = SobolSource(problem.space.dim, seed)

    @property
    def history(self) -> tuple[Result, ...]:
        """Every told result, in the order told."""
        return tuple(self._history)

    def tell(self, results: Sequence[Result]) -> None:
        self._history.extend(check_results(self.problem, results, self._history))

    def ask(self, n: int = 1, pending: Sequence[Mapping[str, object]] = ()) -> list[Suggestion]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise PlannerInputError("n", f"must be a positive integer, got {n!r}")
        points = [self.problem.space.check_point(p, f"pending[{i}]") for i, p in enumerate(pending)]
        suggestions = self._propose(n, points)
        self._asks += 1
        return suggestions

    @abstractmethod
    def _propose(self, n: int, pending: list[Point]) -> list[Suggestion]:
        """``n`` suggestions given validated pending points; called once per :meth:`ask`."""

    def _options(self) -> dict[str, Any]:
        return {}

    def _hyperparameters(self) -> list[dict[str, Any]]:
        return []

    def to_json(self) -> str:
        state = PlannerState(
            kind=self.kind,
            problem=self.problem,
            seed=self.seed,
            asks=self._asks,
            sobol_drawn=self._sobol.drawn,
            history=self._history,
            options=self._options(),
            hyperparameters=self._hyperparameters(),
        )
        return state.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a planner saved by :meth:`to_json` (same history, seed and counters)."""
        state = PlannerState.model_validate_json(text)
        if state.kind != cls.kind:
            raise PlannerInputError(
                "kind", f"state is for a {state.kind!r} planner, not {cls.kind!r}"
            )
        planner = cls._from_state(state)
        planner.tell(state.history)
        planner._asks = state.asks
        planner._sobol = SobolSource(state.problem.space.dim, state.seed, state.sobol_drawn)
        return planner

    @classmethod
    def _from_state(cls, state: PlannerState) -> Self:
        return cls(state.problem, seed=state.seed)
