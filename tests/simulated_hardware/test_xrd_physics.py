"""Physics sanity of the simulated powder XRD: peak positions, intensities, widths, phases, noise."""

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator

from voltlab.protocol import Recipe
from voltlab.simulated_hardware.world.product import Product, ideal_product, make_product
from voltlab.simulated_hardware.world.structures import (
    layered_spec,
    layered_structure,
    li2co3_structure,
    rocksalt_structure,
)
from voltlab.simulated_hardware.world.xrd import (
    DEBYE_WALLER_B,
    background_cps,
    expected_intensity,
    simulate_pattern,
)
from voltlab.simulated_hardware.world.xrd_profile import (
    SCHERRER_K,
    WAVELENGTH_ANGSTROM,
    instrument_fwhm_deg,
    peak_shape,
)

FINE_STEP = 0.002


def product(**changes: object) -> Product:
    """A pure, well-ordered NMC622 layered phase unless told otherwise."""
    base = ideal_product(
        Recipe(
            ni=0.6,
            mn=0.2,
            co=0.2,
            li_excess=0.03,
            calcination_temperature_c=850.0,
            calcination_time_h=10.0,
        )
    )
    pure = dict(
        layered_fraction=1.0,
        rocksalt_fraction=0.0,
        li2co3_fraction=0.0,
        cation_mixing=0.02,
        lattice_a=2.868,
        lattice_c=14.20,
        crystallite_size_nm=100.0,
    )
    return replace(base, **(pure | changes))


def bragg_two_theta(a: float, c: float, h: int, k: int, l: int) -> float:  # noqa: E741
    """2-theta (degrees) of hexagonal reflection hkl from 1/d^2 = 4(h^2+hk+k^2)/(3a^2) + l^2/c^2."""
    inv_d2 = 4.0 * (h * h + h * k + k * k) / (3.0 * a * a) + l * l / (c * c)
    return math.degrees(2.0 * math.asin(WAVELENGTH_ANGSTROM * math.sqrt(inv_d2) / 2.0))


def window(center: float, half_width: float) -> np.ndarray:
    return np.arange(center - half_width, center + half_width, FINE_STEP)


def peak_top(p: Product, near: float, half_width: float = 0.3) -> float:
    grid = window(near, half_width)
    return float(grid[np.argmax(expected_intensity(p, grid, 1.0))])


def net_area(p: Product, center: float, half_width: float = 1.0) -> float:
    """Integrated counts x degrees above the background around ``center`` (1 s per step)."""
    grid = window(center, half_width)
    net = expected_intensity(p, grid, 1.0) - background_cps(p, grid)
    return float(np.trapezoid(net, grid))


def measured_fwhm(p: Product, center: float) -> float:
    grid = window(center, 2.0)
    net = expected_intensity(p, grid, 1.0) - background_cps(p, grid)
    above = grid[net >= net.max() / 2.0]
    return float(above[-1] - above[0])


def has_local_peak(p: Product, at: float, tolerance: float = 0.05) -> bool:
    grid = window(at, 0.4)
    net = expected_intensity(p, grid, 1.0) - background_cps(p, grid)
    top = int(np.argmax(net))
    interior = 0 < top < len(grid) - 1
    return interior and abs(grid[top] - at) <= tolerance and net[top] > 5.0


def test_layered_structure_keeps_both_sites_full_and_the_formula_balanced() -> None:
    structure = layered_structure(product(cation_mixing=0.08))
    comp = structure.composition.fractional_composition.as_dict()
    spec = layered_spec(product(cation_mixing=0.08))
    assert sum(f for _, f in spec.li_site) == pytest.approx(1.0)
    assert sum(f for _, f in spec.m_site) == pytest.approx(1.0)
    assert dict(spec.li_site)["Ni"] == pytest.approx(0.08)
    assert dict(spec.m_site)["Li"] == pytest.approx(0.08)
    assert comp["Li"] == pytest.approx(0.25)
    assert comp["O"] == pytest.approx(0.5)
    assert structure.get_space_group_info()[0] == "R-3m"


@pytest.mark.parametrize(("a", "c"), [(2.868, 14.20), (2.90, 14.35)])
@pytest.mark.parametrize("hkl", [(0, 0, 3), (1, 0, 1), (1, 0, 4), (1, 1, 0)])
def test_layered_peaks_sit_where_the_lattice_puts_them(
    a: float, c: float, hkl: tuple[int, int, int]
) -> None:
    expected = bragg_two_theta(a, c, *hkl)
    assert peak_top(product(lattice_a=a, lattice_c=c), expected) == pytest.approx(
        expected, abs=0.02
    )


def test_peaks_shift_with_the_lattice() -> None:
    base, longer_c = product(), product(lattice_c=14.40)
    assert peak_top(longer_c, 18.6) < peak_top(base, 18.7) - 0.2  # (003) moves to lower angle
    assert peak_top(longer_c, 65.0) == pytest.approx(peak_top(base, 65.0), abs=0.004)  # (110)
    wider_a = product(lattice_a=2.90)
    assert peak_top(wider_a, 64.4) < peak_top(base, 65.0) - 0.5


def test_i003_over_i104_falls_as_cation_mixing_rises() -> None:
    a, c = 2.868, 14.20
    p003, p104 = bragg_two_theta(a, c, 0, 0, 3), bragg_two_theta(a, c, 1, 0, 4)
    ratios = []
    for mixing in (0.0, 0.02, 0.05, 0.10, 0.15):
        p = product(cation_mixing=mixing)
        ratios.append(net_area(p, p003) / net_area(p, p104))
    assert all(later < earlier for earlier, later in itertools.pairwise(ratios))
    assert ratios[0] > 0.85
    assert ratios[-1] < 0.6


