"""Train the committed early-life model on simulated fast-charge cells and write it as JSON.

80 cells, (CC1, CC2) on a Latin hypercube (seed 1) over [3, 8] C, 100 cycles each at 10 s
sampling (see ``early_life_cells``); features: the five dQ(V) statistics between cycles 10 and 100
on 2.6-3.8 V; truth: ``cycle_life_truth``. Deterministic; about 10 min uncached on 2 cores,
seconds cached.

    .venv/bin/python benchmarks/train_early_life_model.py [--output PATH]
"""

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from early_life_cells import SimulatedCell, design, points_of, simulate_cells
from voltlab.analysis.cycling import (
    DEFAULT_MODEL_PATH,
    DELTA_Q_FEATURES,
    EarlyLifeModel,
    FeatureDefinition,
    early_life_features,
    fit_early_life_model,
)

TRAIN_CELLS = 80
TRAIN_SEED = 1
DEFINITION = FeatureDefinition(
    cycle_early=10, cycle_late=100, voltage_low_v=2.6, voltage_high_v=3.8
)


def training_cells(n: int = TRAIN_CELLS) -> list[SimulatedCell]:
    return simulate_cells(design("train", n, TRAIN_SEED))


def train(
    cells: list[SimulatedCell],
    definition: FeatureDefinition = DEFINITION,
    feature_names: tuple[str, ...] = DELTA_Q_FEATURES,
) -> EarlyLifeModel:
    """Fit the elastic net on ``cells`` (features from their first ``cycle_late`` cycles)."""
    features = [early_life_features(points_of(c.trace), definition) for c in cells]
    lives = np.array([c.cycle_life for c in cells])
    return fit_early_life_model(features, lives, definition, feature_names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    start = time.perf_counter()
    model = train(training_cells())
    model.save(args.output)
    logging.info("wrote %s in %.0f s: %s", args.output, time.perf_counter() - start, model.training)


if __name__ == "__main__":
    main()
