"""Acquisition optimisation over a cube with one-hot categorical coordinates, in one L-BFGS run.

``optimize_acqf_mixed`` runs the whole optimiser (raw samples, restarts, L-BFGS) once per
combination of categorical levels; with a 4-level dopant that is four optimisations per chosen
point. Here the combinations share one pass instead:

1. ``raw_samples`` scrambled-Sobol points over the continuous coordinates, the combinations
   assigned in turn so each gets an equal share, are scored in one batch;
2. the restarts are the best raw point of each combination in order of value (so the
   optimiser looks at several combinations), topped up with the best remaining raw points;
3. one L-BFGS-B run optimises the continuous coordinates of every restart with the restart's
   combination held fixed (:class:`FixedFeatureAcquisitionFunction` with per-restart values;
   BoTorch's batched L-BFGS drops converged restarts from the batch, which would misalign
   them, so the restarts' values are summed into one problem instead).

Every restart's end point is returned, best first, so a caller whose best point repeats an
observed one can take the next.

Randomness comes from torch's global generator, which the planner seeds per ask.
"""

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
from botorch.generation import gen_candidates_scipy
from botorch.utils.sampling import draw_sobol_samples

from voltlab.planners._errors import PlannerInputError


def _start_indices(values: torch.Tensor, combo: torch.Tensor, num_restarts: int) -> torch.Tensor:
    """Indices of the raw points to start from: best per combination first, then best overall.

    ``values`` and ``combo`` have shape ``n_raw``; returns at most ``num_restarts`` indices.
    """
    order = torch.argsort(values, descending=True)
    chosen: list[int] = []
    seen: set[int] = set()
    for index in order.tolist():
        if int(combo[index]) not in seen:
            seen.add(int(combo[index]))
            chosen.append(index)
    chosen = chosen[:num_restarts]
    rest = [i for i in order.tolist() if i not in set(chosen)]
    chosen.extend(rest[: num_restarts - len(chosen)])
    return torch.tensor(chosen)


def optimise_mixed(
    acqf: AcquisitionFunction,
    dim: int,
    fixed_features_list: list[dict[int, float]],
    num_restarts: int,
    raw_samples: int,
    max_iterations: int,
    timeout_sec: float | None = None,
) -> torch.Tensor:
    """The restarts' end points over ``[0, 1]^dim``, best acquisition value first, shape
    ``num_restarts x dim``.

    ``fixed_features_list`` holds one dict per allowed combination of the categorical
    coordinates (all with the same keys); every other coordinate is free in ``[0, 1]``.
    """
    if not fixed_features_list:
        raise PlannerInputError("fixed_features_list", "needs at least one combination")
    columns = sorted(fixed_features_list[0])
    if any(sorted(f) != columns for f in fixed_features_list):
        raise PlannerInputError(
            "fixed_features_list", "every combination must fix the same columns"
        )
    free = [i for i in range(dim) if i not in set(columns)]
    levels = torch.tensor(
        [[f[c] for c in columns] for f in fixed_features_list], dtype=torch.float64
    )  # n_combos x d_f
    n_combos = levels.shape[0]
    n_raw = max(raw_samples, n_combos)
    unit = torch.stack([torch.zeros(len(free)), torch.ones(len(free))]).to(torch.float64)
    seed = int(torch.randint(0, 2**31 - 1, (1,)))
    x_free = draw_sobol_samples(bounds=unit, n=n_raw, q=1, seed=seed)  # n_raw x 1 x d'
    combo = torch.arange(n_raw) % n_combos
    raw = FixedFeatureAcquisitionFunction(acqf, dim, columns, levels[combo].unsqueeze(-2))
    with torch.no_grad():
        values = raw(x_free)
    starts = _start_indices(values, combo, num_restarts)
    chosen = FixedFeatureAcquisitionFunction(
        acqf, dim, columns, levels[combo[starts]].unsqueeze(-2)
    )
    candidates, scores = gen_candidates_scipy(
        initial_conditions=x_free[starts],
        acquisition_function=chosen,
        lower_bounds=0.0,
        upper_bounds=1.0,
        options={"maxiter": max_iterations},
        timeout_sec=timeout_sec,
        use_parallel_mode=False,  # the per-restart combinations need the whole batch every call
    )
    order = torch.argsort(scores.view(-1), descending=True)
    full = chosen._construct_X_full(candidates.detach())  # restarts x 1 x dim
    return full[order, 0]
