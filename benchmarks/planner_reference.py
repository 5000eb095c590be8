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

A second table splits, for each arm, the hypervolume its points leave short of the true front
(mean over seeds) over five equal stretches of the first objective, from the reference point to
the front's best value: it shows which part of the front an arm misses. The true front is
BoTorch's ``gen_pareto_front`` where the problem has one (DTLZ2), else a grid over the unit
square refined around the coarse grid's Pareto set (BraninCurrin: its Pareto set is a thin
curve, and a 1001 x 1001 grid alone falls 0.24 short).

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
STRETCHES = 5
GRID = 1001
FRONT_SAMPLES = 20_000


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


def front_of(values: torch.Tensor) -> torch.Tensor:
    """The non-dominated rows of two-objective ``values`` (n x 2, maximised), best y0 first.

    One sort and a running maximum: ``voltlab.planners.pareto_mask`` (BoTorch's pairwise test,
    any number of objectives) takes minutes on the refined grid's million points.
    """
    values = values[torch.argsort(values[:, 0], descending=True)]
    best_before = torch.cummax(values[:, 1], dim=0).values
    keep = torch.ones(values.shape[0], dtype=torch.bool)
    keep[1:] = values[1:, 1] > best_before[:-1]
    return values[keep]


def true_front(function: MultiObjectiveTestProblem) -> torch.Tensor:
    """The noise-free Pareto front of a two-objective problem, m x 2."""
    try:
        return function.gen_pareto_front(FRONT_SAMPLES)
    except NotImplementedError:
        if function.dim != 2:
            raise
    lower, span = function.bounds[0], function.bounds[1] - function.bounds[0]

    def grid_front(low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        axes = [
            torch.linspace(float(a), float(b), GRID, dtype=torch.float64)
            for a, b in zip(low, high, strict=True)
        ]
        unit = torch.cartesian_prod(*axes)
        values = function(lower + unit * span, noise=False)
        front = front_of(values)
        return front, unit[torch.isin(values[:, 0], front[:, 0])]

    _, pareto_set = grid_front(torch.zeros(2), torch.ones(2))
    step = 1.0 / (GRID - 1)
    low = (pareto_set.min(dim=0).values - step).clamp(0, 1)
    high = (pareto_set.max(dim=0).values + step).clamp(0, 1)
    return grid_front(low, high)[0]


def shortfall(values: torch.Tensor, front: torch.Tensor, ref: list[float]) -> list[float]:
    """Hypervolume of ``front`` that ``values`` (both k x 2) do not reach, per stretch of y0.

    The dominated region above ``ref`` is, at each y0 = b, as high as the best y1 among the
    points with y0 >= b; the gap between the two heights is summed over b from ref[0] to the
    front's best y0, split into ``STRETCHES`` equal parts.
    """
    b = torch.linspace(ref[0], float(front[:, 0].max()), 4000 * STRETCHES + 1, dtype=torch.float64)
    width = float(b[1] - b[0])

    def height(points: torch.Tensor) -> torch.Tensor:
        order = torch.argsort(points[:, 0])
        y0 = points[order, 0].contiguous()
        rise = (points[order, 1] - ref[1]).clamp_min(0)
        best_from = torch.cat([rise.flip(0).cummax(dim=0).values.flip(0), torch.zeros(1)])
        return best_from[torch.searchsorted(y0, b)]  # best rise among points with y0 >= b

    gap = (height(front) - height(values))[:-1] * width
    return [float(part.sum()) for part in gap.tensor_split(STRETCHES)]


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


def run_seed(
    bench: Benchmark, seed: int, batches: int, q: int
) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Final noise-free hypervolume of each arm and the voltlab and tutorial wall times; and
    each arm's noise-free values (n x M)."""
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
    scores = {name: arm.hypervolume() for name, arm in arms.items()}
    return scores | {f"{name} s": value for name, value in seconds.items()}, {
        name: arm.true_y for name, arm in arms.items()
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
    values: list[dict[str, torch.Tensor]] = []
    for seed in seeds:
        row, evaluated = run_seed(bench, seed, batches, q)
        rows.append(row)
        values.append(evaluated)
        print(f"{seed:>4}" + "".join(f"  {row[c]:>10.3f}" for c in columns), flush=True)
    means = {c: statistics.fmean(r[c] for r in rows) for c in columns}
    print(f"{'mean':>4}" + "".join(f"  {means[c]:>10.3f}" for c in columns))
    print(f"{bench.name} voltlab {means['voltlab']:.4g}", flush=True)
    if function.num_objectives == 2:
        report_shortfall(function, values)


def report_shortfall(
    function: MultiObjectiveTestProblem, values: list[dict[str, torch.Tensor]]
) -> None:
    """Mean hypervolume short of the true front per arm, by stretch of y0 (see ``shortfall``)."""
    ref = function.ref_point.tolist()
    front = true_front(function)
    whole = hypervolume(front.tolist(), ref, ["maximise"] * 2)
    print(
        f"short of the true front (hypervolume {whole:.4g}), mean over seeds, by {STRETCHES}"
        f" stretches of y0 from {ref[0]:.4g} to {float(front[:, 0].max()):.4g}"
    )
    print(
        f"{'arm':>8}"
        + "".join(f"  {f'y0 {i + 1}/{STRETCHES}':>8}" for i in range(STRETCHES))
        + "     total"
    )
    for arm in ARMS:
        parts = [shortfall(v[arm], front, ref) for v in values]
        mean = [statistics.fmean(p[i] for p in parts) for i in range(STRETCHES)]
        print(f"{arm:>8}" + "".join(f"  {m:>8.3f}" for m in mean) + f"  {sum(mean):>8.3f}")


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
