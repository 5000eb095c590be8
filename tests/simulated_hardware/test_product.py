"""Physics sanity of the recipe -> product -> cell-descriptor world (no servers)."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.cell_descriptors import (
    cell_descriptors,
    material_cost_usd_per_kg,
)
from voltlab.simulated_hardware.world.product import (
    ideal_product,
    make_product,
    optimal_temperature_c,
)


def recipe(**changes: object) -> Recipe:
    base: dict[str, object] = dict(
        ni=0.6,
        mn=0.2,
        co=0.2,
        li_excess=0.03,
        calcination_temperature_c=850.0,
        calcination_time_h=10.0,
    )
    base.update(changes)
    return Recipe.model_validate(base)


def nmc(ni: float, **changes: object) -> Recipe:
    rest = (1.0 - ni) / 2.0
    return recipe(ni=ni, mn=rest, co=1.0 - ni - rest, **changes)


def capacity(r: Recipe) -> float:
    return cell_descriptors(ideal_product(r)).specific_capacity_mah_g


def test_weight_fractions_sum_to_one_and_stay_physical() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        ni = rng.uniform(0.3, 0.95)
        r = nmc(
            ni,
            li_excess=rng.uniform(0, 0.1),
            calcination_temperature_c=rng.uniform(650, 1000),
            calcination_time_h=rng.uniform(2, 24),
        )
        for p in (ideal_product(r), make_product(r, rng)):
            total = p.layered_fraction + p.rocksalt_fraction + p.li2co3_fraction
            assert total == pytest.approx(1.0)
            assert min(p.layered_fraction, p.rocksalt_fraction, p.li2co3_fraction) >= 0.0
            assert 0.0 <= p.cation_mixing <= 0.25
            assert 2.80 < p.lattice_a < 2.92 and 14.0 < p.lattice_c < 14.4
            assert 10.0 < p.crystallite_size_nm < 600.0


def test_crystallites_grow_with_temperature_and_time() -> None:
    sizes_t = [
        ideal_product(recipe(calcination_temperature_c=t)).crystallite_size_nm
        for t in (700, 800, 900, 1000)
    ]
    sizes_h = [
        ideal_product(recipe(calcination_time_h=h)).crystallite_size_nm for h in (2, 6, 12, 24)
    ]
    assert sizes_t == sorted(sizes_t) and sizes_t[-1] > 3 * sizes_t[0]
    assert sizes_h == sorted(sizes_h)


def test_lattice_follows_vegard_between_end_members() -> None:
    lno = ideal_product(
        recipe(ni=1.0, mn=0.0, co=0.0, calcination_temperature_c=optimal_temperature_c(1.0))
    )
    lco = ideal_product(
        recipe(ni=0.0, mn=0.0, co=1.0, calcination_temperature_c=optimal_temperature_c(0.0))
    )
    assert lno.lattice_a > lco.lattice_a and lno.lattice_c > lco.lattice_c
    assert lco.lattice_a == pytest.approx(2.816, abs=0.01)
    assert lno.lattice_a == pytest.approx(2.878, abs=0.02)


def test_under_and_over_firing_make_impurities() -> None:
    r_ok = nmc(0.8, calcination_temperature_c=optimal_temperature_c(0.8))
    under = ideal_product(nmc(0.8, calcination_temperature_c=650, calcination_time_h=2))
    over = ideal_product(nmc(0.8, calcination_temperature_c=1000))
    good = ideal_product(r_ok)
    assert under.li2co3_fraction > 0.2 > good.li2co3_fraction
    assert over.rocksalt_fraction > 0.1 > good.rocksalt_fraction
    assert over.cation_mixing > good.cation_mixing


def test_capacity_rises_with_nickel_up_to_the_mixing_limit() -> None:
    caps = [
        capacity(nmc(ni, calcination_temperature_c=optimal_temperature_c(ni)))
        for ni in (0.33, 0.5, 0.6, 0.8)
    ]
    assert caps == sorted(caps)
    assert 150 < caps[0] < 180 and 185 < caps[-1] < 215


def test_nickel_trades_capacity_against_degradation_and_cobalt_against_cost() -> None:
    low, high = nmc(0.33, calcination_temperature_c=900), nmc(0.9, calcination_temperature_c=780)
    d_low, d_high = cell_descriptors(ideal_product(low)), cell_descriptors(ideal_product(high))
    assert d_high.specific_capacity_mah_g > d_low.specific_capacity_mah_g
    assert d_high.lam_rate_factor > 2 * d_low.lam_rate_factor
    assert material_cost_usd_per_kg(high) < material_cost_usd_per_kg(low)


def test_dopant_relieves_cracking_with_an_interior_optimum() -> None:
    lam = {
        f: cell_descriptors(
            ideal_product(nmc(0.8, dopant=Dopant.AL, dopant_fraction=f))
        ).lam_rate_factor
        for f in (0.0, 0.01, 0.02, 0.03)
    }
    undoped = cell_descriptors(ideal_product(nmc(0.8))).lam_rate_factor
    assert lam[0.02] < lam[0.01] < undoped
    assert lam[0.03] > lam[0.02]
    cap_doped = capacity(nmc(0.8, dopant=Dopant.AL, dopant_fraction=0.03))
    assert cap_doped < capacity(nmc(0.8))


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("calcination_temperature_c", 650.0, 1000.0),
        ("calcination_time_h", 2.0, 24.0),
        ("li_excess", 0.0, 0.1),
    ],
)
def test_capacity_optimum_lies_inside_the_box(field: str, low: float, high: float) -> None:
    base = dict(calcination_temperature_c=780.0, calcination_time_h=8.0, li_excess=0.02)

    def negative_capacity(x: float) -> float:
        return -capacity(nmc(0.85, **(base | {field: x})))

    best = minimize_scalar(negative_capacity, bounds=(low, high), method="bounded")
    margin = 0.02 * (high - low)
    assert low + margin < best.x < high - margin, (field, best.x)


def test_capacity_optimum_in_nickel_is_interior() -> None:
    best = minimize_scalar(
        lambda ni: -capacity(nmc(ni, calcination_temperature_c=optimal_temperature_c(ni))),
        bounds=(0.3, 1.0),
        method="bounded",
    )
    assert 0.35 < best.x < 0.98


def test_batch_noise_is_small_and_deterministic_per_seed() -> None:
    r = nmc(0.6)
    a = make_product(r, np.random.default_rng(7))
    b = make_product(r, np.random.default_rng(7))
    c = make_product(r, np.random.default_rng(8))
    ideal = ideal_product(r)
    assert a == b
    assert a != c
    assert abs(a.lattice_a - ideal.lattice_a) < 0.005
    assert abs(a.layered_fraction - ideal.layered_fraction) < 0.03


def test_cost_counts_cobalt_and_firing() -> None:
    cheap = recipe(ni=0.8, mn=0.1, co=0.1)
    pricey = recipe(ni=0.4, mn=0.1, co=0.5)
    assert material_cost_usd_per_kg(pricey) > material_cost_usd_per_kg(cheap) + 2
    assert material_cost_usd_per_kg(recipe(calcination_time_h=24)) > material_cost_usd_per_kg(
        recipe(calcination_time_h=2)
    )
