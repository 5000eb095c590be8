"""Training data from a planner's history, and the independent GPs fitted to it.

Outcome columns, in order: each objective multiplied by its sign (so larger is better), each
constraint's measured value, and, if any experiment failed, a 0/1 failure indicator fitted on every
told point. The indicator's GP is how a failed region is learnt as infeasible rather than forgotten.
"""

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from botorch.exceptions.warnings import (
    BadInitialCandidatesWarning,
    NumericsWarning,
    OptimizationWarning,
)
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.input import ChainedInputTransform, InputTransform, Normalize, Warp
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from linear_operator.utils.warnings import NumericalWarning

from voltlab.planners._errors import PlannerInputError
from voltlab.planners._problem import Problem
from voltlab.planners._records import Result
from voltlab.planners._space import SearchSpace

FAILURE_THRESHOLD = 0.5
"""A point counts as feasible when its predicted failure indicator is at most this."""

WARP_CONCENTRATION_PRIOR = (0.0, 0.75**0.5)
"""LogNormal (loc, scale) prior on both Kumaraswamy concentrations of an input warping: centred
on the identity, as in BoTorch's input-warping tutorial."""


@contextmanager
def quiet_numerics() -> Iterator[None]:
    """Silence BoTorch/GPyTorch's routine numerical notices (jitter added, optimiser restarts).

    Used only around model fitting and acquisition optimisation, where these are expected.
    """
    with warnings.catch_warnings():
        for category in (
            NumericalWarning,
            NumericsWarning,
            BadInitialCandidatesWarning,
            OptimizationWarning,
            RuntimeWarning,
        ):
            warnings.simplefilter("ignore", category)
        yield


@dataclass(frozen=True)
class TrainingData:
    """Encoded history. Shapes: ``x_ok`` n_ok x d, ``y`` n_ok x (M + C), ``x_all`` n x d,
    ``failed`` n x 1 (1.0 for a failed experiment)."""

    x_ok: torch.Tensor
    y: torch.Tensor
    x_all: torch.Tensor
    failed: torch.Tensor

    @property
    def any_failed(self) -> bool:
        return bool(self.failed.any())


def training_data(problem: Problem, history: tuple[Result, ...]) -> TrainingData:
    """Encode ``history`` (already validated) into tensors, float64."""
    dim = problem.space.dim
    x_all = torch.tensor(
        [problem.space.encode(r.parameters) for r in history], dtype=torch.float64
    ).reshape(-1, dim)
    failed = torch.tensor([[float(r.failed)] for r in history], dtype=torch.float64).reshape(-1, 1)
    ok = [r for r in history if not r.failed]
    rows = [
        [o.sign * r.objectives[o.name] for o in problem.objectives]
        + [r.constraints[c.name] for c in problem.constraints]
        for r in ok
    ]
    width = len(problem.objectives) + len(problem.constraints)
    y = torch.tensor(rows, dtype=torch.float64).reshape(-1, width)
    return TrainingData(x_ok=x_all[failed[:, 0] == 0], y=y, x_all=x_all, failed=failed)


class PhysicalInputs(InputTransform):
    """Maps encoded cube points (``... x dim``) to the model inputs (``... x model_dim``).

    See :meth:`voltlab.planners.SearchSpace.to_model`: the GPs compare decoded compositions,
    not stick-breaking coordinates.
    """

    transform_on_train = True
    transform_on_eval = True
    transform_on_fantasize = True

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        return self.space.to_model(X)


def _gp(
    space: SearchSpace,
    x: torch.Tensor,
    y: torch.Tensor,
    noise_variance: float | None = None,
    warp: bool = False,
) -> SingleTaskGP:
    """A GP on ``x`` (n x dim) and ``y`` (n x 1); the noise is inferred unless its variance is
    known (in ``y``'s units squared). With ``warp`` each numeric input is warped by a learnt
    Kumaraswamy CDF, so one stationary kernel can fit a function that varies fast in part of
    a knob's range and slowly elsewhere."""
    width = space.model_dim
    bounds = torch.stack([torch.zeros(width), torch.ones(width)]).to(x)
    steps: dict[str, InputTransform] = {
        "physical": PhysicalInputs(space),
        "normalize": Normalize(d=width, bounds=bounds),
    }
    numeric = space.numeric_model_columns
    if warp and numeric:
        loc, scale = WARP_CONCENTRATION_PRIOR
        steps["warp"] = Warp(
            d=width,
            indices=numeric,
            bounds=bounds,
            concentration1_prior=LogNormalPrior(loc, scale),
            concentration0_prior=LogNormalPrior(loc, scale),
        )
    y_var = None if noise_variance is None else torch.full_like(y, noise_variance)
    return SingleTaskGP(
        x,
        y,
        train_Yvar=y_var,
        input_transform=ChainedInputTransform(**steps),
        outcome_transform=Standardize(m=1),
    )


