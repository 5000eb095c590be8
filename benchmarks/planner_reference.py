"""Planner reference: voltlab's BoTorch planner against Sobol and BoTorch's tutorial loop.

The setting of BoTorch's multi-objective tutorial: noisy BraninCurrin (negated, so both
objectives are maximised; noise sigma = [15.19, 0.63]), 2*(d+1) Sobol points, then batches of
q = 4; the score is the hypervolume of the noise-free values of every evaluated point with
reference point [-18, -6] (maximum 59.36). The tutorial reports 57.77 for qNEHVI after 20
batches. Also DTLZ2 (d = 6, two objectives, negated, noise-free, reference point BoTorch's
``ref_point`` [-1.1, -1.1]).

Arms, all from the same initial Sobol points:

- voltlab: :class:`BoTorchPlanner` with its default options, told the known noise sigma
  (``noise_std``) as the tutorial's models are;
- tutorial: the plain loop of the tutorial (ModelListGP of SingleTaskGP with the known noise
  variances, qLogNEHVI with 128 MC samples, ``optimize_acqf`` sequential, 10 restarts, 512
  raw samples), refitted from scratch every batch;
- sobol: further scrambled Sobol points.

    .venv/bin/python benchmarks/planner_reference.py [--seeds 5] [--first-seed 0] [--batches 20]
        [--q 4] [--problems branincurrin,dtlz2]

Quick check: ``--seeds 1 --batches 2``. The line ``BraninCurrin voltlab <mean HV>`` gives
voltlab's mean over the seeds. A seed's run depends only on the seed (and the thread count), so
seeds can be split across processes with ``--first-seed``, each with ``OMP_NUM_THREADS=1``.
"""

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.test_functions.multi_objective import DTLZ2, BraninCurrin, MultiObjectiveTestProblem
from gpytorch.mlls import SumMarginalLogLikelihood

from voltlab.planners import (
    BoTorchOptions,
    BoTorchPlanner,
    ContinuousParameter,
    Objective,
    Problem,
    SearchSpace,
    SobolPlanner,
    hypervolume,
)
from voltlab.planners import Result as PlannerResult

ARMS = ("voltlab", "tutorial", "sobol")


@dataclass(frozen=True)
class Benchmark:
    """A BoTorch test problem (maximised, inputs scaled to the unit cube) and its noise."""

    name: str
    make: Callable[[], MultiObjectiveTestProblem]
    noise_std: list[float] | None

    def function(self) -> MultiObjectiveTestProblem:
        return self.make().to(torch.float64)


BENCHMARKS = {
    "branincurrin": Benchmark(
        "BraninCurrin",
        lambda: BraninCurrin(negate=True, noise_std=[15.19, 0.63]),
        [15.19, 0.63],
    ),
    "dtlz2": Benchmark("DTLZ2", lambda: DTLZ2(dim=6, num_objectives=2, negate=True), None),
}


def problem_for(function: MultiObjectiveTestProblem) -> Problem:
    """The planner's view: unit-cube knobs x0..x{d-1}, objectives y0..y{M-1} maximised."""
    ref = function.ref_point.tolist()
    names = [f"y{j}" for j in range(function.num_objectives)]
    return Problem(
        space=SearchSpace(
            parameters=[
                ContinuousParameter(name=f"x{i}", lower=0.0, upper=1.0) for i in range(function.dim)
            ]
        ),
        objectives=[Objective(name=n) for n in names],
        reference_point=dict(zip(names, ref, strict=True)),
    )


class Arm:
    """Evaluated points of one arm: noisy observations (what the arm learns from) and the
    noise-free values (what it is scored on)."""

    def __init__(self, function: MultiObjectiveTestProblem) -> None:
        self.function = function
        bounds = function.bounds
        self.x = torch.empty(0, function.dim, dtype=torch.float64)  # unit cube
        self.y = torch.empty(0, function.num_objectives, dtype=torch.float64)  # noisy
        self.true_y = torch.empty_like(self.y)
        self.scale = (bounds[0], bounds[1] - bounds[0])

    def evaluate(self, x: torch.Tensor) -> None:
        """Run the n x d unit-cube points ``x``."""
        raw = self.scale[0] + x * self.scale[1]
        self.x = torch.cat([self.x, x])
        self.y = torch.cat([self.y, self.function(raw)])
        self.true_y = torch.cat([self.true_y, self.function(raw, noise=False)])

    def hypervolume(self) -> float:
        ref = self.function.ref_point.tolist()
        return hypervolume(self.true_y.tolist(), ref, ["maximise"] * len(ref))


