"""Turning analysis results into the campaign's catalogue metrics (``xrd.*``, ``cycling.*``).

Pure functions, run off the event loop by the steps; their inputs come from the store, so
running them again after a crash gives the same numbers.
"""

import math
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from voltlab.analysis.cycling import (
    CycleMetrics,
    CyclingPoints,
    EarlyLifeModel,
    cycle_metrics,
    fade_summary,
)
from voltlab.analysis.xrd import (
    LayeredComposition,
    ReferenceLibrary,
    XRDResult,
    analyze_pattern,
    default_library,
)

LAYERED_PHASE_PREFIX = "layered"


@cache
def reference_library(composition: LayeredComposition) -> ReferenceLibrary:
    """The phases expected from a recipe (pymatgen work, built once per composition)."""
    return default_library(composition)


def expected_composition(recipe: Mapping[str, Any]) -> LayeredComposition:
    """The layered phase a recipe aims at (a Recipe dumped as JSON)."""
    dopant = recipe.get("dopant", "none")
    doped = dopant != "none" and recipe.get("dopant_fraction", 0.0) > 0
    return LayeredComposition(
        ni=recipe["ni"],
        mn=recipe["mn"],
        co=recipe["co"],
        dopant=dopant if doped else None,
        dopant_fraction=recipe["dopant_fraction"] if doped else 0.0,
    )


@cache
def early_life_model() -> EarlyLifeModel:
    return EarlyLifeModel.load()


def analyse_xrd(
    two_theta: np.ndarray, counts: np.ndarray, composition: LayeredComposition
) -> tuple[dict[str, float], dict]:
    """Phase analysis of one pattern: the ``xrd.*`` metrics and a JSON-able detail record."""
    result = analyze_pattern(two_theta, counts, reference_library(composition))
    return xrd_metrics(result), xrd_detail(result)


def xrd_metrics(result: XRDResult) -> dict[str, float]:
    layered_fraction = sum(
        p.weight_fraction for p in result.phases if p.name.startswith(LAYERED_PHASE_PREFIX)
    )
    metrics = {"xrd.layered_fraction": layered_fraction, "xrd.rwp": result.rwp}
    if result.layered is not None:
        layer = result.layered
        metrics |= {
            "xrd.cation_mixing": layer.cation_mixing,
            "xrd.i003_i104": layer.i003_i104,
            "xrd.crystallite_size_nm": layer.crystallite_size_nm,
            "xrd.lattice_a": layer.a,
            "xrd.lattice_c": layer.c,
        }
    return {k: float(v) for k, v in metrics.items() if math.isfinite(v)}


def xrd_detail(result: XRDResult) -> dict[str, Any]:
    return {
        "phases": [
            {
                "name": p.name,
                "weight_fraction": p.weight_fraction,
                "weight_fraction_std": p.weight_fraction_std,
                "detected": p.detected,
                "crystallite_size_nm": p.crystallite_size_nm,
            }
            for p in result.phases
        ],
        "rwp": result.rwp,
        "confidence": result.confidence,
        "warnings": list(result.warnings),
        "calculated": result.calculated.tolist(),
        "background": result.background.tolist(),
    }


def cycle_record(metrics: CycleMetrics) -> dict[str, Any]:
    """One cycle's metrics as a JSON-able dict (NaN as None)."""
    out: dict[str, Any] = {}
    for key, value in vars(metrics).items():
        out[key] = None if isinstance(value, float) and not math.isfinite(value) else value
    return out


def cycling_summary(
    columns: dict[str, np.ndarray],
    cathode_mass_g: float | None,
    formation_cycles: int,
    retention_threshold: float,
    predict_life: bool,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The ``cycling.*`` metrics of one cell from all its points (columns as stored)."""
    points = CyclingPoints(
        columns["time_s"], columns["voltage_v"], columns["current_a"], columns["cycle"]
    )
    per_cycle = cycle_metrics(points, active_mass_g=cathode_mass_g)
    complete = [m for m in per_cycle if m.complete]
    if not complete:
        return {"cycling.cycles_completed": 0.0}, {"issue": "no complete cycle"}
    first = complete[0]
    metrics: dict[str, float] = {
        "cycling.cycles_completed": float(len(complete)),
        "cycling.initial_capacity_mah": 1000.0 * first.discharge_capacity_ah,
        "cycling.coulombic_efficiency": float(
            np.nanmean([m.coulombic_efficiency for m in complete[formation_cycles:] or complete])
        ),
    }
    if first.specific_discharge_mah_g is not None:
        metrics["cycling.specific_capacity_mah_g"] = first.specific_discharge_mah_g
    detail: dict[str, Any] = {}
    fade = fade_summary(per_cycle, formation_cycles, threshold=retention_threshold)
    metrics["cycling.retention"] = float(fade.retention[-1])
    metrics["cycling.fade_rate_pct_per_cycle"] = fade.fade_rate_pct_per_cycle
    detail["cycles_to_threshold"] = fade.cycles_to_threshold
    detail["threshold_extrapolated"] = fade.extrapolated
    if predict_life:
        prediction = early_life_model().predict(points)
        metrics["cycling.predicted_cycle_life"] = prediction.cycle_life
        detail["predicted_cycle_life"] = {
            "lower": prediction.lower,
            "upper": prediction.upper,
            "level": prediction.level,
            "in_training_range": prediction.in_training_range,
        }
    return {k: float(v) for k, v in metrics.items()}, detail