Hyperparameters = dict[str, Any]
"""A GP's learnt parameters (raw, unconstrained values) by name, as nested lists: JSON-ready."""


def hyperparameters(model: ModelListGP) -> list[Hyperparameters]:
    """The learnt parameters of each GP of ``model``, in order (see :func:`fit_models`)."""
    return [
        {name: value.detach().tolist() for name, value in gp.named_parameters()}
        for gp in model.models
    ]


def _start_from(gp: SingleTaskGP, saved: Mapping[str, Any]) -> None:
    """Set ``gp``'s parameters to the ``saved`` values whose names and shapes match.

    Values that are not numbers, have another shape or are not finite (a hand-edited or
    damaged state) are skipped: those parameters start from their defaults.
    """
    current = dict(gp.named_parameters())
    with torch.no_grad():
        for name, value in saved.items():
            parameter = current.get(name)
            try:
                start = torch.tensor(value, dtype=torch.float64)
            except (TypeError, ValueError, RuntimeError):
                continue
            if (
                parameter is not None
                and parameter.shape == start.shape
                and bool(torch.isfinite(start).all())
            ):
                parameter.copy_(start)


def fit_models(
    space: SearchSpace,
    data: TrainingData,
    noise_variances: Sequence[float | None] | None = None,
    max_iterations: int | None = None,
    warp: bool = False,
    starts: Sequence[Mapping[str, Any]] = (),
) -> ModelListGP:
    """One SingleTaskGP per outcome column (plus the failure indicator if any failed), fitted.

    ``noise_variances`` gives per outcome column a known observation-noise variance, or None to
    infer it. ``max_iterations`` caps L-BFGS-B on each marginal likelihood (None: BoTorch's
    default, run to convergence). ``warp`` learns an input warping per GP (see ``_gp``).
    ``starts`` holds, per GP in the same order, parameters to start L-BFGS-B from (a previous
    fit's :func:`hyperparameters`; GPs beyond its length start from their defaults): a history
    that grew by a few points is fitted in a fraction of the steps.
    Raises BoTorch/GPyTorch errors (``ModelFittingError``, ``NotPSDError``) for the caller's
    fallback.
    """
    width = data.y.shape[-1]
    variances = list(noise_variances) if noise_variances is not None else [None] * width
    if len(variances) != width:
        raise PlannerInputError(
            "noise_variances", f"has {len(variances)} entries for {width} outcomes"
        )
    models = [_gp(space, data.x_ok, data.y[:, j : j + 1], variances[j], warp) for j in range(width)]
    if data.any_failed:
        models.append(_gp(space, data.x_all, data.failed, warp=warp))
    for model, saved in zip(models, starts, strict=False):
        _start_from(model, saved)
    options = {} if max_iterations is None else {"options": {"maxiter": max_iterations}}
    with quiet_numerics():
        for model in models:
            fit_gpytorch_mll(
                ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs=options
            )
    return ModelListGP(*models)


def constraint_callables(
    problem: Problem, data: TrainingData
) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """BoTorch outcome constraints on samples ``Z`` (``... x (M + C [+1])``), <= 0 feasible."""
    first = len(problem.objectives)
    callables: list[Callable[[torch.Tensor], torch.Tensor]] = []
    for j, constraint in enumerate(problem.constraints):
        column = first + j
        if constraint.lower is not None:
            callables.append(lambda z, c=column, b=constraint.lower: b - z[..., c])
        if constraint.upper is not None:
            callables.append(lambda z, c=column, b=constraint.upper: z[..., c] - b)
    if data.any_failed:
        column = first + len(problem.constraints)
        callables.append(lambda z, c=column: z[..., c] - FAILURE_THRESHOLD)
    return callables


def observed_feasible(problem: Problem, data: TrainingData) -> torch.Tensor:
    """Mask (n_ok,) of successful observations whose measured constraints are all satisfied."""
    first = len(problem.objectives)
    mask = torch.ones(data.y.shape[0], dtype=torch.bool)
    for j, constraint in enumerate(problem.constraints):
        values = data.y[:, first + j]
        slack = torch.tensor([constraint.slack(float(v)) for v in values], dtype=torch.float64)
        mask &= slack <= 0
    return mask
