"""Powder XRD of layered-oxide cathodes: background, peaks, phase identification against a
pymatgen reference library, and a whole-pattern fit giving phase weight fractions (Hill-Howard),
the layered phase's lattice, cation mixing, crystallite size and I(003)/I(104), with
uncertainties. Pure functions: arrays and structures in, results out.
"""

from voltlab.analysis.xrd._errors import XRDAnalysisError
from voltlab.analysis.xrd.analyze import analyze_pattern
from voltlab.analysis.xrd.baseline import estimate_background
from voltlab.analysis.xrd.figures import plot_fit
from voltlab.analysis.xrd.identify import PhaseMatch
from voltlab.analysis.xrd.peaks import PeakList, find_pattern_peaks, peak_position_lattice
from voltlab.analysis.xrd.profile import InstrumentProfile
from voltlab.analysis.xrd.references import (
    LayeredComposition,
    PhaseReference,
    ReferenceLibrary,
    default_library,
    layered_oxide,
    lithium_carbonate,
    rock_salt_nio,
    structure_from_cif,
)
from voltlab.analysis.xrd.result import LayeredResult, PhaseResult, XRDResult

__all__ = [
    "InstrumentProfile",
    "LayeredComposition",
    "LayeredResult",
    "PeakList",
    "PhaseMatch",
    "PhaseReference",
    "PhaseResult",
    "ReferenceLibrary",
    "XRDAnalysisError",
    "XRDResult",
    "analyze_pattern",
    "default_library",
    "estimate_background",
    "find_pattern_peaks",
    "layered_oxide",
    "lithium_carbonate",
    "peak_position_lattice",
    "plot_fit",
    "rock_salt_nio",
    "structure_from_cif",
]
