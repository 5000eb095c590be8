"""Planner latency: one ask(q=4) on 200 observations, voltlab against a straightforward loop.

Setting: 7 knobs (a Ni/Mn/Co simplex, Li excess, temperature, time, a 4-level dopant), 3
objectives and 1 constraint from a smooth synthetic function, 200 told results, 2 threads.

- straightforward: the inputs as they are (dopant as an index fixed per category), ModelListGP of
  SingleTaskGP, qLogNEHVI with 128 MC samples, ``optimize_acqf_mixed(q=4)`` with the simplex as
  an equality constraint (which forces SLSQP), 4 restarts, 256 raw samples;
- voltlab: :class:`BoTorchPlanner` with the lighter ``OPTIONS`` below: 4 restarts, 256 raw
  samples, 16 MC samples, L-BFGS-B capped at 30 iterations per point, GP fits capped at 100
  iterations, no input warping (with it this ask takes about twice as long: the warped
  acquisition needs 2.3x the evaluations per L-BFGS-B run). The planner itself adds the
  stick-breaking simplex (box bounds, so L-BFGS-B), one optimiser run shared by the dopant
  levels per chosen point, and one pending point evaluated jointly instead of redoing the box
  decompositions.

Two voltlab asks on the same 200 results are timed: "cold", a new planner told all 200 at once
(its GP fits start from the defaults), and "warm", a campaign's steady state: a planner asked
once on the first 200 - q results, then told the last q, so its fits start from that ask's
fitted parameters (``warm_start``, set here). All q=4 batches are scored with the same joint
qLogNEHVI (the straightforward loop's model, 128 samples), so "equal or better" is on one
yardstick. voltlab's times are medians of ``--repeats`` asks; the straightforward loop (minutes)
runs once. BoTorch's fused qLogEHVI kernel is loaded once before either arm is timed (a
per-process cost, compiled on first use).

    .venv/bin/python benchmarks/planner_latency.py [--observations 200] [--q 4] [--repeats 3]
        [--skip-plain]
"""

import argparse
import statistics
import time
import warnings

import torch
from botorch.acquisition.multi_objective import logei
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf_mixed
from botorch.sampling.normal import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood

from voltlab.planners import (
    BoTorchOptions,
    BoTorchPlanner,
    CategoricalParameter,
    ContinuousParameter,
    Objective,
    OutcomeConstraint,
    Problem,
    RandomPlanner,
    Result,
    SearchSpace,
    SimplexGroup,
    Suggestion,
)

DOPANTS = ["none", "Al", "Mg", "Ti"]
LOWER = [0.3, 0.05, 0.05, 0.0, 650.0, 2.0]
UPPER = [0.9, 0.5, 0.4, 0.1, 1000.0, 24.0]
NAMES = ["ni", "mn", "co", "li", "temp", "hours"]
REFERENCE = {"capacity": 150.0, "retention": 0.7, "cost": 30.0}
PROBLEM = Problem(
    space=SearchSpace(
        parameters=[
            SimplexGroup(
                name="tm",
                components=[
                    ContinuousParameter(name=n, lower=lo, upper=hi)
                    for n, lo, hi in zip(NAMES[:3], LOWER[:3], UPPER[:3], strict=True)
                ],
            ),
            *[
                ContinuousParameter(name=n, lower=lo, upper=hi)
                for n, lo, hi in zip(NAMES[3:], LOWER[3:], UPPER[3:], strict=True)
            ],
            CategoricalParameter(name="dopant", levels=DOPANTS),
        ]
    ),
    objectives=[
        Objective(name="capacity"),
        Objective(name="retention"),
        Objective(name="cost", direction="minimise"),
    ],
    constraints=[OutcomeConstraint(name="purity", lower=0.9)],
    reference_point=REFERENCE,
)
PHYSICAL_BOUNDS = torch.tensor(
    [[0.3, 0.05, 0.05, 0, 0, 0, 0], [0.9, 0.5, 0.4, 1, 1, 1, 3]], dtype=torch.float64
)
"""Bounds of the straightforward loop's inputs (see :func:`physical`)."""
OPTIONS = BoTorchOptions(
    num_restarts=4,
    raw_samples=256,
    mc_samples=16,
    max_iterations=30,
    fit_max_iterations=100,
    input_warping=False,
    warm_start=True,
)


def truth(p: dict) -> Result:
    """Smooth synthetic outcomes: mAh/g, fraction retained after 100 cycles, $/kg, fraction."""
    t = (p["temp"] - 825.0) / 175.0
    dop = DOPANTS.index(p["dopant"])
    return Result(
        parameters=p,
        objectives={
            "capacity": 140 + 70 * p["ni"] - 25 * t**2 + 60 * p["li"] - 2.0 * dop,
            "retention": 0.95
            - 0.3 * p["ni"] ** 2
            + 0.02 * dop
            - 0.05 * (p["hours"] / 24 - 0.5) ** 2,
            "cost": 10 + 45 * p["co"] + 8 * p["li"] + 0.1 * p["hours"],
        },
        constraints={"purity": 1.0 - 0.4 * p["mn"] * max(0.0, -t) - 0.5 * p["li"] * (dop == 3)},
    )


def physical(p: dict) -> list[float]:
    """The straightforward loop's inputs: knobs scaled to [0, 1] (simplex kept) and dopant index."""
    scaled = [
        (p[n] - lo) / (hi - lo) for n, lo, hi in zip(NAMES[3:], LOWER[3:], UPPER[3:], strict=True)
    ]
    return [p["ni"], p["mn"], p["co"], *scaled, float(DOPANTS.index(p["dopant"]))]


