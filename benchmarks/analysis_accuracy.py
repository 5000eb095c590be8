"""Inline-analysis accuracy against simulator truth, with naive baselines measured in the same run.

XRD: random recipes over the campaign box (Ni 0.3-0.95, Mn/Co split at random, Li excess 0-0.1,
650-1000 C, 2-24 h, dopant none/Al/Mg/Ti at 0-3 %), one batch each (``make_product`` with batch
noise), a pattern 10-80 degrees in 0.02 degree steps at 1 s per step (``simulate_pattern``), then
``analyze_pattern``. Baselines: weight fractions = the mean of the truth over the run (an oracle
mean, generous to the baseline); lattice a, c from the (003) and (110) peak positions; size from
Scherrer on the (003) FWHM without removing the instrument width. Speed: median wall time of
analysing a 5,000-point pattern (10-80 degrees), and apart from it of building the reference
library (pymatgen structures, once per composition). Run it with OMP_NUM_THREADS=1 for one core.

Targets: weight fraction MAE <= 2 wt %; a and c within 0.003 A; size within 15 %; <= 1 s.

Cycling: the early-life model is fitted in the run on the 80 training cells of
``train_early_life_model`` (and checked equal to the committed JSON model), then predicts the
cycle life of test cells never used for training (other cell ids, another Latin hypercube of
(CC1, CC2)) from their first 100 cycles; baseline: the training cells' mean life. Also the
fast-campaign variant (cycles 5 -> 50) and Severson's capacity features added. Speed: per-cycle
metrics on 100 simulated cycles (10 s sampling), whole and streamed in 100-point batches.
Simulating the cells dominates: ~10-15 min uncached on 2 cores, cached under benchmarks/.cache.

    .venv/bin/python benchmarks/analysis_accuracy.py [--recipes 60] [--seed 7] [--speed-runs 10]
        [--test-cells 60] [--skip-xrd] [--skip-cycling]
"""

import argparse
import os
import statistics
import time
from dataclasses import dataclass, replace

os.environ.setdefault("SPGLIB_OLD_ERROR_HANDLING", "0")

import numpy as np

from early_life_cells import SimulatedCell, design, points_of, simulate_cells
from train_early_life_model import DEFINITION, train, training_cells
from voltlab.analysis.cycling import (
    ALL_FEATURES,
    DELTA_Q_FEATURES,
    CyclingPoints,
    EarlyLifeModel,
    FeatureDefinition,
    IncrementalCycleMetrics,
    cycle_metrics,
)
from voltlab.analysis.xrd import (
    LayeredComposition,
    XRDAnalysisError,
    analyze_pattern,
    default_library,
    peak_position_lattice,
)
from voltlab.protocol import Dopant, Recipe
from voltlab.simulated_hardware.world.product import Product, make_product
from voltlab.simulated_hardware.world.xrd import simulate_pattern

PHASES = ("layered", "rocksalt", "li2co3")
POINT_COLUMNS = ("time_s", "voltage_v", "current_a", "cycle")
GRID = np.arange(10.0, 80.0 + 1e-9, 0.02)
SPEED_GRID = np.linspace(10.0, 80.0, 5000)
WAVELENGTH = 1.54056


def random_recipe(rng: np.random.Generator) -> Recipe:
    # Fractions on a 0.001 grid: the simulator rounds site occupancies to 1e-4 and pymatgen
    # refuses a site whose rounded occupancies sum above 1.
    ni = round(rng.uniform(0.3, 0.95), 3)
    mn = round((1 - ni) * rng.uniform(0.0, 1.0), 3)
    dopant = list(Dopant)[int(rng.integers(len(Dopant)))]
    return Recipe(
        ni=ni,
        mn=mn,
        co=round(1.0 - ni - mn, 3),
        li_excess=rng.uniform(0.0, 0.1),
        calcination_temperature_c=rng.uniform(650.0, 1000.0),
        calcination_time_h=rng.uniform(2.0, 24.0),
        dopant=dopant,
        dopant_fraction=0.0 if dopant is Dopant.NONE else round(rng.uniform(0.0, 0.03), 3),
    )


def composition(recipe: Recipe) -> LayeredComposition:
    doped = recipe.dopant is not Dopant.NONE
    return LayeredComposition(
        recipe.ni,
        recipe.mn,
        recipe.co,
        recipe.dopant.value if doped else None,
        recipe.dopant_fraction if doped else 0.0,
    )


