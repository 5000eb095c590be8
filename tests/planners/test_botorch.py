"""The BoTorch planner on small problems: suggestions, reasons, fallbacks, pending, restore."""

import json
import logging
import math

import pytest
import torch
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.errors import NotPSDError

from tests.planners.conftest import FAST, nmc_result, toy_result
from voltlab.planners import (
    BoTorchPlanner,
    CategoricalParameter,
    Objective,
    PlannerInputError,
    Problem,
    Result,
    SearchSpace,
    SobolPlanner,
    _botorch,
    planner_from_json,
)

SEED_POINTS = 8


def _told(
    problem: Problem, make: object, n: int = SEED_POINTS, **options: object
) -> BoTorchPlanner:
    planner = BoTorchPlanner(problem, seed=5, options=FAST.model_copy(update=options))
    planner.tell([make(s.parameters) for s in SobolPlanner(problem, seed=1).ask(n)])
    return planner


def test_model_suggestions_are_feasible_and_explained(toy_problem: Problem) -> None:
    planner = _told(toy_problem, toy_result)
    suggestions = planner.ask(2)
    assert len(suggestions) == 2
    for suggestion in suggestions:
        toy_problem.space.check_point(suggestion.parameters)
        reason = suggestion.reason
        assert reason.strategy == "qlognehvi"
        assert reason.acquisition_value is not None and math.isfinite(reason.acquisition_value)
        assert set(reason.predicted) == {"f", "g", "c"}
        assert all(p.std >= 0 for p in reason.predicted.values())
        # A failure was told (x > 0.85), so the failure indicator is modelled.
        assert reason.failure_risk is not None and 0 <= reason.failure_risk <= 1
    # The predicted means are in the objectives' own units and directions (g is minimised >= 0).
    assert suggestions[0].reason.predicted["g"].mean > -0.5


def test_failed_region_is_learnt_as_risky(toy_problem: Problem) -> None:
    planner = _told(toy_problem, toy_result, n=10)
    assert any(r.failed for r in planner.history)
    data = _botorch.training_data(toy_problem, planner.history)
    model = _botorch.fit_models(toy_problem.space, data)
    inside, outside = torch.tensor([[0.97, 0.5]]), torch.tensor([[0.2, 0.5]])
    with torch.no_grad():
        risk = [float(model.posterior(x.double()).mean[0, -1]) for x in (inside, outside)]
    assert risk[0] > 0.5 > risk[1]


def test_simplex_and_categorical_suggestions_are_exact(nmc_problem: Problem) -> None:
    planner = _told(nmc_problem, nmc_result, n=10, min_observations=10)
    for suggestion in planner.ask(2):
        point = suggestion.parameters
        assert suggestion.reason.strategy == "qlognehvi"
        assert abs(math.fsum(point[n] for n in ("ni", "mn", "co")) - 1.0) < 1e-9
        nmc_problem.space.check_point(point)
        assert point["dopant"] in ("none", "Al", "Mg")


def test_restored_planner_asks_the_same_next_points(toy_problem: Problem) -> None:
    """Its fits start where the original's last fit ended: the parameters are in the state."""
    planner = _told(toy_problem, toy_result)
    planner.ask(1)
    saved = json.loads(planner.to_json())["hyperparameters"]
    assert len(saved) == 4  # two objectives, the constraint, the failure indicator
    assert all("covar_module.raw_lengthscale" in gp for gp in saved)
    restored = planner_from_json(planner.to_json())
    assert isinstance(restored, BoTorchPlanner)
    assert restored.options == planner.options
    assert json.loads(restored.to_json())["hyperparameters"] == saved
    assert [s.parameters for s in restored.ask(1)] == [s.parameters for s in planner.ask(1)]


def test_damaged_saved_parameters_are_skipped(toy_problem: Problem) -> None:
    """A hand-edited state (null, text, wrong shape, infinite) fits from the defaults instead."""
    planner = _told(toy_problem, toy_result)
    planner.ask(1)
    state = json.loads(planner.to_json())
    damaged = {"covar_module.raw_lengthscale": None, "mean_module.raw_constant": "high"}
    state["hyperparameters"] = [
        damaged,
        {"covar_module.raw_lengthscale": [1.0, 2.0, 3.0]},
        {"covar_module.raw_lengthscale": [[1e400, 0.0]]},
    ]
    restored = planner_from_json(json.dumps(state))
    (suggestion,) = restored.ask(1)
    assert suggestion.reason.strategy == "qlognehvi"


