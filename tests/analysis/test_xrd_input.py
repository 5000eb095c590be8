"""Bad input is refused with a message naming the problem; analysis is deterministic."""

from pathlib import Path

import numpy as np
import pytest

from tests.analysis.conftest import GRID, Sample
from voltlab.analysis.xrd import (
    LayeredComposition,
    XRDAnalysisError,
    analyze_pattern,
    layered_oxide,
    plot_fit,
    rock_salt_nio,
    structure_from_cif,
)
from voltlab.errors import VoltlabError


@pytest.fixture
def clean(samples: dict[str, Sample]) -> Sample:
    return samples["clean_nmc811"]


def test_error_is_a_voltlab_and_value_error() -> None:
    assert issubclass(XRDAnalysisError, VoltlabError)
    assert issubclass(XRDAnalysisError, ValueError)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda x, y: (x[:0], y[:0]), "empty"),
        (lambda x, y: (x, np.where(np.arange(y.size) == 7, np.nan, y)), "non-finite"),
        (lambda x, y: (x[::-1], y[::-1]), "not sorted"),
        (lambda x, y: (np.insert(x, 10, x[10]), np.insert(y, 10, y[10])), "duplicated"),
        (lambda x, y: (x[:150], y[:150]), "truncated pattern"),
        (lambda x, y: (x[x > 30], y[x > 30]), "misses the layered phase"),
        (lambda x, y: (x, y[:-1]), "points but counts has"),
        (lambda x, y: (x, -y), "negative"),
    ],
)
def test_bad_patterns_are_refused(clean: Sample, mangle, message: str) -> None:
    x, y = mangle(GRID.copy(), clean.counts.copy())
    with pytest.raises(XRDAnalysisError, match=message):
        analyze_pattern(x, y, clean.library)


def test_pure_background_is_refused(clean: Sample) -> None:
    rng = np.random.default_rng(3)
    background = 40.0 + 250.0 * np.exp(-(GRID - 5.0) / 6.0)
    with pytest.raises(XRDAnalysisError, match="no diffraction peaks"):
        analyze_pattern(GRID, rng.poisson(background).astype(float), clean.library)


def test_unknown_phase_is_refused(clean: Sample) -> None:
    with pytest.raises(XRDAnalysisError, match=r"unknown phases \['spinel'\]"):
        analyze_pattern(GRID, clean.counts, clean.library, phases=("layered", "spinel"))


def test_missing_phase_gives_low_confidence(samples: dict[str, Sample]) -> None:
    """Leaving the rock salt out of an over-fired sample's fit must not pass silently."""
    sample = samples["over_fired_high_mixing"]
    result = analyze_pattern(GRID, sample.counts, sample.library, phases=("layered", "li2co3"))
    assert result.confidence == "low"
    assert any("no phase explains" in w for w in result.warnings)


def test_analysis_is_deterministic(clean: Sample) -> None:
    first = analyze_pattern(GRID, clean.counts, clean.library)
    second = analyze_pattern(GRID, clean.counts.copy(), clean.library)
    assert first.weight_fractions() == second.weight_fractions()
    assert first.layered == second.layered
    np.testing.assert_array_equal(first.calculated, second.calculated)


def test_cif_phase_extends_the_library(clean: Sample) -> None:
    cif = rock_salt_nio().to(fmt="cif")
    library = clean.library.with_phase("nio_from_cif", structure_from_cif(cif))
    result = analyze_pattern(GRID, clean.counts, library, phases=("layered", "nio_from_cif"))
    assert "nio_from_cif" in result.weight_fractions()
    with pytest.raises(XRDAnalysisError, match="already in the library"):
        library.with_phase("nio_from_cif", rock_salt_nio())
    with pytest.raises(XRDAnalysisError, match="CIF"):
        structure_from_cif("data_broken\n_cell_length_a 3\n")


def test_layered_structure_keeps_its_formula_under_mixing() -> None:
    comp = LayeredComposition(0.8, 0.1, 0.1)
    plain, mixed = layered_oxide(comp, 2.87, 14.2), layered_oxide(comp, 2.87, 14.2, 0.1)
    assert plain.composition.almost_equals(mixed.composition)
    with pytest.raises(XRDAnalysisError, match="cation mixing"):
        layered_oxide(comp, 2.87, 14.2, 0.9)
    with pytest.raises(XRDAnalysisError, match="unknown dopant"):
        LayeredComposition(0.8, 0.1, 0.1, "Fe", 0.01)


def test_figure_renders(clean: Sample, tmp_path: Path) -> None:
    result = analyze_pattern(GRID, clean.counts, clean.library)
    fig = plot_fit(result)
    assert len(fig.axes) == 3
    out = tmp_path / "fit.png"
    fig.savefig(out)
    assert out.stat().st_size > 10_000