def truth_fractions(product: Product) -> np.ndarray:
    return np.array([product.layered_fraction, product.rocksalt_fraction, product.li2co3_fraction])


@dataclass
class Row:
    """One recipe: truth, the analysis and the naive estimates."""

    truth: Product
    fractions: np.ndarray
    a: float
    c: float
    size: float
    naive_a: float
    naive_c: float
    naive_size: float
    seconds: float
    confidence: str


def naive_size(result_peaks_two_theta: np.ndarray, fwhm: np.ndarray, height: np.ndarray) -> float:
    """Scherrer on the (003) FWHM, instrument width not removed."""
    window = (result_peaks_two_theta > 17.0) & (result_peaks_two_theta < 20.5)
    j = np.flatnonzero(window)[np.argmax(height[window])]
    theta = np.radians(result_peaks_two_theta[j]) / 2.0
    return 0.9 * WAVELENGTH / (np.radians(fwhm[j]) * np.cos(theta)) / 10.0


def synthesise(recipe: Recipe, seed: int) -> tuple[Product, np.ndarray]:
    """One batch and its pattern. The simulator rounds site occupancies to 1e-4 and pymatgen
    then refuses some sites (occupancies summing to 1.0001): such a batch is redrawn."""
    for attempt in range(5):
        rng = np.random.default_rng([seed, attempt])
        product = make_product(recipe, rng)
        try:
            return product, simulate_pattern(product, GRID, 1.0, rng)
        except ValueError as exc:
            print(f"simulator refused a batch of {recipe}: {exc}; redrawing")
    raise RuntimeError(f"simulator refused every batch of {recipe}")


def analyse_recipe(recipe: Recipe, seed: int) -> Row:
    product, counts = synthesise(recipe, seed)
    start = time.perf_counter()
    result = analyze_pattern(GRID, counts, default_library(composition(recipe)))
    seconds = time.perf_counter() - start
    assert result.layered is not None
    lattice = peak_position_lattice(result.peaks, WAVELENGTH) or (np.nan, np.nan)
    fractions = np.array([result.phase(p).weight_fraction for p in PHASES])
    return Row(
        product,
        fractions,
        result.layered.a,
        result.layered.c,
        result.layered.crystallite_size_nm,
        lattice[0],
        lattice[1],
        naive_size(result.peaks.two_theta, result.peaks.fwhm, result.peaks.height),
        seconds,
        result.confidence,
    )


