"""The truth API: noise-free objectives, and a true Pareto front that nothing on the grid beats."""

import numpy as np
import pytest

from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.truth import (
    MIN_PURITY,
    REFERENCE_POINT,
    hypervolume,
    pareto_mask,
    pareto_truth,
    recipe_grid,
    truth,
)

NMC811 = Recipe(
    ni=0.8, mn=0.1, co=0.1, li_excess=0.03, calcination_temperature_c=800, calcination_time_h=10
)


def test_truth_is_noise_free_and_trades_off() -> None:
    high_ni = truth(NMC811)
    assert truth(NMC811) == high_ni
    low_ni = truth(
        NMC811.model_copy(
            update={"ni": 0.4, "mn": 0.3, "co": 0.3, "calcination_temperature_c": 900}
        )
    )
    assert high_ni.capacity_mah_g > low_ni.capacity_mah_g
    assert high_ni.retention_100 < low_ni.retention_100
    assert high_ni.cost_usd_kg < low_ni.cost_usd_kg
    doped = truth(NMC811.model_copy(update={"dopant": Dopant.AL, "dopant_fraction": 0.02}))
    assert doped.retention_100 > high_ni.retention_100
    assert high_ni.feasible and high_ni.layered_fraction >= MIN_PURITY


def test_underfired_recipe_is_infeasible() -> None:
    raw = truth(
        NMC811.model_copy(update={"calcination_temperature_c": 650, "calcination_time_h": 2})
    )
    assert not raw.feasible


def test_hypervolume_of_known_sets() -> None:
    ref = (0.0, 0.0, 0.0)
    assert hypervolume(np.array([[1.0, 1.0, 1.0]]), ref) == pytest.approx(1.0)
    two = np.array([[1.0, 1.0, 2.0], [2.0, 1.0, 1.0]])
    assert hypervolume(two, ref) == pytest.approx(3.0)
    assert hypervolume(np.array([[-1.0, 1.0, 1.0]]), ref) == 0.0


def test_pareto_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=(3000, 3))
    mask = pareto_mask(y, chunk=500)
    dominated = [bool(((y >= row).all(axis=1) & (y > row).any(axis=1)).any()) for row in y]
    assert mask.tolist() == [not d for d in dominated]


def test_true_front_dominates_every_feasible_grid_point() -> None:
    coarse = pareto_truth(3)
    assert coarse.evaluated == len(recipe_grid(3))
    assert len(coarse.front) == len(coarse.recipes) > 10
    assert coarse.hypervolume > 0
    # Recomputing the objectives of the front's recipes gives the front itself.
    again = np.array([truth(r).as_maximisation() for r in coarse.recipes])
    np.testing.assert_allclose(again, coarse.front)
    # Any subset of the front has no more hypervolume than the whole front.
    assert hypervolume(coarse.front[::2]) <= coarse.hypervolume
    assert (coarse.front > np.array(REFERENCE_POINT)).all()
