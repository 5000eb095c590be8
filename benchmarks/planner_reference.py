"""Planner reference: noisy BraninCurrin, voltlab's BoTorch planner against Sobol, in one run.

The setting of BoTorch's multi-objective tutorial: BraninCurrin (negated, so both objectives are
maximised) with observation noise sigma = [15.19, 0.63], 2*(d+1) = 6 Sobol points, then batches
of q = 4; the score is the hypervolume of the noise-free values of every evaluated point with
reference point [-18, -6] (maximum 59.36). The tutorial reports 57.77 for qNEHVI after 20
batches. Both planners start from the same Sobol points and see the same noise.

    .venv/bin/python benchmarks/planner_reference.py [--seeds 5] [--batches 20] [--q 4]

Quick check: ``--seeds 1 --batches 5``. The last line reads ``BraninCurrin voltlab <mean HV>``.
"""

import argparse
import statistics
import time
import warnings

import torch
from botorch.test_functions.multi_objective import BraninCurrin

from voltlab.planners import (
    BoTorchPlanner,
    ContinuousParameter,
    HistoryPlanner,
    Objective,
    Problem,
    Result,
    SearchSpace,
    SobolPlanner,
    hypervolume,
)

NOISE_STD = [15.19, 0.63]
REFERENCE = [-18.0, -6.0]
DIRECTIONS = ["maximise", "maximise"]
PROBLEM = Problem(
    space=SearchSpace(
        parameters=[ContinuousParameter(name=f"x{i}", lower=0.0, upper=1.0) for i in range(2)]
    ),
    objectives=[Objective(name="branin"), Objective(name="currin")],
    reference_point={"branin": REFERENCE[0], "currin": REFERENCE[1]},
)


class Campaign:
    """Runs one planner on the noisy function and keeps the noise-free values it reached."""

    def __init__(self, planner: HistoryPlanner, function: BraninCurrin) -> None:
        self.planner = planner
        self.function = function
        self.true_values: list[list[float]] = []

    def run(self, points: list[dict]) -> None:
        x = torch.tensor([[p["x0"], p["x1"]] for p in points], dtype=torch.float64)
        noisy = self.function(x)
        self.true_values += self.function(x, noise=False).tolist()
        self.planner.tell(
            [
                Result(parameters=p, objectives={"branin": float(y[0]), "currin": float(y[1])})
                for p, y in zip(points, noisy, strict=True)
            ]
        )

    def hypervolume(self) -> float:
        return hypervolume(self.true_values, REFERENCE, DIRECTIONS)


def run_seed(seed: int, batches: int, q: int) -> dict[str, float]:
    """Final noise-free hypervolume of each planner, and the voltlab planner's wall time."""
    torch.manual_seed(seed)
    function = BraninCurrin(negate=True, noise_std=NOISE_STD).to(torch.float64)
    initial = [s.parameters for s in SobolPlanner(PROBLEM, seed=seed).ask(2 * (2 + 1))]
    voltlab = Campaign(BoTorchPlanner(PROBLEM, seed=seed), function)
    sobol = Campaign(SobolPlanner(PROBLEM, seed=seed + 10_000), function)
    for campaign in (voltlab, sobol):
        campaign.run(initial)
    start = time.perf_counter()
    for _ in range(batches):
        voltlab.run([s.parameters for s in voltlab.planner.ask(q)])
    elapsed = time.perf_counter() - start
    for _ in range(batches):
        sobol.run([s.parameters for s in sobol.planner.ask(q)])
    return {"voltlab": voltlab.hypervolume(), "sobol": sobol.hypervolume(), "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--q", type=int, default=4)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")

    print(f"noisy BraninCurrin, q={args.q}, {args.batches} batches after 6 Sobol points")
    print(f"{'seed':>4}  {'voltlab HV':>10}  {'sobol HV':>9}  {'voltlab s':>9}")
    rows = []
    for seed in range(args.seeds):
        row = run_seed(seed, args.batches, args.q)
        rows.append(row)
        print(f"{seed:>4}  {row['voltlab']:>10.2f}  {row['sobol']:>9.2f}  {row['seconds']:>9.1f}")
    means = {key: statistics.fmean(r[key] for r in rows) for key in rows[0]}
    print(
        f"{'mean':>4}  {means['voltlab']:>10.2f}  {means['sobol']:>9.2f}  {means['seconds']:>9.1f}"
    )
    print("(maximum 59.36; BoTorch tutorial qNEHVI 57.77 after 20 batches)")
    print(f"BraninCurrin voltlab {means['voltlab']:.2f}")


if __name__ == "__main__":
    main()