def xrd_accuracy(n_recipes: int, seed: int) -> list[tuple[str, str, str, str]]:
    """Rows (metric, analysis, naive baseline, target) of the XRD accuracy table."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_recipes):
        recipe = random_recipe(rng)
        try:
            rows.append(analyse_recipe(recipe, seed * 1000 + i))
        except XRDAnalysisError as exc:
            print(f"recipe {i} refused: {exc}")
    truth = np.array([truth_fractions(r.truth) for r in rows])
    fitted = np.array([r.fractions for r in rows])
    mean_guess = truth.mean(axis=0)
    a_true = np.array([r.truth.lattice_a for r in rows])
    c_true = np.array([r.truth.lattice_c for r in rows])
    d_true = np.array([r.truth.crystallite_size_nm for r in rows])
    err_a = np.abs([r.a for r in rows] - a_true)
    err_c = np.abs([r.c for r in rows] - c_true)
    naive_a = np.abs([r.naive_a for r in rows] - a_true)
    naive_c = np.abs([r.naive_c for r in rows] - c_true)
    rel_d = np.abs(np.array([r.size for r in rows]) / d_true - 1.0)
    naive_d = np.abs(np.array([r.naive_size for r in rows]) / d_true - 1.0)
    low = sum(r.confidence == "low" for r in rows)
    worst = np.argsort(-np.abs(fitted - truth).max(axis=1))[:3]
    for k in worst:
        print(
            f"worst: truth {np.round(truth[k], 3)} fit {np.round(fitted[k], 3)} "
            f"mixing {rows[k].truth.cation_mixing:.3f} size {d_true[k]:.0f} nm ({rows[k].confidence})"
        )

    def pct(v: np.ndarray) -> str:
        return f"{100 * np.nanmean(v):.2f}"

    table = [
        ("recipes analysed (low confidence)", f"{len(rows)} ({low})", "-", ">= 50"),
        (
            "weight fraction MAE, wt % (all phases)",
            pct(np.abs(fitted - truth)),
            pct(np.abs(mean_guess - truth)),
            "<= 2",
        ),
    ]
    for j, name in enumerate(PHASES):
        table.append(
            (
                f"  {name} MAE, wt %",
                pct(np.abs(fitted[:, j] - truth[:, j])),
                pct(np.abs(mean_guess[j] - truth[:, j])),
                "",
            )
        )
    table += [
        (
            "  max abs error, wt %",
            f"{100 * np.abs(fitted - truth).max():.2f}",
            f"{100 * np.abs(mean_guess - truth).max():.2f}",
            "",
        ),
        (
            "a MAE / max, A",
            f"{err_a.mean():.4f} / {err_a.max():.4f}",
            f"{np.nanmean(naive_a):.4f} / {np.nanmax(naive_a):.4f}",
            "<= 0.003",
        ),
        (
            "c MAE / max, A",
            f"{err_c.mean():.4f} / {err_c.max():.4f}",
            f"{np.nanmean(naive_c):.4f} / {np.nanmax(naive_c):.4f}",
            "<= 0.003",
        ),
        (
            "a within 0.003 A, %",
            f"{100 * np.mean(err_a <= 0.003):.0f}",
            f"{100 * np.mean(naive_a <= 0.003):.0f}",
            "",
        ),
        (
            "c within 0.003 A, %",
            f"{100 * np.mean(err_c <= 0.003):.0f}",
            f"{100 * np.mean(naive_c <= 0.003):.0f}",
            "",
        ),
        (
            "size median rel. error, %",
            f"{100 * np.median(rel_d):.1f}",
            f"{100 * np.median(naive_d):.1f}",
            "<= 15",
        ),
        (
            "size within 15 %, %",
            f"{100 * np.mean(rel_d <= 0.15):.0f}",
            f"{100 * np.mean(naive_d <= 0.15):.0f}",
            "",
        ),
        (
            "analysis time median (3,501 pts), s",
            f"{statistics.median(r.seconds for r in rows):.3f}",
            "-",
            "",
        ),
    ]
    return table


def xrd_speed(runs: int, seed: int) -> list[tuple[str, str, str, str]]:
    """Median times of building the reference library (once per composition) and of analysing
    a 5,000-point pattern with it."""
    rng = np.random.default_rng(seed)
    recipe = Recipe(
        ni=0.8,
        mn=0.1,
        co=0.1,
        li_excess=0.03,
        calcination_temperature_c=780.0,
        calcination_time_h=10.0,
    )
    counts = simulate_pattern(make_product(recipe, rng), SPEED_GRID, 1.0, rng)
    build, analyse = [], []
    for _ in range(runs):
        start = time.perf_counter()
        library = default_library(composition(recipe))
        middle = time.perf_counter()
        analyze_pattern(SPEED_GRID, counts, library)
        build.append(middle - start)
        analyse.append(time.perf_counter() - middle)
    return [
        (
            "5,000-point analysis, median / max, s",
            f"{statistics.median(analyse):.3f} / {max(analyse):.3f}",
            "-",
            "<= 1",
        ),
        ("library build per composition, median, s", f"{statistics.median(build):.3f}", "-", ""),
    ]


def life_rows(
    label: str,
    train_cells: list[SimulatedCell],
    test_cells: list[SimulatedCell],
    definition: FeatureDefinition,
    names: tuple[str, ...],
) -> tuple[EarlyLifeModel, list[tuple[str, str, str, str]]]:
    """Fit on ``train_cells``, predict ``test_cells``: MAPE against the training-mean baseline,
    and the prediction interval's coverage."""
    model = train(train_cells, definition, names)
    truth = np.array([c.cycle_life for c in test_cells])
    predictions = [model.predict(points_of(c.trace)) for c in test_cells]
    predicted = np.array([p.cycle_life for p in predictions])
    naive = np.mean([c.cycle_life for c in train_cells])
    error = np.abs(predicted / truth - 1)
    covered = np.mean([p.lower <= t <= p.upper for p, t in zip(predictions, truth, strict=True)])
    outside = sum(not p.in_training_range for p in predictions)
    target = "<= 10" if definition == DEFINITION and names == DELTA_Q_FEATURES else ""
    rows = [
        (
            f"{label}: life MAPE, %",
            f"{100 * error.mean():.1f}",
            f"{100 * np.mean(np.abs(naive / truth - 1)):.1f}",
            target,
        ),
        (
            f"{label}: max abs error, %",
            f"{100 * error.max():.1f}",
            f"{100 * np.max(np.abs(naive / truth - 1)):.1f}",
            "",
        ),
        (
            f"{label}: {100 * model.interval_level:.0f} % interval coverage (outside training range)",
            f"{100 * covered:.0f} ({outside})",
            "-",
            f"~{100 * model.interval_level:.0f}",
        ),
    ]
    return model, rows


