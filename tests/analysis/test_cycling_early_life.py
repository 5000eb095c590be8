"""Early-life model: fitting, JSON round trip, the committed model on simulated cells, refusals."""

import json

import numpy as np
import pytest

from voltlab.analysis.cycling import (
    DELTA_Q_FEATURES,
    CyclingAnalysisError,
    CyclingPoints,
    EarlyLifeModel,
    FeatureDefinition,
    early_life_features,
    fit_early_life_model,
)
from voltlab.protocol.cycler import FastChargeCycling
from voltlab.simulated_hardware.world.cell_model import simulate_cell
from voltlab.simulated_hardware.world.fast_charge import cycle_life_truth, fast_charge_cell_spec

DEFINITION = FeatureDefinition(cycle_early=5, cycle_late=50)


def synthetic_training(n: int = 40, seed: int = 0) -> tuple[list[dict[str, float]], np.ndarray]:
    """Features with log10 life = 3 - 0.4 * (log10 var + 8) + small noise; others are noise."""
    rng = np.random.default_rng(seed)
    log_var = rng.uniform(-9.0, -7.0, n)
    rows = [
        {
            "log10_var_dq": v,
            "log10_abs_min_dq": v / 2 + rng.normal(0, 0.3),
            "mean_dq": rng.normal(0, 1e-4),
            "skew_dq": rng.normal(),
            "kurtosis_dq": rng.normal(),
        }
        for v in log_var
    ]
    lives = 10 ** (3.0 - 0.4 * (log_var + 8.0) + rng.normal(0, 0.01, n))
    return rows, lives


@pytest.fixture(scope="module")
def fitted() -> EarlyLifeModel:
    rows, lives = synthetic_training()
    return fit_early_life_model(rows, lives, DEFINITION, DELTA_Q_FEATURES)


def test_fit_recovers_a_known_relation(fitted):
    rows, lives = synthetic_training(20, seed=1)
    predicted = np.array([fitted.predict_features(r).cycle_life for r in rows])
    assert np.mean(np.abs(predicted / lives - 1)) < 0.05
    assert fitted.training["cv_mape_pct"] < 5
    inside = [
        p.lower <= life <= p.upper
        for p, life in zip((fitted.predict_features(r) for r in rows), lives, strict=True)
    ]
    assert np.mean(inside) >= 0.7


def test_json_round_trip_gives_identical_predictions(fitted, tmp_path):
    path = tmp_path / "model.json"
    fitted.save(path)
    loaded = EarlyLifeModel.load(path)
    assert loaded == fitted
    rows, _ = synthetic_training(5, seed=2)
    for row in rows:
        assert loaded.predict_features(row) == fitted.predict_features(row)
    payload = json.loads(path.read_text())
    assert payload["definition"]["cycle_early"] == 5 and payload["definition"]["cycle_late"] == 50
    assert payload["feature_names"] == list(DELTA_Q_FEATURES)
    assert len(payload["coefficients"]) == len(payload["scaler_mean"]) == 5


def test_fit_is_deterministic(fitted):
    rows, lives = synthetic_training()
    assert fit_early_life_model(rows, lives, DEFINITION, DELTA_Q_FEATURES) == fitted


def test_out_of_range_features_are_flagged(fitted):
    row = dict(synthetic_training(1, seed=3)[0][0], log10_var_dq=-3.0)
    assert not fitted.predict_features(row).in_training_range


def test_bad_models_and_features_are_refused(fitted, tmp_path):
    with pytest.raises(CyclingAnalysisError, match="not an early-life model"):
        EarlyLifeModel.from_json('{"format_version": 1}')
    payload = json.loads(fitted.to_json())
    payload["feature_names"][0] = "colour"
    with pytest.raises(CyclingAnalysisError, match="unknown features"):
        EarlyLifeModel.from_json(json.dumps(payload))
    with pytest.raises(CyclingAnalysisError, match="lack"):
        fitted.predict_features({"log10_var_dq": -8.0})
    with pytest.raises(CyclingAnalysisError, match="non-finite"):
        fitted.predict_features({n: np.nan for n in DELTA_Q_FEATURES})
    rows, lives = synthetic_training()
    with pytest.raises(CyclingAnalysisError, match="feature rows"):
        fit_early_life_model(rows[:5], lives[:5], DEFINITION)
    with pytest.raises(CyclingAnalysisError, match="positive"):
        fit_early_life_model(rows, -lives, DEFINITION)
    with pytest.raises(CyclingAnalysisError, match="cycle_early"):
        FeatureDefinition(cycle_early=50, cycle_late=10)


PROTOCOLS = {
    "long_life": FastChargeCycling(cycles=100, cc1_c_rate=5.2, cc2_c_rate=4.6),
    "short_life": FastChargeCycling(cycles=100, cc1_c_rate=7.5, cc2_c_rate=7.0),
}


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> dict[str, tuple[CyclingPoints, float]]:
    cache = tmp_path_factory.mktemp("cells")
    out = {}
    for name, protocol in PROTOCOLS.items():
        trace = simulate_cell(cache, 0, fast_charge_cell_spec(name, protocol), protocol, 10.0)
        points = CyclingPoints(trace.time_s, trace.voltage_v, trace.current_a, trace.cycle)
        out[name] = (points, cycle_life_truth(protocol))
    return out


def test_committed_model_predicts_simulated_cells(cells):
    model = EarlyLifeModel.load()
    assert (model.definition.cycle_early, model.definition.cycle_late) == (10, 100)
    for points, truth in cells.values():
        prediction = model.predict(points)
        assert prediction.cycle_life == pytest.approx(truth, rel=0.15)
        assert prediction.lower < prediction.cycle_life < prediction.upper
        assert prediction.in_training_range
    long, short = (model.predict(cells[n][0]).cycle_life for n in ("long_life", "short_life"))
    assert long > 1.2 * short


def test_features_need_the_late_cycle(cells):
    points, _ = cells["long_life"]
    early = points.select(points.cycle <= 60)
    with pytest.raises(CyclingAnalysisError, match="need cycle 100; data end at cycle 60"):
        EarlyLifeModel.load().predict(early)
    features = early_life_features(early, DEFINITION)
    assert features["log10_var_dq"] < 0 and features["mean_dq"] < 0


def test_a_truncated_needed_cycle_is_refused(cells):
    points, _ = cells["long_life"]
    gap = points.select(~((points.cycle == 10) & (points.current_a > 0)))
    with pytest.raises(CyclingAnalysisError, match=r"cycle\(s\) \[10\] missing or incomplete"):
        early_life_features(gap, FeatureDefinition())