def test_smaller_crystallites_broaden_peaks_as_scherrer_predicts() -> None:
    center = bragg_two_theta(2.868, 14.20, 1, 0, 4)
    widths = {size: measured_fwhm(product(crystallite_size_nm=size), center) for size in (20, 100)}
    assert widths[20] > 2.5 * widths[100]
    for size, width in widths.items():
        predicted, _ = peak_shape(np.array([center]), size)
        assert width == pytest.approx(float(predicted[0]), rel=0.03)
    # Scherrer recovers the size once the Gaussian instrument width is taken out (Voigt).
    beta_g = float(instrument_fwhm_deg(np.array([center]))[0])
    beta_l = widths[20] - beta_g**2 / widths[20]
    theta = math.radians(center / 2.0)
    size_nm = SCHERRER_K * WAVELENGTH_ANGSTROM / (math.radians(beta_l) * math.cos(theta)) / 10.0
    assert size_nm == pytest.approx(20.0, rel=0.1)


@pytest.mark.parametrize("two_theta", [37.25, 43.29, 62.88])
def test_rocksalt_peaks_appear_only_with_rocksalt(two_theta: float) -> None:
    with_nio = product(layered_fraction=0.9, rocksalt_fraction=0.1)
    assert has_local_peak(with_nio, two_theta)
    assert not has_local_peak(product(), two_theta)


@pytest.mark.parametrize("two_theta", [21.35, 30.59, 31.81])
def test_li2co3_peaks_grow_with_li2co3(two_theta: float) -> None:
    areas = [
        net_area(product(layered_fraction=1 - f, li2co3_fraction=f), two_theta, 0.4)
        for f in (0.0, 0.05, 0.10)
    ]
    assert areas[0] < 1.0
    assert areas[2] == pytest.approx(2 * areas[1], rel=0.1)
    assert has_local_peak(product(layered_fraction=0.9, li2co3_fraction=0.1), two_theta)


def test_weight_fractions_come_back_from_peak_areas_by_hill_howard() -> None:
    """W_p = S_p (ZMV)_p / sum(S ZMV), with S_p = net peak area / calculated stick intensity."""
    p = product(layered_fraction=0.7, rocksalt_fraction=0.2, li2co3_fraction=0.1)
    calc = XRDCalculator(wavelength=WAVELENGTH_ANGSTROM, debye_waller_factors=DEBYE_WALLER_B)
    zmv = {}
    for name, structure, at, half_width in (
        ("layered", layered_structure(p), bragg_two_theta(2.868, 14.20, 0, 0, 3), 1.0),
        ("rocksalt", rocksalt_structure(), 43.29, 0.5),
        ("li2co3", li2co3_structure(), 21.35, 0.5),
    ):
        sticks = calc.get_pattern(structure, scaled=False, two_theta_range=(at - 0.3, at + 0.3))
        scale = net_area(p, at, half_width) / sum(sticks.y)
        zmv[name] = scale * structure.density * structure.volume**2
    total = sum(zmv.values())
    assert zmv["layered"] / total == pytest.approx(0.7, abs=0.02)
    assert zmv["rocksalt"] / total == pytest.approx(0.2, abs=0.02)
    assert zmv["li2co3"] / total == pytest.approx(0.1, abs=0.02)


def test_counts_are_poisson_around_the_expected_intensity() -> None:
    grid = np.arange(24.0, 34.0, 0.002)  # background and the layered phase's tails only
    p = product()
    mean = expected_intensity(p, grid, 2.0)
    counts = simulate_pattern(p, grid, 2.0, np.random.default_rng(7))
    assert np.all(counts == np.round(counts))
    z = (counts - mean) / np.sqrt(mean)
    assert abs(z.mean()) < 0.05
    assert z.var() == pytest.approx(1.0, abs=0.06)


def test_noise_is_deterministic_for_a_seed() -> None:
    grid = np.linspace(10.0, 80.0, 3501)
    p = product()
    first = simulate_pattern(p, grid, 1.0, np.random.default_rng(3))
    again = simulate_pattern(p, grid, 1.0, np.random.default_rng(3))
    other = simulate_pattern(p, grid, 1.0, np.random.default_rng(4))
    assert first.shape == grid.shape
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_count_time_scales_counts() -> None:
    grid = np.linspace(15.0, 70.0, 1000)
    p = product()
    np.testing.assert_allclose(
        expected_intensity(p, grid, 3.0), 3.0 * expected_intensity(p, grid, 1.0)
    )


def test_rounded_site_occupancies_never_overfill_a_site() -> None:
    """Random batches used to round Li(1-x) + Ni(x) to 1.0001, which pymatgen refuses."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        ni = float(rng.uniform(0.3, 0.95))
        mn = float((1 - ni) * rng.uniform(0, 1))
        recipe = Recipe(
            ni=ni,
            mn=mn,
            co=1 - ni - mn,
            li_excess=float(rng.uniform(0, 0.1)),
            calcination_temperature_c=float(rng.uniform(650, 1000)),
            calcination_time_h=float(rng.uniform(2, 24)),
        )
        spec = layered_spec(make_product(recipe, rng))
        for site in (spec.li_site, spec.m_site):
            assert sum(f for _, f in site) == pytest.approx(1.0, abs=1e-9)
            assert sum(f for _, f in site) <= 1.0 + 1e-12