def cycling_accuracy(n_test: int) -> list[tuple[str, str, str, str]]:
    """Rows of the early-life prediction table on simulated fast-charge cells."""
    start = time.perf_counter()
    train_cells = training_cells()
    test_cells = simulate_cells(design("test", n_test, 2))
    simulated = time.perf_counter() - start
    lives = np.array([c.cycle_life for c in test_cells])
    rows = [
        (
            "cells train / test (test life range)",
            f"{len(train_cells)} / {len(test_cells)} ({lives.min():.0f}-{lives.max():.0f})",
            "-",
            ">= 50 test",
        ),
        ("simulating or loading the cells, s", f"{simulated:.0f}", "-", ""),
    ]
    fast = replace(DEFINITION, cycle_early=5, cycle_late=50)
    for label, definition, names in (
        ("dQ(V) 10->100", DEFINITION, DELTA_Q_FEATURES),
        ("dQ(V)+capacity 10->100", DEFINITION, ALL_FEATURES),
        ("dQ(V) 5->50", fast, DELTA_Q_FEATURES),
    ):
        model, part = life_rows(label, train_cells, test_cells, definition, names)
        rows += part
        if label == "dQ(V) 10->100":
            same = model == EarlyLifeModel.load()
            rows.append(
                ("committed JSON model = refit in this run", "yes" if same else "NO", "-", "yes")
            )
    return rows


def cycling_speed(runs: int) -> list[tuple[str, str, str, str]]:
    """Per-cycle metric cost on 100 simulated cycles, whole and streamed in 100-point batches
    (each batch validated as it arrives)."""
    points = points_of(training_cells(1)[0].trace)
    cycles = int(points.cycle[-1])
    whole, streamed = [], []
    for _ in range(runs):
        start = time.perf_counter()
        cycle_metrics(points)
        middle = time.perf_counter()
        stream = IncrementalCycleMetrics()
        for lo in range(0, len(points), 100):
            # as a consumer of the cycler stream would: validate each batch of raw columns
            batch = (getattr(points, c)[lo : lo + 100] for c in POINT_COLUMNS)
            stream.feed(CyclingPoints(*batch))
        stream.finish()
        whole.append(middle - start)
        streamed.append(time.perf_counter() - middle)
    per_cycle = len(points) / cycles
    return [
        (
            f"metrics, whole trace ({cycles} cycles x {per_cycle:.0f} pts), ms/cycle",
            f"{1000 * statistics.median(whole) / cycles:.3f}",
            "-",
            "<= 1",
        ),
        (
            "metrics, streamed in 100-point batches, ms/cycle",
            f"{1000 * statistics.median(streamed) / cycles:.3f}",
            "-",
            "<= 1",
        ),
    ]


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    header = ("metric", "analysis", "naive baseline", "target")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(4)]
    print(f"\n{title}")
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed-runs", type=int, default=10)
    parser.add_argument("--test-cells", type=int, default=60)
    parser.add_argument("--skip-xrd", action="store_true")
    parser.add_argument("--skip-cycling", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    if not args.skip_xrd:
        # Warm pymatgen's import and caches once, so timings measure the analysis.
        xrd_speed(1, args.seed)
        print_table(
            "XRD (analysis/xrd)",
            xrd_accuracy(args.recipes, args.seed) + xrd_speed(args.speed_runs, args.seed),
        )
    if not args.skip_cycling:
        print_table(
            "Cycling (analysis/cycling)",
            cycling_accuracy(args.test_cells) + cycling_speed(args.speed_runs),
        )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
