"""Cycling analysis: per-cycle capacities, energies, efficiency and voltages from raw cycler
points (streamed or whole), retention and fade, dQ/dV, and early prediction of cycle life from
dQ(V) features (Severson et al. 2019) with a model stored as JSON. Pure functions and plain
objects: arrays in, results out.
"""

from voltlab.analysis.cycling._errors import CyclingAnalysisError
from voltlab.analysis.cycling.curves import DQDV, CapacityCurve, capacity_curve, dqdv
from voltlab.analysis.cycling.early_life import (
    DEFAULT_MODEL_PATH,
    EarlyLifeModel,
    LifePrediction,
    fit_early_life_model,
)
from voltlab.analysis.cycling.fade import FadeSummary, fade_summary
from voltlab.analysis.cycling.features import (
    ALL_FEATURES,
    CAPACITY_FEATURES,
    DELTA_Q_FEATURES,
    FeatureDefinition,
    delta_q,
    early_life_features,
)
from voltlab.analysis.cycling.figures import plot_capacity, plot_dqdv
from voltlab.analysis.cycling.incremental import (
    IncrementalCycleMetrics,
    cycle_metrics,
    metrics_frame,
)
from voltlab.analysis.cycling.metrics import CycleMetrics
from voltlab.analysis.cycling.points import CyclingPoints

__all__ = [
    "ALL_FEATURES",
    "CAPACITY_FEATURES",
    "DEFAULT_MODEL_PATH",
    "DELTA_Q_FEATURES",
    "DQDV",
    "CapacityCurve",
    "CycleMetrics",
    "CyclingAnalysisError",
    "CyclingPoints",
    "EarlyLifeModel",
    "FadeSummary",
    "FeatureDefinition",
    "IncrementalCycleMetrics",
    "LifePrediction",
    "capacity_curve",
    "cycle_metrics",
    "delta_q",
    "dqdv",
    "early_life_features",
    "fade_summary",
    "fit_early_life_model",
    "metrics_frame",
    "plot_capacity",
    "plot_dqdv",
]
