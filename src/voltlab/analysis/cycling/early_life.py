"""Early prediction of cycle life: an elastic net on dQ(V) features (Severson et al. 2019).

log10(cycle life) is modelled as a linear function of standardised features, fitted with
scikit-learn's ElasticNetCV (penalty and L1 mix chosen by K-fold cross-validation). The
prediction interval comes from the out-of-fold residuals: the ``interval_level`` quantile of
|log10 residual| gives a multiplicative band around the prediction. A model is plain data (feature
definition, scaler, coefficients, interval), saved and loaded as JSON, so predicting needs no
scikit-learn object and no pickle.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.linear_model import ElasticNetCV
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from voltlab.analysis.cycling._errors import CyclingAnalysisError
from voltlab.analysis.cycling.features import (
    ALL_FEATURES,
    DELTA_Q_FEATURES,
    FeatureDefinition,
    early_life_features,
)
from voltlab.analysis.cycling.points import CyclingPoints

FORMAT_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).parent / "data" / "early_life_model.json"
L1_RATIOS = (0.1, 0.5, 0.7, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class LifePrediction:
    """Predicted cycles to end of life and the ``level`` interval [lower, upper] (cycles).

    ``in_training_range`` is False when a feature lies outside the training cells' range: the
    model then extrapolates and the number deserves less trust."""

    cycle_life: float
    lower: float
    upper: float
    level: float
    in_training_range: bool
    features: dict[str, float]


@dataclass(frozen=True)
class EarlyLifeModel:
    """A fitted model; tuples have one entry per name in ``feature_names``."""

    definition: FeatureDefinition
    feature_names: tuple[str, ...]
    scaler_mean: tuple[float, ...]
    scaler_scale: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    residual_std_log10: float
    interval_half_width_log10: float
    interval_level: float
    feature_min: tuple[float, ...]
    feature_max: tuple[float, ...]
    training: dict[str, float] = field(default_factory=dict)

    def predict_features(self, features: dict[str, float]) -> LifePrediction:
        """Prediction from precomputed features (a dict holding every ``feature_names`` key)."""
        missing = [n for n in self.feature_names if n not in features]
        if missing:
            raise CyclingAnalysisError(f"features lack {missing}")
        x = np.array([features[n] for n in self.feature_names])
        if not np.all(np.isfinite(x)):
            raise CyclingAnalysisError(
                f"non-finite features: {dict(zip(self.feature_names, x, strict=True))}"
            )
        z = (x - np.array(self.scaler_mean)) / np.array(self.scaler_scale)
        log_life = float(z @ np.array(self.coefficients) + self.intercept)
        inside = bool(np.all((x >= self.feature_min) & (x <= self.feature_max)))
        half = self.interval_half_width_log10
        return LifePrediction(
            cycle_life=10.0**log_life,
            lower=10.0 ** (log_life - half),
            upper=10.0 ** (log_life + half),
            level=self.interval_level,
            in_training_range=inside,
            features={n: features[n] for n in self.feature_names},
        )

    def predict(self, points: CyclingPoints) -> LifePrediction:
        """Prediction from a cell's points covering cycles 1..definition.cycle_late."""
        return self.predict_features(early_life_features(points, self.definition))

    def to_json(self) -> str:
        payload = {"format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(payload, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "EarlyLifeModel":
        try:
            payload = json.loads(text)
            version = payload.pop("format_version")
            if version != FORMAT_VERSION:
                raise CyclingAnalysisError(f"model format {version}, expected {FORMAT_VERSION}")
            definition = FeatureDefinition(**payload.pop("definition"))
            tuples = {k: tuple(v) for k, v in payload.items() if isinstance(v, list)}
            model = cls(definition=definition, **{**payload, **tuples})
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CyclingAnalysisError(f"not an early-life model: {exc}") from exc
        unknown = set(model.feature_names) - set(ALL_FEATURES)
        if unknown:
            raise CyclingAnalysisError(f"model uses unknown features {sorted(unknown)}")
        return model

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH) -> "EarlyLifeModel":
        """The model stored at ``path`` (default: the one trained on simulated fast-charge cells)."""
        return cls.from_json(Path(path).read_text())


def fit_early_life_model(
    features: list[dict[str, float]],
    cycle_lives: np.ndarray,
    definition: FeatureDefinition,
    feature_names: tuple[str, ...] = DELTA_Q_FEATURES,
    interval_level: float = 0.9,
    folds: int = 5,
    seed: int = 0,
) -> EarlyLifeModel:
    """Fit log10(cycle life) on ``features`` (one dict per cell) of cells with known
    ``cycle_lives`` (shape ``(cells,)``, cycles); deterministic for a given ``seed``."""
    lives = np.asarray(cycle_lives, dtype=float)
    if len(features) != len(lives) or len(lives) < 2 * folds:
        raise CyclingAnalysisError(
            f"{len(features)} feature rows for {len(lives)} lives; need equal counts >= {2 * folds}"
        )
    if not np.all(lives > 0):
        raise CyclingAnalysisError("cycle lives must be positive")
    unknown = set(feature_names) - set(ALL_FEATURES)
    if unknown:
        raise CyclingAnalysisError(f"unknown features {sorted(unknown)}")
    x = np.array([[row[n] for n in feature_names] for row in features])
    y = np.log10(lives)
    split = KFold(folds, shuffle=True, random_state=seed)

    def pipeline():
        return make_pipeline(
            StandardScaler(), ElasticNetCV(l1_ratio=list(L1_RATIOS), cv=split, max_iter=100_000)
        )

    out_of_fold = cross_val_predict(pipeline(), x, y, cv=split)
    fitted = pipeline().fit(x, y)
    scaler, net = fitted[0], fitted[1]
    residual = y - out_of_fold
    return EarlyLifeModel(
        definition=definition,
        feature_names=tuple(feature_names),
        scaler_mean=tuple(float(v) for v in scaler.mean_),
        scaler_scale=tuple(float(v) for v in scaler.scale_),
        coefficients=tuple(float(v) for v in net.coef_),
        intercept=float(net.intercept_),
        residual_std_log10=float(np.std(residual, ddof=1)),
        interval_half_width_log10=float(np.quantile(np.abs(residual), interval_level)),
        interval_level=interval_level,
        feature_min=tuple(float(v) for v in x.min(axis=0)),
        feature_max=tuple(float(v) for v in x.max(axis=0)),
        training={
            "cells": float(len(lives)),
            "life_min": float(lives.min()),
            "life_max": float(lives.max()),
            "alpha": float(net.alpha_),
            "l1_ratio": float(net.l1_ratio_),
            "cv_mape_pct": float(100 * np.mean(np.abs(10**out_of_fold / lives - 1))),
        },
    )