def tutorial_batch(arm: Arm, noise_std: list[float] | None, q: int) -> torch.Tensor:
    """The tutorial's next q x d batch (unit cube) from everything ``arm`` observed."""
    models = []
    for j in range(arm.y.shape[-1]):
        y = arm.y[:, j : j + 1]
        y_var = None if noise_std is None else torch.full_like(y, noise_std[j] ** 2)
        models.append(SingleTaskGP(arm.x, y, y_var, outcome_transform=Standardize(m=1)))
    model = ModelListGP(*models)
    fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
    acqf = qLogNoisyExpectedHypervolumeImprovement(
        model=model,
        ref_point=arm.function.ref_point.tolist(),
        X_baseline=arm.x,
        prune_baseline=True,
        sampler=SobolQMCNormalSampler(sample_shape=torch.Size([128])),
    )
    dim = arm.x.shape[-1]
    candidates, _ = optimize_acqf(
        acq_function=acqf,
        bounds=torch.stack([torch.zeros(dim), torch.ones(dim)]).to(torch.float64),
        q=q,
        num_restarts=10,
        raw_samples=512,
        options={"batch_limit": 5, "maxiter": 200},
        sequential=True,
    )
    return candidates.detach()


def points(suggestions: list, dim: int) -> torch.Tensor:
    return torch.tensor(
        [[s.parameters[f"x{i}"] for i in range(dim)] for s in suggestions], dtype=torch.float64
    )


def run_seed(bench: Benchmark, seed: int, batches: int, q: int) -> dict[str, float]:
    """Final noise-free hypervolume of each arm, and the voltlab and tutorial wall times."""
    torch.manual_seed(seed)
    function = bench.function()
    problem = problem_for(function)
    dim = function.dim
    initial = points(SobolPlanner(problem, seed=seed).ask(2 * (dim + 1)), dim)
    arms = {name: Arm(function) for name in ARMS}
    for arm in arms.values():
        arm.evaluate(initial)
    noise = (
        {}
        if bench.noise_std is None
        else dict(zip(problem.objective_names, bench.noise_std, strict=True))
    )
    planner = BoTorchPlanner(problem, seed=seed, options=BoTorchOptions(noise_std=noise))
    sobol = SobolPlanner(problem, seed=seed + 10_000)
    seconds = {"voltlab": 0.0, "tutorial": 0.0}
    told = 0
    for _ in range(batches):
        start = time.perf_counter()
        ours = arms["voltlab"]
        planner.tell(
            [
                PlannerResult(
                    parameters={f"x{i}": float(v) for i, v in enumerate(x)},
                    objectives={
                        n: float(v) for n, v in zip(problem.objective_names, y, strict=True)
                    },
                )
                for x, y in zip(ours.x[told:], ours.y[told:], strict=True)
            ]
        )
        told = ours.x.shape[0]
        ours.evaluate(points(planner.ask(q), dim))
        seconds["voltlab"] += time.perf_counter() - start
        start = time.perf_counter()
        arms["tutorial"].evaluate(tutorial_batch(arms["tutorial"], bench.noise_std, q))
        seconds["tutorial"] += time.perf_counter() - start
        arms["sobol"].evaluate(points(sobol.ask(q), dim))
    return {name: arm.hypervolume() for name, arm in arms.items()} | {
        f"{name} s": value for name, value in seconds.items()
    }


def report(bench: Benchmark, seeds: range, batches: int, q: int) -> None:
    function = bench.function()
    print(
        f"\n{bench.name} (d={function.dim}, M={function.num_objectives}, noise "
        f"{bench.noise_std or 'none'}), q={q}, {batches} batches after {2 * (function.dim + 1)}"
        f" Sobol points, max HV {function.max_hv:.4g}"
    )
    columns = [*ARMS, "voltlab s", "tutorial s"]
    print(f"{'seed':>4}" + "".join(f"  {c:>10}" for c in columns))
    rows = []
    for seed in seeds:
        row = run_seed(bench, seed, batches, q)
        rows.append(row)
        print(f"{seed:>4}" + "".join(f"  {row[c]:>10.3f}" for c in columns), flush=True)
    means = {c: statistics.fmean(r[c] for r in rows) for c in columns}
    print(f"{'mean':>4}" + "".join(f"  {means[c]:>10.3f}" for c in columns))
    print(f"{bench.name} voltlab {means['voltlab']:.4g}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds run are first-seed .. first-seed+seeds-1"
    )
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--q", type=int, default=4)
    parser.add_argument("--problems", default="branincurrin,dtlz2")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # jitter and optimiser notices, as in the tutorial
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for key in args.problems.split(","):
        report(BENCHMARKS[key], seeds, args.batches, args.q)
    print("\n(BraninCurrin maximum 59.36; BoTorch tutorial qNEHVI 57.77 after 20 batches)")


if __name__ == "__main__":
    main()
