"""Space-filling baselines: scrambled Sobol and uniform random points over the encoded cube.

Both ignore results and pending points; they are the yardstick the model-based planner must beat.
Over a simplex group the cube is mapped by bounded stick-breaking, which fills the simplex
completely but not uniformly (early components are spread evenly, later ones take what remains).
"""

import torch

from voltlab.planners._base import HistoryPlanner
from voltlab.planners._records import Reason, Suggestion
from voltlab.planners._space import Point


class SobolPlanner(HistoryPlanner):
    """Successive points of one scrambled Sobol sequence (seeded)."""

    kind = "sobol"

    def _propose(self, n: int, pending: list[Point]) -> list[Suggestion]:
        coords = self._sobol.draw(n)
        reason = Reason(strategy="sobol")
        return [
            Suggestion(parameters=self.problem.space.decode(row.tolist()), reason=reason)
            for row in coords
        ]


class RandomPlanner(HistoryPlanner):
    """Independent uniform points; the generator is seeded from (seed, number of asks)."""

    kind = "random"

    def _propose(self, n: int, pending: list[Point]) -> list[Suggestion]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self._asks)
        coords = torch.rand(n, self.problem.space.dim, generator=generator, dtype=torch.float64)
        reason = Reason(strategy="random")
        return [
            Suggestion(parameters=self.problem.space.decode(row.tolist()), reason=reason)
            for row in coords
        ]
