"""The XRD pipeline: validate, subtract background, find peaks, identify and refine phases.

Pure: arrays in, an :class:`XRDResult` out. Quantification is Hill-Howard: the weight fraction
of phase p is W_p = S_p (Z M V)_p / sum_q S_q (Z M V)_q with S the refined scale factors.
"""

import logging

import numpy as np

from voltlab.analysis.xrd._errors import XRDAnalysisError
from voltlab.analysis.xrd._validation import require_coverage, validate_pattern
from voltlab.analysis.xrd.baseline import estimate_background
from voltlab.analysis.xrd.fit import FitOutcome, fit_pattern
from voltlab.analysis.xrd.identify import match_phase, unexplained_peaks
from voltlab.analysis.xrd.models import LayeredModel, PhaseModel, fixed_model, layered_model
from voltlab.analysis.xrd.peaks import LAYERED_003_WINDOW_DEG, PeakList, find_pattern_peaks
from voltlab.analysis.xrd.profile import InstrumentProfile
from voltlab.analysis.xrd.references import PhaseReference, ReferenceLibrary
from voltlab.analysis.xrd.result import LayeredResult, PhaseResult, XRDResult
from voltlab.analysis.xrd.sticks import hexagonal_two_theta

logger = logging.getLogger(__name__)

MARGIN_DEG = 5.0
"""Reflections this far outside the measured range still add their tails."""
LAYERED_RANGE_DEG = (17.0, 46.0)
"""The layered phase's (003) and (104) must be measured to quantify it."""
START_MIXING = 0.03
START_SIZE_NM = 50.0
TICK_FRACTION = 0.01
MAX_GOODNESS_OF_FIT = 2.0


def analyze_pattern(
    two_theta: object,
    counts: object,
    library: ReferenceLibrary,
    phases: tuple[str, ...] | None = None,
    instrument: InstrumentProfile | None = None,
) -> XRDResult:
    """Identify and quantify ``phases`` (default: the whole ``library``) in a powder pattern.

    ``two_theta`` (n,) degrees, strictly increasing; ``counts`` (n,) counts per step.
    Raises :class:`XRDAnalysisError` on unusable input; questionable results come back with
    ``confidence == "low"`` and the reasons in ``warnings``.
    """
    instrument = instrument or InstrumentProfile()
    x, y = validate_pattern(two_theta, counts)
    refs = library.select(phases)
    background = estimate_background(x, y)
    peaks = find_pattern_peaks(x, y, background)
    if len(peaks) == 0:
        raise XRDAnalysisError("no diffraction peaks above the counting noise (pure background?)")
    warnings: list[str] = []
    models = _build_models(x, peaks, refs, instrument, warnings)
    outcome = fit_pattern(x, y, background, models)
    return _result(x, y, peaks, models, outcome, warnings)


def _build_models(
    x: np.ndarray,
    peaks: PeakList,
    refs: list[PhaseReference],
    instrument: InstrumentProfile,
    warnings: list[str],
) -> list[PhaseModel]:
    lo, hi = x[0] - MARGIN_DEG, x[-1] + MARGIN_DEG
    models: list[PhaseModel] = []
    for ref in refs:
        if ref.layered is None:
            models.append(fixed_model(ref, instrument, lo, hi, START_SIZE_NM))
            continue
        require_coverage(x, *LAYERED_RANGE_DEG, "the layered phase's (003) and (104) peaks")
        start = _layered_start(peaks, ref, instrument)
        if start is None:
            warnings.append(f"no (003) peak of the layered phase {ref.name!r}: left out of the fit")
            continue
        a, c, size = start
        models.append(layered_model(ref, instrument, lo, hi, a, c, START_MIXING, size))
    if not models:
        raise XRDAnalysisError("none of the requested phases can be fitted to this pattern")
    return models


def _nearest_peak(peaks: PeakList, target: float, within: float) -> int | None:
    gap = np.abs(peaks.two_theta - target)
    j = int(np.argmin(gap))
    return j if gap[j] <= within else None


def _layered_start(
    peaks: PeakList, ref: PhaseReference, instrument: InstrumentProfile
) -> tuple[float, float, float] | None:
    """Starting a, c (Angstrom) and size (nm): c from (003), a from (104) given c, size from
    the (003) width after removing the instrument's."""
    lam = instrument.wavelength_angstrom
    in_window = (peaks.two_theta >= LAYERED_003_WINDOW_DEG[0]) & (
        peaks.two_theta <= LAYERED_003_WINDOW_DEG[1]
    )
    if not in_window.any():
        return None
    j003 = int(np.flatnonzero(in_window)[np.argmax(peaks.height[in_window])])
    t003 = peaks.two_theta[j003]
    c = 3.0 * lam / (2.0 * np.sin(np.radians(t003) / 2.0))
    a = ref.structure.lattice.a
    guess104 = hexagonal_two_theta(np.array([[1, 0, 4]]), a, c, lam)[0]
    j104 = _nearest_peak(peaks, guess104, 0.8)
    if j104 is not None:
        inv_d2 = (2.0 * np.sin(np.radians(peaks.two_theta[j104]) / 2.0) / lam) ** 2
        in_plane = inv_d2 - 16.0 / c**2
        if in_plane > 0:
            a = float(np.sqrt(4.0 / (3.0 * in_plane)))
    gauss = instrument.gaussian_fwhm(np.array([t003]))[0]
    lorentz = max(peaks.fwhm[j003] - gauss**2 / peaks.fwhm[j003], 0.2 * gauss)
    size = instrument.scherrer_k * lam / (np.radians(lorentz) * np.cos(np.radians(t003) / 2.0))
    return float(a), float(c), float(np.clip(size / 10.0, 5.0, 1000.0))


