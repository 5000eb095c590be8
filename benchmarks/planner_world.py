"""Planner on the simulated cathode world: experiments needed to reach 95 % of the true front.

No orchestration: each suggested recipe is scored directly by the world's noise-free truth
(``voltlab.simulated_hardware.world.truth``): capacity (mAh/g, maximise), retention after 100
cycles (fraction, maximise), material cost (USD/kg, minimise), with the layered-phase purity at
least ``MIN_PURITY`` as an outcome constraint. The target is 95 % of the hypervolume of the true
Pareto front (a dense grid over the recipe box, ``pareto_truth``), above ``REFERENCE_POINT``.

Arms, per seed: voltlab's BoTorch planner (2 * (d + 1) Sobol points, then batches of q; budget
``--budget``), and the random and Sobol baselines (the planners' own, so the same encoding of the
box), which are cheap to run for thousands of experiments (``--baseline-budget``). A count is the
number of experiments after which the feasible results first reach the target; ``>N`` means not
within the budget. The planner runs lighter options than its defaults (4 restarts, 256 raw
samples, 64 MC samples) to keep the run short.

    .venv/bin/python benchmarks/planner_world.py [--seeds 3] [--first-seed 0] [--budget 240] [--q 4]
        [--baseline-budget 5000] [--levels 6]
"""

import argparse
import logging
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np

from voltlab.planners import (
    BoTorchOptions,
    BoTorchPlanner,
    CategoricalParameter,
    ContinuousParameter,
    HistoryPlanner,
    Objective,
    OutcomeConstraint,
    Problem,
    RandomPlanner,
    Result,
    SearchSpace,
    SimplexGroup,
    SobolPlanner,
)
from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.truth import (
    DOPANT_RANGE,
    LI_EXCESS_RANGE,
    MIN_PURITY,
    NI_RANGE,
    REFERENCE_POINT,
    TEMPERATURE_RANGE_C,
    TIME_RANGE_H,
    hypervolume,
    pareto_mask,
    pareto_truth,
    truth,
)

TARGET_FRACTION = 0.95
OPTIONS = BoTorchOptions(num_restarts=4, raw_samples=256, mc_samples=64)
PROBLEM = Problem(
    space=SearchSpace(
        parameters=[
            SimplexGroup(
                name="composition",
                components=[
                    ContinuousParameter(name="ni", lower=NI_RANGE[0], upper=NI_RANGE[1]),
                    ContinuousParameter(name="mn", lower=0.0, upper=1.0 - NI_RANGE[0]),
                    ContinuousParameter(name="co", lower=0.0, upper=1.0 - NI_RANGE[0]),
                ],
            ),
            ContinuousParameter(
                name="li_excess", lower=LI_EXCESS_RANGE[0], upper=LI_EXCESS_RANGE[1]
            ),
            ContinuousParameter(
                name="temperature_c", lower=TEMPERATURE_RANGE_C[0], upper=TEMPERATURE_RANGE_C[1]
            ),
            ContinuousParameter(name="time_h", lower=TIME_RANGE_H[0], upper=TIME_RANGE_H[1]),
            CategoricalParameter(name="dopant", levels=[d.value for d in Dopant]),
            ContinuousParameter(
                name="dopant_fraction", lower=DOPANT_RANGE[0], upper=DOPANT_RANGE[1]
            ),
        ]
    ),
    objectives=[
        Objective(name="capacity_mah_g"),
        Objective(name="retention_100"),
        Objective(name="cost_usd_kg", direction="minimise"),
    ],
    constraints=[OutcomeConstraint(name="layered_fraction", lower=MIN_PURITY)],
    reference_point={
        "capacity_mah_g": REFERENCE_POINT[0],
        "retention_100": REFERENCE_POINT[1],
        "cost_usd_kg": -REFERENCE_POINT[2],
    },
)


def recipe(point: dict) -> Recipe:
    """The world's recipe for a planner point; without a dopant its fraction is irrelevant (0)."""
    dopant = Dopant(point["dopant"])
    return Recipe(
        ni=point["ni"],
        mn=point["mn"],
        co=point["co"],
        li_excess=point["li_excess"],
        calcination_temperature_c=point["temperature_c"],
        calcination_time_h=point["time_h"],
        dopant=dopant,
        dopant_fraction=0.0 if dopant is Dopant.NONE else point["dopant_fraction"],
    )


def evaluate(point: dict) -> Result:
    outcome = truth(recipe(point))
    return Result(
        parameters=point,
        objectives={
            "capacity_mah_g": outcome.capacity_mah_g,
            "retention_100": outcome.retention_100,
            "cost_usd_kg": outcome.cost_usd_kg,
        },
        constraints={"layered_fraction": outcome.layered_fraction},
    )


def maximisation(result: Result) -> tuple[float, float, float] | None:
    """The result in the truth's maximisation form, or None if it breaks the purity constraint."""
    if result.constraints["layered_fraction"] < MIN_PURITY:
        return None
    o = result.objectives
    return (o["capacity_mah_g"], o["retention_100"], -o["cost_usd_kg"])


