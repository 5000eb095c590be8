"""The metric catalogue: every outcome the engine measures, and the workflow step that makes it.

Objectives, constraints and gates of a campaign name metrics from :data:`METRICS`; a campaign
whose workflow lacks the producing step is refused at load.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """Where a metric comes from (a workflow step kind), its unit and what it means."""

    step: str
    unit: str
    description: str


METRICS: dict[str, MetricInfo] = {
    "xrd.layered_fraction": MetricInfo(
        "xrd", "weight fraction 0-1", "layered R-3m phase in the powder (Rietveld-like fit)"
    ),
    "xrd.cation_mixing": MetricInfo("xrd", "fraction 0-1", "Ni on the Li (3a) site"),
    "xrd.i003_i104": MetricInfo(
        "xrd", "-", "I(003)/I(104) peak intensity ratio (low means cation mixing)"
    ),
    "xrd.crystallite_size_nm": MetricInfo("xrd", "nm", "Scherrer crystallite size"),
    "xrd.lattice_a": MetricInfo("xrd", "Angstrom", "hexagonal lattice parameter a"),
    "xrd.lattice_c": MetricInfo("xrd", "Angstrom", "hexagonal lattice parameter c"),
    "xrd.rwp": MetricInfo("xrd", "-", "weighted profile residual of the pattern fit"),
    "cycling.initial_capacity_mah": MetricInfo("cycle", "mAh", "first discharge capacity"),
    "cycling.specific_capacity_mah_g": MetricInfo(
        "cycle", "mAh/g", "first discharge capacity per gram of cathode"
    ),
    "cycling.retention": MetricInfo(
        "cycle", "fraction", "last complete cycle's discharge over the first after formation"
    ),
    "cycling.fade_rate_pct_per_cycle": MetricInfo(
        "cycle", "%/cycle", "capacity lost per cycle after formation"
    ),
    "cycling.coulombic_efficiency": MetricInfo(
        "cycle", "fraction", "mean discharge over charge capacity"
    ),
    "cycling.cycles_completed": MetricInfo("cycle", "cycles", "complete cycles recorded"),
    "cycling.predicted_cycle_life": MetricInfo(
        "cycle",
        "cycles",
        "cycles to 80 % capacity predicted from early dQ(V) features (after Severson et al.)",
    ),
    "recipe.material_cost_usd_kg": MetricInfo(
        "synthesize", "USD/kg", "raw-material plus firing cost of the recipe"
    ),
}

PREDICTED_LIFE_METRIC = "cycling.predicted_cycle_life"
"""Needs a cycle step long enough for the early-life model's late cycle."""
