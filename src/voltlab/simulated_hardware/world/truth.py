"""Noise-free truth of the cathode world, for benchmarks: objectives of any recipe, and the
true Pareto front and hypervolume of the default campaign from a dense grid over the recipe box.

Default objectives (all as maximisation, BoTorch's convention): initial specific discharge
capacity (mAh/g, C/10), capacity retention after 100 standard cycles (fraction), and the negated
material cost (USD/kg). Constraint: layered-phase weight fraction at least ``MIN_PURITY``.
"""

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning
from botorch.utils.multi_objective.pareto import is_non_dominated

from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.cell_descriptors import (
    cell_descriptors,
    material_cost_usd_per_kg,
)
from voltlab.simulated_hardware.world.product import ideal_product
from voltlab.simulated_hardware.world.retention_table import retention_truth

MIN_PURITY = 0.95
OBJECTIVE_NAMES = ("capacity_mah_g", "retention_100", "neg_cost_usd_kg")
REFERENCE_POINT = (120.0, 0.70, -25.0)
"""Worst acceptable value of each objective; the hypervolume is measured from here."""

# The recipe box of the default campaign.
NI_RANGE = (0.3, 0.95)
LI_EXCESS_RANGE = (0.0, 0.10)
TEMPERATURE_RANGE_C = (650.0, 1000.0)
TIME_RANGE_H = (2.0, 24.0)
DOPANT_RANGE = (0.0, 0.03)


@dataclass(frozen=True)
class Truth:
    """Noise-free outcomes of one recipe."""

    capacity_mah_g: float
    retention_100: float
    cost_usd_kg: float
    layered_fraction: float

    @property
    def feasible(self) -> bool:
        return self.layered_fraction >= MIN_PURITY

    def as_maximisation(self) -> tuple[float, float, float]:
        return (self.capacity_mah_g, self.retention_100, -self.cost_usd_kg)


def truth(recipe: Recipe) -> Truth:
    product = ideal_product(recipe)
    descriptors = cell_descriptors(product)
    return Truth(
        capacity_mah_g=descriptors.specific_capacity_mah_g,
        retention_100=retention_truth(descriptors, cycles=100),
        cost_usd_kg=material_cost_usd_per_kg(recipe),
        layered_fraction=product.layered_fraction,
    )


def recipe_grid(levels: int = 6) -> list[Recipe]:
    """A full-factorial grid over the default box with ``levels`` values per continuous knob
    (Ni gets twice as many), Mn/Co split of the remainder in five steps, every dopant."""
    ni_values = np.linspace(*NI_RANGE, 2 * levels)
    split = np.linspace(0.0, 1.0, 5)
    li = np.linspace(*LI_EXCESS_RANGE, levels)
    temps = np.linspace(*TEMPERATURE_RANGE_C, 2 * levels)
    times = np.geomspace(*TIME_RANGE_H, levels)
    dopings = [(Dopant.NONE, 0.0)] + [
        (d, f) for d in (Dopant.AL, Dopant.MG, Dopant.TI) for f in np.linspace(*DOPANT_RANGE, 4)[1:]
    ]
    recipes = []
    for ni, s, x, t, h, (dopant, frac) in itertools.product(
        ni_values, split, li, temps, times, dopings
    ):
        mn = (1.0 - ni) * s
        recipes.append(
            Recipe(
                ni=float(ni),
                mn=float(mn),
                co=float(1.0 - ni - mn),
                li_excess=float(x),
                calcination_temperature_c=float(t),
                calcination_time_h=float(h),
                dopant=dopant,
                dopant_fraction=float(frac),
            )
        )
    return recipes


@dataclass(frozen=True)
class ParetoTruth:
    """The true front (maximisation form, n x 3) and its hypervolume above REFERENCE_POINT."""

    front: np.ndarray
    recipes: tuple[Recipe, ...]
    hypervolume: float
    evaluated: int


def hypervolume(points: np.ndarray, reference: tuple[float, ...] = REFERENCE_POINT) -> float:
    """Hypervolume (maximisation) of ``points`` (n x m) dominating ``reference``; BoTorch's."""
    ref = torch.tensor(reference, dtype=torch.double)
    y = torch.as_tensor(np.asarray(points, dtype=float), dtype=torch.double).reshape(
        -1, len(reference)
    )
    y = y[(y > ref).all(dim=-1)]
    if len(y) == 0:
        return 0.0
    return float(DominatedPartitioning(ref_point=ref, Y=y).compute_hypervolume())


def pareto_mask(points: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Non-dominated rows of ``points`` (maximisation), filtered chunk by chunk to bound memory."""
    y = torch.as_tensor(points, dtype=torch.double)
    keep = torch.zeros(len(y), dtype=torch.bool)
    front_idx = torch.empty(0, dtype=torch.long)
    for start in range(0, len(y), chunk):
        candidates = torch.cat([front_idx, torch.arange(start, min(start + chunk, len(y)))])
        front_idx = candidates[is_non_dominated(y[candidates])]
    keep[front_idx] = True
    return keep.numpy()


@cache
def pareto_truth(levels: int = 6) -> ParetoTruth:
    """The true Pareto front of the feasible grid recipes (cached per resolution)."""
    recipes = recipe_grid(levels)
    outcomes = [truth(r) for r in recipes]
    feasible = [i for i, o in enumerate(outcomes) if o.feasible]
    y = np.array([outcomes[i].as_maximisation() for i in feasible])
    mask = pareto_mask(y)
    front = y[mask]
    return ParetoTruth(
        front=front,
        recipes=tuple(recipes[i] for i, m in zip(feasible, mask, strict=True) if m),
        hypervolume=hypervolume(front),
        evaluated=len(recipes),
    )