def _std(outcome: FitOutcome, label: str) -> float:
    i = outcome.labels.index(label)
    return float(np.sqrt(max(outcome.covariance[i, i], 0.0)))


def _weight_fractions(
    models: list[PhaseModel], outcome: FitOutcome
) -> tuple[np.ndarray, np.ndarray]:
    """Hill-Howard fractions (P,) and their standard deviations from the scales' covariance."""
    zmv = np.array([m.zmv(t) for m, t in zip(models, outcome.thetas, strict=True)])
    mass = outcome.scales * zmv
    total = mass.sum()
    fractions = mass / total
    active = [j for j, m in enumerate(models) if f"scale:{m.name}" in outcome.labels]
    idx = [outcome.labels.index(f"scale:{models[j].name}") for j in active]
    cov = outcome.covariance[np.ix_(idx, idx)]
    grad = (np.eye(len(active)) * total - mass[active][:, None]) * zmv[active][None, :] / total**2
    std = np.zeros(len(models))
    std[active] = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", grad, cov, grad), 0.0))
    return fractions, std


def _intensity_ratio(model: LayeredModel, theta: np.ndarray) -> float:
    hkl, intensity = model.intensities(theta)
    rows = {tuple(h): i for i, h in enumerate(hkl)}
    return float(intensity[rows[(0, 0, 3)]] / intensity[rows[(1, 0, 4)]])


def _layered_result(model: LayeredModel, theta: np.ndarray, outcome: FitOutcome) -> LayeredResult:
    labels = [f"{model.name}:{i}" for i in range(3)]
    idx = [outcome.labels.index(lab) for lab in labels]
    ratio = _intensity_ratio(model, theta)
    grad = np.empty(3)
    for i in range(3):
        step = 1e-6 * max(1.0, abs(theta[i]))
        moved = theta.copy()
        moved[i] += step
        grad[i] = (_intensity_ratio(model, moved) - ratio) / step
    ratio_var = grad @ outcome.covariance[np.ix_(idx, idx)] @ grad
    size = float(np.exp(theta[3]))
    return LayeredResult(
        a=float(theta[0]),
        a_std=_std(outcome, labels[0]),
        c=float(theta[1]),
        c_std=_std(outcome, labels[1]),
        cation_mixing=float(theta[2]),
        cation_mixing_std=_std(outcome, labels[2]),
        crystallite_size_nm=size,
        crystallite_size_std_nm=size * _std(outcome, f"{model.name}:3"),
        i003_i104=ratio,
        i003_i104_std=float(np.sqrt(max(ratio_var, 0.0))),
    )


def _result(
    x: np.ndarray,
    y: np.ndarray,
    peaks: PeakList,
    models: list[PhaseModel],
    outcome: FitOutcome,
    warnings: list[str],
) -> XRDResult:
    fractions, fraction_std = _weight_fractions(models, outcome)
    phases, ticks, layered = [], {}, None
    for model, theta, wf, wf_std in zip(
        models, outcome.thetas, fractions, fraction_std, strict=True
    ):
        centres, intensity = model.sticks(theta)
        match = match_phase(model.name, centres, intensity, peaks, x[0], x[-1])
        active = f"scale:{model.name}" in outcome.labels
        detected = active and wf > 3.0 * wf_std
        size_label = f"{model.name}:{theta.size - 1}"
        size = model.size_nm(theta) if active else None
        size_std = size * _std(outcome, size_label) if size is not None else None
        phases.append(
            PhaseResult(model.name, float(wf), float(wf_std), detected, size, size_std, match)
        )
        if detected:
            shown = (
                (centres >= x[0])
                & (centres <= x[-1])
                & (intensity >= TICK_FRACTION * intensity.max())
            )
            ticks[model.name] = centres[shown]
            if isinstance(model, LayeredModel):
                layered = _layered_result(model, theta, outcome)
                _check_bounds(model, theta, warnings)
    _check_fit(peaks, ticks, outcome, warnings)
    for text in warnings:
        logger.info("low-confidence XRD result: %s", text)
    return XRDResult(
        phases=tuple(phases),
        layered=layered,
        rwp=outcome.rwp,
        rexp=outcome.rexp,
        confidence="low" if warnings else "high",
        warnings=tuple(warnings),
        two_theta=x,
        observed=y,
        calculated=outcome.calculated,
        background=outcome.background,
        ticks=ticks,
        peaks=peaks,
    )


def _check_bounds(model: LayeredModel, theta: np.ndarray, warnings: list[str]) -> None:
    names = ("a", "c", "cation mixing", "crystallite size")
    span = model.upper - model.lower
    for i, name in enumerate(names):
        if name == "cation mixing" and theta[i] <= model.lower[i] + 1e-9:
            continue  # no mixing is a physical answer, not a stuck refinement
        if min(theta[i] - model.lower[i], model.upper[i] - theta[i]) < 1e-6 * span[i]:
            warnings.append(f"layered {name} stopped at its bound ({theta[i]:.4g})")


def _check_fit(
    peaks: PeakList, ticks: dict[str, np.ndarray], outcome: FitOutcome, warnings: list[str]
) -> None:
    if not outcome.converged:
        warnings.append(f"refinement did not converge: {outcome.message}")
    gof = outcome.rwp / outcome.rexp
    if gof > MAX_GOODNESS_OF_FIT:
        warnings.append(f"poor fit: Rwp/Rexp = {gof:.2f} > {MAX_GOODNESS_OF_FIT}")
    stray = unexplained_peaks(peaks, list(ticks.values()))
    if stray.size:
        listed = ", ".join(f"{t:.2f}" for t in stray[:5])
        warnings.append(f"{stray.size} peaks no phase explains (degrees: {listed})")
    if not ticks:
        warnings.append("no phase detected above three standard deviations")
