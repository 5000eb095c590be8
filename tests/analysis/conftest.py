"""Simulated XRD patterns with their ground truth, shared by the XRD analysis tests."""

from dataclasses import dataclass

import numpy as np
import pytest

from voltlab.analysis.xrd import LayeredComposition, ReferenceLibrary, default_library
from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.product import Product, make_product
from voltlab.simulated_hardware.world.xrd import simulate_pattern

GRID = np.arange(10.0, 80.0 + 1e-9, 0.02)

RECIPES = {
    "clean_nmc811": Recipe(
        ni=0.8,
        mn=0.1,
        co=0.1,
        li_excess=0.03,
        calcination_temperature_c=780.0,
        calcination_time_h=10.0,
    ),
    "under_fired": Recipe(
        ni=0.4,
        mn=0.3,
        co=0.3,
        li_excess=0.0,
        calcination_temperature_c=660.0,
        calcination_time_h=2.0,
    ),
    "over_fired_high_mixing": Recipe(
        ni=0.9,
        mn=0.05,
        co=0.05,
        li_excess=0.0,
        calcination_temperature_c=1000.0,
        calcination_time_h=20.0,
        dopant=Dopant.MG,
        dopant_fraction=0.02,
    ),
}


@dataclass(frozen=True)
class Sample:
    product: Product
    counts: np.ndarray
    library: ReferenceLibrary


def library_for(recipe: Recipe) -> ReferenceLibrary:
    doped = recipe.dopant is not Dopant.NONE
    return default_library(
        LayeredComposition(
            recipe.ni,
            recipe.mn,
            recipe.co,
            recipe.dopant.value if doped else None,
            recipe.dopant_fraction if doped else 0.0,
        )
    )


@pytest.fixture(scope="session")
def samples() -> dict[str, Sample]:
    """One batch and its 10-80 degree pattern (1 s per 0.02 degree step) per recipe."""
    out = {}
    for i, (name, recipe) in enumerate(RECIPES.items()):
        rng = np.random.default_rng(100 + i)
        product = make_product(recipe, rng)
        out[name] = Sample(product, simulate_pattern(product, GRID, 1.0, rng), library_for(recipe))
    return out
