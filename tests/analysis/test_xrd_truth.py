"""The XRD analysis recovers the simulator's truth on clean, impure and high-mixing powders."""

import numpy as np
import pytest

from tests.analysis.conftest import GRID, RECIPES, Sample
from voltlab.analysis.xrd import XRDResult, analyze_pattern


@pytest.fixture(scope="module")
def results(samples: dict[str, Sample]) -> dict[str, XRDResult]:
    return {name: analyze_pattern(GRID, s.counts, s.library) for name, s in samples.items()}


@pytest.mark.parametrize("name", list(RECIPES))
def test_weight_fractions_match_truth(
    name: str, samples: dict[str, Sample], results: dict[str, XRDResult]
) -> None:
    truth = samples[name].product
    found = results[name].weight_fractions()
    assert found["layered"] == pytest.approx(truth.layered_fraction, abs=0.025)
    assert found["rocksalt"] == pytest.approx(truth.rocksalt_fraction, abs=0.025)
    assert found["li2co3"] == pytest.approx(truth.li2co3_fraction, abs=0.025)
    assert sum(found.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", list(RECIPES))
def test_lattice_size_and_mixing_match_truth(
    name: str, samples: dict[str, Sample], results: dict[str, XRDResult]
) -> None:
    truth = samples[name].product
    layered = results[name].layered
    assert layered is not None
    assert layered.a == pytest.approx(truth.lattice_a, abs=0.003)
    assert layered.c == pytest.approx(truth.lattice_c, abs=0.006)
    assert layered.crystallite_size_nm == pytest.approx(truth.crystallite_size_nm, rel=0.15)
    assert layered.cation_mixing == pytest.approx(truth.cation_mixing, abs=0.01)


def test_uncertainties_are_positive_and_honest(
    samples: dict[str, Sample], results: dict[str, XRDResult]
) -> None:
    for name, result in results.items():
        layered, truth = result.layered, samples[name].product
        assert layered is not None
        assert 0 < layered.a_std < 0.003 and 0 < layered.c_std < 0.01
        # The refined lattice lies within a few of its own standard deviations of the truth.
        assert abs(layered.a - truth.lattice_a) < 5 * layered.a_std + 3 * 0.0008
        assert all(p.weight_fraction_std > 0 for p in result.phases if p.weight_fraction > 0)


def test_impurities_are_detected(results: dict[str, XRDResult]) -> None:
    assert results["under_fired"].phase("li2co3").detected
    assert results["over_fired_high_mixing"].phase("rocksalt").detected
    assert results["over_fired_high_mixing"].phase("rocksalt").match.score > 0.9
    assert not results["clean_nmc811"].phase("rocksalt").detected


def test_cation_mixing_lowers_i003_i104(results: dict[str, XRDResult]) -> None:
    clean = results["clean_nmc811"].layered
    mixed = results["over_fired_high_mixing"].layered
    assert clean is not None and mixed is not None
    assert mixed.cation_mixing > clean.cation_mixing + 0.1
    assert mixed.i003_i104 < 0.5 * clean.i003_i104
    assert clean.i003_i104_std > 0


def test_fit_quality_is_reported(results: dict[str, XRDResult]) -> None:
    for result in results.values():
        assert result.goodness_of_fit == pytest.approx(1.0, abs=0.3)
        assert result.confidence == "high", result.warnings
        assert np.all(np.isfinite(result.calculated))