def feasible_hypervolume(results: list[Result]) -> float:
    """Hypervolume of the feasible results' Pareto front (maximisation form)."""
    rows = np.array([m for r in results if (m := maximisation(r)) is not None]).reshape(-1, 3)
    return hypervolume(rows[pareto_mask(rows)]) if len(rows) else 0.0


def experiments_to_reach(results: list[Result], target: float, step: int = 25) -> int | None:
    """Smallest n such that the feasible results among the first n reach ``target`` hypervolume.

    Checked every ``step`` results on a running Pareto front, then result by result inside the
    step that crosses the target (hypervolume never decreases as results are added).
    """
    front = np.empty((0, 3))
    for start in range(0, len(results), step):
        chunk = [maximisation(r) for r in results[start : start + step]]
        rows = np.array([c for c in chunk if c is not None]).reshape(-1, 3)
        merged = np.vstack([front, rows])
        if hypervolume(merged) >= target:
            for i in range(1, len(chunk) + 1):
                upto = np.array([c for c in chunk[:i] if c is not None]).reshape(-1, 3)
                if hypervolume(np.vstack([front, upto])) >= target:
                    return start + i
        front = merged[pareto_mask(merged)] if len(merged) else merged
    return None


def run_planner(planner: HistoryPlanner, budget: int, q: int, target: float) -> list[Result]:
    """Ask/tell in batches of ``q`` until ``budget`` results or the target is reached."""
    results: list[Result] = []
    while len(results) < budget:
        batch = [evaluate(s.parameters) for s in planner.ask(min(q, budget - len(results)))]
        planner.tell(batch)
        results += batch
        if feasible_hypervolume(results) >= target:
            break
    return results


def run_baseline(
    make: Callable[[int], HistoryPlanner], seed: int, budget: int, target: float
) -> list[Result]:
    """A space-filling baseline, asked 500 points at a time until the target or ``budget``."""
    planner = make(seed)
    results: list[Result] = []
    while len(results) < budget:
        points = planner.ask(min(500, budget - len(results)))
        results += [evaluate(s.parameters) for s in points]
        if feasible_hypervolume(results) >= target:
            break
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds run are first-seed .. first-seed+seeds-1"
    )
    parser.add_argument("--budget", type=int, default=240, help="planner experiments per seed")
    parser.add_argument("--q", type=int, default=4)
    parser.add_argument("--baseline-budget", type=int, default=5000)
    parser.add_argument("--levels", type=int, default=6, help="grid resolution of the truth")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # BoTorch's jitter and optimiser notices
    # The planner's expected notes while it starts from Sobol points would interleave the table.
    logging.getLogger("voltlab.planners").setLevel(logging.ERROR)

    start = time.perf_counter()
    reference = pareto_truth(args.levels)
    target = TARGET_FRACTION * reference.hypervolume
    print(
        f"true front: {len(reference.front)} points from {reference.evaluated} grid recipes, "
        f"hypervolume {reference.hypervolume:.4g} ({time.perf_counter() - start:.0f} s); "
        f"target {TARGET_FRACTION:.0%} = {target:.4g}"
    )
    print(f"{'seed':>4}  {'voltlab':>8}  {'random':>8}  {'sobol':>8}  {'voltlab s':>9}")
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        start = time.perf_counter()
        planner = BoTorchPlanner(PROBLEM, seed=seed, options=OPTIONS)
        ours = run_planner(planner, args.budget, args.q, target)
        elapsed = time.perf_counter() - start
        random = run_baseline(
            lambda s: RandomPlanner(PROBLEM, seed=s), seed, args.baseline_budget, target
        )
        sobol = run_baseline(
            lambda s: SobolPlanner(PROBLEM, seed=s), seed, args.baseline_budget, target
        )
        row = {
            "voltlab": experiments_to_reach(ours, target),
            "random": experiments_to_reach(random, target),
            "sobol": experiments_to_reach(sobol, target),
        }
        rows.append(row)
        shown = {
            key: f">{args.budget if key == 'voltlab' else args.baseline_budget}"
            if value is None
            else str(value)
            for key, value in row.items()
        }
        print(
            f"{seed:>4}  {shown['voltlab']:>8}  {shown['random']:>8}  {shown['sobol']:>8}"
            f"  {elapsed:>9.0f}",
            flush=True,
        )
    for key in ("voltlab", "random", "sobol"):
        reached = [r[key] for r in rows if r[key] is not None]
        missed = len(rows) - len(reached)
        median = statistics.median(reached) if reached else float("nan")
        print(f"{key:<8} reached in {len(reached)}/{len(rows)} seeds, median {median:.0f}", end="")
        print(f" ({missed} not within budget)" if missed else "")
    ours = [r["voltlab"] for r in rows]
    if all(v is not None for v in ours):
        # A seed where random missed counts as its budget, so the ratio is then a lower bound.
        theirs = [args.baseline_budget if r["random"] is None else r["random"] for r in rows]
        bound = ">=" if any(r["random"] is None for r in rows) else ""
        ratio = statistics.median(theirs) / statistics.median(ours)
        print(f"random / voltlab (medians): {bound}{ratio:.1f}x")


if __name__ == "__main__":
    main()
