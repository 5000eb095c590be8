"""One-pass optimisation over categorical combinations (``voltlab.planners._mixed``)."""

import pytest
import torch
from botorch.acquisition import AcquisitionFunction

from voltlab.planners import PlannerInputError
from voltlab.planners._mixed import _start_indices, optimise_mixed

# Encoded cube: x0, x1 continuous; x2..x4 a one-hot 3-level categorical.
COMBOS = [{2 + j: float(j == level) for j in range(3)} for level in range(3)]


class Bowl(AcquisitionFunction):
    """Peak at x0 = 0.3, x1 = 0.7; level 2 adds 1.0, so the optimum is (0.3, 0.7, level 2)."""

    def __init__(self) -> None:
        super().__init__(model=None)  # type: ignore[arg-type]

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # batch x 1 x 5 -> batch
        x = X[..., 0, :]
        target = torch.tensor([0.3, 0.7], dtype=X.dtype)
        return -((x[..., :2] - target) ** 2).sum(-1) + 1.0 * x[..., 4] + 0.5 * x[..., 3]


def test_finds_the_best_combination_and_continuous_optimum() -> None:
    torch.manual_seed(0)
    ends = optimise_mixed(Bowl(), 5, COMBOS, num_restarts=3, raw_samples=30, max_iterations=50)
    assert ends.shape == (3, 5)
    best = ends[0]
    assert best[2:].tolist() == [0.0, 0.0, 1.0]
    assert torch.allclose(best[:2], torch.tensor([0.3, 0.7], dtype=best.dtype), atol=1e-4)
    values = Bowl()(ends.unsqueeze(-2))
    assert torch.all(values[:-1] >= values[1:])  # best first
    assert {int(torch.argmax(e[2:])) for e in ends} == {0, 1, 2}  # one restart per level


def test_restarts_cover_combinations_before_repeating_one() -> None:
    values = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0])
    combo = torch.tensor([0, 0, 1, 0, 2])
    # Best of each combination in order of value (0, 2, 4), then the best remaining (1).
    assert _start_indices(values, combo, 4).tolist() == [0, 2, 4, 1]
    assert _start_indices(values, combo, 2).tolist() == [0, 2]


def test_same_seed_same_point() -> None:
    points = []
    for _ in range(2):
        torch.manual_seed(3)
        points.append(optimise_mixed(Bowl(), 5, COMBOS, 2, 16, 5))
    assert torch.equal(points[0], points[1])


@pytest.mark.parametrize(
    "combos", [[], [{2: 1.0, 3: 0.0, 4: 0.0}, {2: 0.0, 3: 1.0}]], ids=["none", "mismatched"]
)
def test_bad_combinations_are_refused(combos: list[dict[int, float]]) -> None:
    with pytest.raises(PlannerInputError, match="fixed_features_list"):
        optimise_mixed(Bowl(), 5, combos, 2, 8, 5)
