"""The model-based planner: qLogNEHVI (or qLogNParEGO) over independent GPs, with fallbacks.

Per ask: fit one SingleTaskGP per outcome on the encoded history (starting from the previous
ask's fitted parameters), build the acquisition with the
outcome constraints, the failure indicator and the pending points, and choose candidates one at a
time (sequential greedy: each chosen candidate joins X_pending for the next). The simplex is a box
in the encoded cube (bounded stick-breaking), so L-BFGS-B does the optimisation; categorical
levels share one optimiser run (see :mod:`voltlab.planners._mixed`). Everything random is seeded
from (seed, number of asks), so a planner restored from JSON makes the same next suggestion as
the original.
"""

import logging
from typing import Any, Literal

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.exceptions.errors import ModelFittingError
from botorch.models.model import Model
from botorch.optim import optimize_acqf
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.utils.multi_objective.hypervolume import infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated
from botorch.utils.sampling import sample_simplex
from linear_operator.utils.errors import NanError, NotPSDError
from pydantic import Field, PositiveFloat

from voltlab.planners._base import HistoryPlanner, PlannerState
from voltlab.planners._errors import PlannerInputError
from voltlab.planners._mixed import optimise_mixed
from voltlab.planners._models import (
    Hyperparameters,
    TrainingData,
    constraint_callables,
    fit_models,
    hyperparameters,
    observed_feasible,
    quiet_numerics,
    training_data,
)
from voltlab.planners._parameters import FrozenModel
from voltlab.planners._problem import Problem
from voltlab.planners._records import Prediction, Reason, Suggestion
from voltlab.planners._space import Point

logger = logging.getLogger(__name__)

JOINT_PENDING = 1
"""Pending points qLogNEHVI evaluates jointly with each candidate before it redoes its box
decompositions (BoTorch's ``max_iep``). One joint point costs ~1.5-2x an evaluation but saves a
decomposition per MC sample (~50 ms each with three objectives); more grows as 2^k."""

FALLBACK_DRAWS_PER_POINT = 64
"""Sobol draws per requested point before a fallback gives up avoiding repeats."""

MODEL_ERRORS = (ModelFittingError, NotPSDError, NanError)
"""Failures of fitting or optimising that make the planner fall back to Sobol points."""


class BoTorchOptions(FrozenModel):
    """Knobs of :class:`BoTorchPlanner`; the defaults are BoTorch's tutorial settings, plus
    input warping.

    ``min_observations`` defaults to ``2 * (d + 1)`` successful results (d: encoded dimension);
    below it the planner returns Sobol points. ``duplicate_tolerance`` is the smallest distance
    (encoded cube, Euclidean) a candidate may have from a pending, observed or chosen point.
    ``fit_max_iterations`` caps L-BFGS-B on each GP's marginal likelihood (None: to
    convergence). ``noise_std`` gives, per outcome name (objective or constraint, in its units),
    a known observation-noise standard deviation; outcomes not named have their noise inferred.
    ``input_warping`` learns a Kumaraswamy warping of every numeric input with each GP
    (BoTorch's ``Warp``), so a response that changes fast in part of a knob's range is fitted
    without shrinking every length scale; it costs about 2x per ask on larger histories.
    ``warm_start`` starts each GP's fit from the previous ask's fitted parameters (kept in the
    JSON state) instead of the defaults, so later asks of a campaign fit in fewer steps. It is
    off by default: on noise-free DTLZ2 it kept the fits near an early, poor optimum (final
    hypervolume 0.295 against 0.398 from the defaults, seed 0).
    """

    acquisition: Literal["qlognehvi", "qlognparego"] = "qlognehvi"
    mc_samples: int = Field(default=128, ge=1)
    num_restarts: int = Field(default=10, ge=1)
    raw_samples: int = Field(default=512, ge=1)
    max_iterations: int = Field(default=200, ge=1)
    timeout_sec: float | None = Field(default=None, gt=0)
    min_observations: int | None = Field(default=None, ge=1)
    duplicate_tolerance: float = Field(default=1e-6, ge=0)
    fit_max_iterations: int | None = Field(default=None, ge=1)
    noise_std: dict[str, PositiveFloat] = Field(default_factory=dict)
    input_warping: bool = True
    warm_start: bool = False