def yardstick(results: list[Result]) -> qLogNoisyExpectedHypervolumeImprovement:
    """The straightforward loop's model and joint qLogNEHVI (128 MC samples): the common score."""
    x = torch.tensor([physical(r.parameters) for r in results], dtype=torch.float64)
    y = torch.tensor(
        [
            [
                r.objectives["capacity"],
                r.objectives["retention"],
                -r.objectives["cost"],
                r.constraints["purity"],
            ]
            for r in results
        ],
        dtype=torch.float64,
    )
    models = [
        SingleTaskGP(
            x,
            y[:, j : j + 1],
            input_transform=Normalize(7, bounds=PHYSICAL_BOUNDS),
            outcome_transform=Standardize(1),
        )
        for j in range(4)
    ]
    for model in models:
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return qLogNoisyExpectedHypervolumeImprovement(
        model=ModelListGP(*models),
        ref_point=[REFERENCE["capacity"], REFERENCE["retention"], -REFERENCE["cost"]],
        X_baseline=x,
        sampler=SobolQMCNormalSampler(torch.Size([128]), seed=0),
        objective=IdentityMCMultiOutputObjective(outcomes=[0, 1, 2]),
        constraints=[lambda z: 0.9 - z[..., 3]],
        prune_baseline=True,
    )


def straightforward(acqf: qLogNoisyExpectedHypervolumeImprovement, q: int) -> torch.Tensor:
    """The plain loop's q x 7 batch: optimize_acqf_mixed with the simplex as an equality."""
    batch, _ = optimize_acqf_mixed(
        acqf,
        bounds=PHYSICAL_BOUNDS,
        q=q,
        num_restarts=4,
        raw_samples=256,
        fixed_features_list=[{6: float(k)} for k in range(len(DOPANTS))],
        equality_constraints=[(torch.tensor([0, 1, 2]), torch.ones(3, dtype=torch.float64), 1.0)],
    )
    return batch


def score(acqf: qLogNoisyExpectedHypervolumeImprovement, batch: torch.Tensor) -> float:
    """Joint log-acquisition value of a q x 7 batch on the common yardstick."""
    with torch.no_grad():
        return float(acqf(batch.unsqueeze(0)))


def timed_ask(results: list[Result], q: int, warm: bool) -> tuple[float, list[Suggestion]]:
    """Seconds and suggestions of an ask(q) on ``results``: cold (a new planner told them all)
    or warm (asked once before the last q were told, so its fits start from that ask's)."""
    planner = BoTorchPlanner(PROBLEM, seed=0, options=OPTIONS)
    if warm:
        planner.tell(results[:-q])
        planner.ask(q)
        planner.tell(results[-q:])
    else:
        planner.tell(results)
    start = time.perf_counter()
    suggestions = planner.ask(q)
    return time.perf_counter() - start, suggestions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=200)
    parser.add_argument("--q", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed voltlab asks (median)")
    parser.add_argument(
        "--skip-plain", action="store_true", help="score voltlab only, no straightforward run"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # jitter and optimiser notices of the straightforward loop
    torch.set_num_threads(2)
    torch.manual_seed(0)
    # BoTorch compiles (or loads) its fused qLogEHVI kernel on first use, once per process; load
    # it before timing so neither arm pays it.
    logei._try_load_fused_kernel()

    results = [truth(s.parameters) for s in RandomPlanner(PROBLEM, seed=0).ask(args.observations)]
    print(
        f"ask(q={args.q}), {args.observations} observations, 7 knobs, 3 objectives + 1 constraint"
    )
    start = time.perf_counter()
    acqf = yardstick(results)
    yardstick_s = time.perf_counter() - start
    timed: dict[str, list[float]] = {"cold": [], "warm": []}
    batches: dict[str, torch.Tensor] = {}
    for repeat in range(args.repeats):
        for kind in timed:
            seconds, suggestions = timed_ask(results, args.q, warm=kind == "warm")
            timed[kind].append(seconds)
            batches[kind] = torch.tensor(
                [physical(s.parameters) for s in suggestions], dtype=torch.float64
            )
            sums = [
                s.parameters["ni"] + s.parameters["mn"] + s.parameters["co"] for s in suggestions
            ]
            print(
                f"voltlab {kind} run {repeat}: {timed[kind][-1]:.1f} s, joint log-acq"
                f" {score(acqf, batches[kind]):.3f}, simplex sums max |1 - s|"
                f" {max(abs(1 - s) for s in sums):.1e}, {[s.reason.strategy for s in suggestions]}",
                flush=True,
            )
    medians = {kind: statistics.median(seconds) for kind, seconds in timed.items()}
    print(f"{'planner':<16} {'seconds':>8} {'joint log-acq':>14}  (median times)")
    for kind, seconds in medians.items():
        print(f"{'voltlab ' + kind:<16} {seconds:>8.1f} {score(acqf, batches[kind]):>14.3f}")
    if args.skip_plain:
        return
    start = time.perf_counter()
    plain_batch = straightforward(acqf, args.q)
    plain_s = yardstick_s + time.perf_counter() - start  # its fit and acquisition, then SLSQP
    print(f"{'straightforward':<16} {plain_s:>8.1f} {score(acqf, plain_batch):>14.3f}")
    for kind, seconds in medians.items():
        print(f"speed-up {kind} {plain_s / seconds:.1f}x")


if __name__ == "__main__":
    main()