def test_restored_planner_with_categorical_asks_the_same_next_points(
    nmc_problem: Problem,
) -> None:
    """The categorical levels' shared optimiser run draws from the per-ask seeded generator."""
    planner = _told(nmc_problem, nmc_result, n=10, min_observations=10)
    restored = planner_from_json(planner.to_json())
    ours, theirs = planner.ask(2), restored.ask(2)
    assert [s.reason.strategy for s in ours] == ["qlognehvi"] * 2
    assert [s.parameters for s in theirs] == [s.parameters for s in ours]


def test_never_proposes_a_pending_point(toy_problem: Problem) -> None:
    """Regression for BoTorch issue 2983: sequential asks with pending points repeat them."""
    planner = _told(toy_problem, toy_result)
    pending: list[dict] = []
    for _ in range(3):
        (suggestion,) = planner.ask(1, pending=pending)
        assert suggestion.reason.strategy == "qlognehvi"
        new = torch.tensor(toy_problem.space.encode(suggestion.parameters))
        for point in pending:
            assert torch.dist(new, torch.tensor(toy_problem.space.encode(point))) > 1e-6
        pending.append(suggestion.parameters)


def test_a_repeated_optimum_gives_way_to_the_next_restart(
    toy_problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    planner = _told(toy_problem, toy_result)
    pending, runner_up = {"x": 0.25, "y": 0.5}, {"x": 0.75, "y": -1.0}
    ends = torch.tensor([toy_problem.space.encode(p) for p in (pending, runner_up)])
    monkeypatch.setattr(BoTorchPlanner, "_optimise", lambda self, acqf: ends.double())
    (suggestion,) = planner.ask(1, pending=[pending])
    assert suggestion.reason.strategy == "qlognehvi"
    assert suggestion.parameters == pytest.approx(runner_up)


def test_a_repeated_point_is_replaced(
    toy_problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If every restart lands on a pending point anyway, a fresh space-filling point is used."""
    planner = _told(toy_problem, toy_result)
    pending = {"x": 0.25, "y": 0.5}
    encoded = torch.tensor([toy_problem.space.encode(pending)] * 2, dtype=torch.float64)
    monkeypatch.setattr(BoTorchPlanner, "_optimise", lambda self, acqf: encoded)
    (suggestion,) = planner.ask(1, pending=[pending])
    assert suggestion.reason.strategy == "sobol"
    assert "every optimiser restart repeats a pending or observed point" in suggestion.reason.note
    assert suggestion.parameters != pending


def test_too_few_results_fall_back_to_sobol_with_a_warning(
    toy_problem: Problem, caplog: pytest.LogCaptureFixture
) -> None:
    planner = _told(toy_problem, toy_result, n=3)
    with caplog.at_level(logging.WARNING, logger="voltlab.planners"):
        suggestions = planner.ask(2)
    assert [s.reason.strategy for s in suggestions] == ["sobol", "sobol"]
    assert "fewer than the 6 needed" in suggestions[0].reason.note
    assert "falls back to Sobol" in caplog.text


def test_fallback_skips_points_of_a_same_seed_sobol_start(
    toy_problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A campaign started from SobolPlanner(seed) points is not offered them again."""
    start = SobolPlanner(toy_problem, seed=5).ask(8)
    planner = BoTorchPlanner(toy_problem, seed=5, options=FAST)
    planner.tell([toy_result(s.parameters) for s in start[:3]])
    told = [s.parameters for s in start[:3]]
    too_few = planner.ask(2)
    assert [s.parameters for s in too_few] == [s.parameters for s in start[3:5]]

    planner.tell([toy_result(s.parameters) for s in start[3:8]])
    pending = {"x": 0.25, "y": 0.5}
    encoded = torch.tensor([toy_problem.space.encode(start[3].parameters)], dtype=torch.float64)
    monkeypatch.setattr(BoTorchPlanner, "_optimise", lambda self, acqf: encoded)
    (replaced,) = planner.ask(1, pending=[pending])
    assert replaced.reason.strategy == "sobol"
    assert replaced.parameters not in [*told, *(s.parameters for s in start), pending]


def test_fallback_in_an_exhausted_discrete_space_repeats_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    problem = Problem(
        space=SearchSpace(parameters=[CategoricalParameter(name="d", levels=["a", "b"])]),
        objectives=[Objective(name="f"), Objective(name="g")],
    )
    planner = BoTorchPlanner(problem, options=FAST)
    planner.tell([Result(parameters={"d": d}, objectives={"f": 1.0, "g": 2.0}) for d in "ab"])
    with caplog.at_level(logging.WARNING, logger="voltlab.planners"):
        (suggestion,) = planner.ask(1)
    assert suggestion.parameters["d"] in {"a", "b"}
    assert "fewer than 1 new points" in caplog.text


def test_all_failed_history_falls_back(toy_problem: Problem) -> None:
    planner = BoTorchPlanner(toy_problem, options=FAST)
    planner.tell([Result(parameters={"x": 0.1 * i, "y": 0.0}, failed=True) for i in range(8)])
    (suggestion,) = planner.ask(1)
    assert suggestion.reason.strategy == "sobol"
    assert "0 successful results" in suggestion.reason.note


def test_model_error_falls_back_instead_of_crashing(
    toy_problem: Problem, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def not_psd(*_: object, **__: object) -> None:
        raise NotPSDError("matrix not positive definite")

    planner = _told(toy_problem, toy_result)
    monkeypatch.setattr(_botorch, "fit_models", not_psd)
    with caplog.at_level(logging.WARNING, logger="voltlab.planners"):
        (suggestion,) = planner.ask(1)
    assert suggestion.reason.strategy == "sobol"
    assert "NotPSDError" in suggestion.reason.note
    assert "NotPSDError" in caplog.text


def test_a_model_error_makes_the_next_fit_start_from_the_defaults(
    toy_problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    planner = _told(toy_problem, toy_result, warm_start=True)
    planner.ask(1)
    fit = _botorch.fit_models
    starts: list[object] = []

    def failing_once(*args: object, **kwargs: object) -> object:
        starts.append(kwargs["starts"])
        if len(starts) == 1:
            raise NotPSDError("matrix not positive definite")
        return fit(*args, **kwargs)

    monkeypatch.setattr(_botorch, "fit_models", failing_once)
    assert planner.ask(1)[0].reason.strategy == "sobol"
    assert planner.ask(1)[0].reason.strategy == "qlognehvi"
    assert len(starts[0]) == 4 and starts[1] == []


def test_parego_option(toy_problem: Problem) -> None:
    planner = _told(toy_problem, toy_result, acquisition="qlognparego")
    suggestions = planner.ask(2)
    assert [s.reason.strategy for s in suggestions] == ["qlognparego"] * 2
    assert suggestions[0].parameters != suggestions[1].parameters


def test_given_reference_point_is_used(toy_problem: Problem) -> None:
    problem = toy_problem.model_copy(update={"reference_point": {"f": -1.0, "g": 3.0}})
    planner = _told(problem, toy_result)
    data = _botorch.training_data(problem, planner.history)
    assert planner._reference_point(data).tolist() == [-1.0, -3.0]


def test_single_objective_is_refused(toy_problem: Problem) -> None:
    problem = toy_problem.model_copy(update={"objectives": [Objective(name="f")]})
    with pytest.raises(PlannerInputError, match="at least two objectives"):
        BoTorchPlanner(problem)


def test_known_noise_is_used_instead_of_inferred(toy_problem: Problem) -> None:
    planner = _told(toy_problem, toy_result, noise_std={"f": 0.5})
    data = _botorch.training_data(toy_problem, planner.history)
    model = _botorch.fit_models(toy_problem.space, data, noise_variances=[0.25, None, None])
    fixed, inferred = model.models[0].likelihood, model.models[1].likelihood
    assert isinstance(fixed, FixedNoiseGaussianLikelihood)
    assert not isinstance(inferred, FixedNoiseGaussianLikelihood)
    # Noise variances are kept in standardised units: 0.25 / var(f) for every observation.
    expected = 0.25 / float(data.y[:, 0].var())
    assert torch.allclose(fixed.noise, torch.full_like(fixed.noise, expected))
    (suggestion,) = planner.ask(1)
    assert suggestion.reason.strategy == "qlognehvi"


def test_noise_for_an_unknown_outcome_is_refused(toy_problem: Problem) -> None:
    with pytest.raises(PlannerInputError, match=r"options\.noise_std\.h"):
        BoTorchPlanner(toy_problem, options=FAST.model_copy(update={"noise_std": {"h": 1.0}}))


def test_noise_variances_must_match_the_outcomes(toy_problem: Problem) -> None:
    planner = _told(toy_problem, toy_result)
    data = _botorch.training_data(toy_problem, planner.history)
    with pytest.raises(PlannerInputError, match="noise_variances"):
        _botorch.fit_models(toy_problem.space, data, noise_variances=[1.0])


def test_fit_iterations_can_be_capped(toy_problem: Problem) -> None:
    """One L-BFGS-B step leaves the likelihood below the converged fit's."""
    planner = _told(toy_problem, toy_result, n=12)
    data = _botorch.training_data(toy_problem, planner.history)

    def log_likelihood(max_iterations: int | None) -> float:
        model = _botorch.fit_models(toy_problem.space, data, max_iterations=max_iterations)
        gp = model.models[0]
        gp.train()
        mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
        with torch.no_grad():
            return float(mll(gp(*gp.train_inputs), gp.train_targets))

    assert log_likelihood(1) < log_likelihood(None) - 1e-3


def test_a_warm_started_fit_begins_at_the_previous_optimum(toy_problem: Problem) -> None:
    """One L-BFGS-B step from the fit on 12 points nearly matches the converged fit on 14,
    where one step from the defaults is far below it."""
    planner = _told(toy_problem, toy_result, n=14)
    fewer = _botorch.training_data(toy_problem, planner.history[:12])
    data = _botorch.training_data(toy_problem, planner.history)
    previous = _botorch.hyperparameters(_botorch.fit_models(toy_problem.space, fewer))

    def log_likelihoods(**fit: object) -> list[float]:
        values = []
        for gp in _botorch.fit_models(toy_problem.space, data, **fit).models:
            gp.train()
            mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
            with torch.no_grad():
                values.append(float(mll(gp(*gp.train_inputs), gp.train_targets)))
        return values

    converged = log_likelihoods()
    warm = log_likelihoods(max_iterations=1, starts=previous)
    cold = log_likelihoods(max_iterations=1)
    assert all(w > c - 0.05 for w, c in zip(warm, converged, strict=True))
    assert sum(converged) - sum(cold) > 0.1


def test_numeric_inputs_are_warped_and_the_warping_is_learnt(nmc_problem: Problem) -> None:
    planner = _told(nmc_problem, nmc_result, n=10, min_observations=10)
    data = _botorch.training_data(nmc_problem, planner.history)
    warped = _botorch.fit_models(nmc_problem.space, data, warp=True)
    for gp in warped.models:
        warp = gp.input_transform["warp"]
        assert warp.indices.tolist() == nmc_problem.space.numeric_model_columns
        learnt = torch.cat([warp.concentration0, warp.concentration1]).detach()
        assert not torch.allclose(learnt, torch.ones_like(learnt))  # moved off the identity
    plain = _botorch.fit_models(nmc_problem.space, data)
    assert all("warp" not in gp.input_transform for gp in plain.models)


@pytest.mark.parametrize(("input_warping", "warm_start"), [(True, True), (False, False)])
def test_the_planner_warps_and_warm_starts_as_configured(
    nmc_problem: Problem, input_warping: bool, warm_start: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    planner = _told(
        nmc_problem,
        nmc_result,
        n=10,
        min_observations=10,
        input_warping=input_warping,
        warm_start=warm_start,
    )
    fit = _botorch.fit_models
    calls: list[tuple[bool, int]] = []

    def recording(*args: object, **kwargs: object) -> object:
        calls.append((bool(kwargs["warp"]), len(kwargs["starts"])))
        return fit(*args, **kwargs)

    monkeypatch.setattr(_botorch, "fit_models", recording)
    assert [s.reason.strategy for s in planner.ask(1) + planner.ask(1)] == ["qlognehvi"] * 2
    assert calls == [(input_warping, 0), (input_warping, 3 if warm_start else 0)]