class BoTorchPlanner(HistoryPlanner):
    """Multi-objective Bayesian optimisation with constraints, failures and pending points."""

    kind = "botorch"

    def __init__(
        self, problem: Problem, seed: int = 0, options: BoTorchOptions | None = None
    ) -> None:
        if len(problem.objectives) < 2:
            raise PlannerInputError(
                "objectives", "multi-objective planning needs at least two objectives"
            )
        super().__init__(problem, seed)
        self.options = options or BoTorchOptions()
        self._fitted: list[Hyperparameters] = []
        outcomes = problem.objective_names + problem.constraint_names
        unknown = sorted(set(self.options.noise_std) - set(outcomes))
        if unknown:
            raise PlannerInputError(
                f"options.noise_std.{unknown[0]}", f"not an outcome of the problem: {outcomes}"
            )

    def _options(self) -> dict[str, Any]:
        return self.options.model_dump()

    def _hyperparameters(self) -> list[Hyperparameters]:
        return self._fitted

    @classmethod
    def _from_state(cls, state: PlannerState) -> "BoTorchPlanner":
        planner = cls(state.problem, seed=state.seed, options=BoTorchOptions(**state.options))
        planner._fitted = state.hyperparameters
        return planner

    @property
    def min_observations(self) -> int:
        return self.options.min_observations or 2 * (self.problem.space.dim + 1)

    def _propose(self, n: int, pending: list[Point]) -> list[Suggestion]:
        data = training_data(self.problem, self.history)
        space = self.problem.space
        running = torch.tensor([space.encode(p) for p in pending], dtype=torch.float64).reshape(
            -1, space.dim
        )
        taken = torch.cat([data.x_all, running])
        n_ok = data.x_ok.shape[0]
        if n_ok < self.min_observations:
            return self._fallback(
                n,
                f"{n_ok} successful results, fewer than the {self.min_observations} needed",
                taken,
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1_000_003 + self._asks)
            try:
                with quiet_numerics():
                    return self._model_suggestions(n, data, running)
            except MODEL_ERRORS as exc:
                self._fitted = []  # the next fit starts from the defaults again
                return self._fallback(n, f"model failed: {type(exc).__name__}: {exc}", taken)

    def _fallback(self, n: int, why: str, taken: torch.Tensor) -> list[Suggestion]:
        """``n`` Sobol points, skipping any that repeat a ``taken`` (encoded, k x d) point.

        The planner's Sobol sequence is the one a :class:`SobolPlanner` with the same seed
        draws, so a campaign started from such points would otherwise be offered them again.
        A space with few distinct points (only integers and categories) can run out of new
        ones; after ``FALLBACK_DRAWS_PER_POINT`` draws per point the repeats are returned.
        """
        logger.warning("planner falls back to Sobol points: %s", why)
        space = self.problem.space
        reason = Reason(strategy="sobol", note=why)
        fresh: list[Suggestion] = []
        repeats: list[Suggestion] = []
        for _ in range(FALLBACK_DRAWS_PER_POINT * n + taken.shape[0]):
            point = space.decode(self._sobol.draw(1)[0].tolist())
            x = torch.tensor([space.encode(point)], dtype=torch.float64)
            repeated = self._repeats(x, taken)
            (repeats if repeated else fresh).append(Suggestion(parameters=point, reason=reason))
            taken = torch.cat([taken, x])
            if len(fresh) == n:
                return fresh
        logger.warning("the search space has fewer than %d new points; some repeat", n)
        return fresh + repeats[: n - len(fresh)]

    def _repeats(self, x: torch.Tensor, taken: torch.Tensor) -> bool:
        """Whether the encoded point ``x`` (1 x d) lies within ``duplicate_tolerance`` of a
        ``taken`` point (k x d, possibly empty)."""
        return bool(
            taken.shape[0] and torch.cdist(x, taken).min() <= self.options.duplicate_tolerance
        )

    def _reference_point(self, data: TrainingData) -> torch.Tensor:
        """Reference point in the signed (maximised) objective space, shape (M,)."""
        if self.problem.reference_point is not None:
            return torch.tensor(
                [o.sign * self.problem.reference_point[o.name] for o in self.problem.objectives],
                dtype=torch.float64,
            )
        objectives = data.y[:, : len(self.problem.objectives)]
        feasible = objectives[observed_feasible(self.problem, data)]
        pool = feasible if feasible.shape[0] else objectives
        return infer_reference_point(pool[is_non_dominated(pool)])

    def _acquisition(
        self, model: Model, data: TrainingData, x_pending: torch.Tensor
    ) -> AcquisitionFunction:
        """The acquisition given ``x_pending`` (k x d) points running or chosen in this ask."""
        n_objectives = len(self.problem.objectives)
        common: dict[str, Any] = {
            "model": model,
            "X_baseline": data.x_ok,
            "sampler": SobolQMCNormalSampler(
                sample_shape=torch.Size([self.options.mc_samples]),
                seed=self.seed * 1_000_003 + self._asks,
            ),
            "objective": IdentityMCMultiOutputObjective(outcomes=list(range(n_objectives))),
            "constraints": constraint_callables(self.problem, data) or None,
            "X_pending": x_pending if x_pending.shape[0] else None,
            "prune_baseline": True,
        }
        if self.options.acquisition == "qlognparego":
            weights = sample_simplex(n_objectives, dtype=torch.float64).squeeze(0)
            return qLogNParEGO(scalarization_weights=weights, **common)
        return qLogNoisyExpectedHypervolumeImprovement(
            ref_point=self._reference_point(data), max_iep=JOINT_PENDING, **common
        )

    def _optimise(self, acqf: AcquisitionFunction) -> torch.Tensor:
        """The optimiser's restart end points, best acquisition value first, shape ``k x d``."""
        dim = self.problem.space.dim
        fixed = self.problem.space.categorical_fixed_features()
        if fixed:
            return optimise_mixed(
                acqf,
                dim,
                fixed,
                num_restarts=self.options.num_restarts,
                raw_samples=self.options.raw_samples,
                max_iterations=self.options.max_iterations,
                timeout_sec=self.options.timeout_sec,
            )
        candidates, values = optimize_acqf(
            acq_function=acqf,
            bounds=torch.stack([torch.zeros(dim), torch.ones(dim)]).to(torch.float64),
            q=1,
            num_restarts=self.options.num_restarts,
            raw_samples=self.options.raw_samples,
            options={"maxiter": self.options.max_iterations},
            timeout_sec=self.options.timeout_sec,
            return_best_only=False,
        )  # restarts x 1 x d, restarts
        return candidates[torch.argsort(values.view(-1), descending=True), 0].detach()

    def _first_new(self, candidates: torch.Tensor, taken: torch.Tensor) -> Point | None:
        """The first of ``candidates`` (k x d) that, once decoded, repeats no ``taken`` point."""
        space = self.problem.space
        for candidate in candidates:
            point = space.decode(candidate.tolist())
            if not self._repeats(torch.tensor([space.encode(point)], dtype=torch.float64), taken):
                return point
        return None

    def _model_suggestions(
        self, n: int, data: TrainingData, running: torch.Tensor
    ) -> list[Suggestion]:
        """Fit, build the acquisition, choose ``n`` points; numerical notices are silenced.

        Sequential greedy: each chosen point becomes pending for the next (qLogNEHVI takes it
        jointly with the candidates or redoes its box decompositions, see ``JOINT_PENDING``).
        qLogNParEGO draws new scalarisation weights for every point, so it is rebuilt each time.
        """
        space = self.problem.space
        outcomes = self.problem.objective_names + self.problem.constraint_names
        noise = [self.options.noise_std.get(name) for name in outcomes]
        model = fit_models(
            space,
            data,
            noise_variances=[None if std is None else std**2 for std in noise],
            max_iterations=self.options.fit_max_iterations,
            warp=self.options.input_warping,
            starts=self._fitted if self.options.warm_start else (),
        )
        self._fitted = hyperparameters(model)
        chosen = torch.empty(0, space.dim, dtype=torch.float64)
        suggestions: list[Suggestion] = []
        acqf: AcquisitionFunction | None = None
        for _ in range(n):
            x_pending = torch.cat([running, chosen])
            if acqf is None or self.options.acquisition == "qlognparego":
                acqf = self._acquisition(model, data, x_pending)
            else:
                acqf.set_X_pending(x_pending)
            taken = torch.cat([data.x_all, running, chosen])
            point = self._first_new(self._optimise(acqf), taken)
            if point is None:
                why = "every optimiser restart repeats a pending or observed point"
                suggestion = self._fallback(1, why, taken)[0]
                x = torch.tensor([space.encode(suggestion.parameters)], dtype=torch.float64)
            else:
                x = torch.tensor([space.encode(point)], dtype=torch.float64)
                suggestion = Suggestion(parameters=point, reason=self._reason(acqf, model, x))
            suggestions.append(suggestion)
            chosen = torch.cat([chosen, x])
        return suggestions

    def _reason(self, acqf: AcquisitionFunction, model: Model, x: torch.Tensor) -> Reason:
        """Acquisition value and posterior mean/std per outcome at ``x`` (1 x d)."""
        with torch.no_grad():
            value = float(acqf(x.unsqueeze(0)))
            posterior = model.posterior(x)
            mean = posterior.mean[0].tolist()
            std = posterior.variance.clamp_min(0).sqrt()[0].tolist()
        predicted = {
            o.name: Prediction(mean=o.sign * mean[j], std=std[j])
            for j, o in enumerate(self.problem.objectives)
        }
        first = len(self.problem.objectives)
        for j, c in enumerate(self.problem.constraints):
            predicted[c.name] = Prediction(mean=mean[first + j], std=std[first + j])
        failure = None
        if len(mean) > first + len(self.problem.constraints):
            failure = min(1.0, max(0.0, mean[-1]))
        return Reason(
            strategy=self.options.acquisition,
            acquisition_value=value,
            predicted=predicted,
            failure_risk=failure,
        )
