"""Whole-pattern fit: phase scales, background and every phase's nonlinear parameters.

The model is  background + sum_p S_p profile_p(theta_p),  background = b0 SNIP(2theta) +
Chebyshev polynomial. It is linear in the scales and background coefficients, so those are
solved exactly (non-negative scales, by an active set on the normal equations) inside the
residual that ``scipy.optimize.least_squares`` minimises over the thetas (variable projection).
Residuals are Poisson-weighted, (y - model) / sqrt(max(y, 1)). The covariance of all parameters
comes from the full Jacobian at the optimum, scaled by the reduced chi-square.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from voltlab.analysis.xrd.models import PhaseModel

CHEBYSHEV_TERMS = 4
_FD_STEP = 1e-6


@dataclass(frozen=True)
class FitOutcome:
    """Refined parameters and their covariance.

    ``scales`` (P,), one per phase (0 for phases the fit rejects); ``thetas`` a list of (q_p,)
    arrays; ``covariance`` (K, K) over ``labels``: every active scale ("scale:<phase>"), the
    background coefficients ("bg:k") and every theta ("<phase>:<i>") of active phases.
    """

    scales: np.ndarray
    thetas: list[np.ndarray]
    labels: list[str]
    covariance: np.ndarray
    calculated: np.ndarray
    background: np.ndarray
    rwp: float
    rexp: float
    converged: bool
    message: str


class _Problem:
    """Pattern, weights and the fixed background basis shared by every residual evaluation."""

    def __init__(
        self, grid: np.ndarray, counts: np.ndarray, baseline: np.ndarray, phases: list[PhaseModel]
    ) -> None:
        self.grid, self.counts, self.phases = grid, counts, phases
        self.weight = 1.0 / np.sqrt(np.maximum(counts, 1.0))
        u = 2.0 * (grid - grid[0]) / (grid[-1] - grid[0]) - 1.0
        level = max(float(np.median(baseline)), 1.0)
        cheb = np.polynomial.chebyshev.chebvander(u, CHEBYSHEV_TERMS - 1) * level
        self.bg_basis = np.column_stack([baseline, cheb])
        self.sizes = [p.start.size for p in phases]
        self.splits = np.cumsum(self.sizes)[:-1]

    def thetas(self, flat: np.ndarray) -> list[np.ndarray]:
        return np.split(flat, self.splits)

    def design(self, flat: np.ndarray) -> np.ndarray:
        """Columns (n, P + B): phase profiles, then the background basis."""
        cols = [
            p.profile(self.grid, t) for p, t in zip(self.phases, self.thetas(flat), strict=True)
        ]
        return np.column_stack([*cols, self.bg_basis])

    def solve_linear(self, design: np.ndarray) -> np.ndarray:
        """Scales and background coefficients (P + B,) with every scale >= 0.

        Normal equations on unit-norm columns: a (P + B)^2 system, far cheaper than an SVD of
        the (n, P + B) design and accurate enough for a handful of well-scaled columns.
        """
        weighted = design * self.weight[:, None]
        norms = np.linalg.norm(weighted, axis=0)
        norms[norms == 0] = 1.0
        weighted /= norms
        gram = weighted.T @ weighted
        rhs = weighted.T @ (self.counts * self.weight)
        active = list(range(design.shape[1]))
        n_phases = len(self.phases)
        while True:
            coef = np.zeros(design.shape[1])
            sub = np.ix_(active, active)
            coef[active] = np.linalg.lstsq(gram[sub], rhs[active], rcond=None)[0]
            negative = [j for j in active if j < n_phases and coef[j] < 0]
            if not negative:
                return coef / norms
            active.remove(min(negative, key=lambda j: coef[j]))

    def residual(self, flat: np.ndarray) -> np.ndarray:
        design = self.design(flat)
        return (design @ self.solve_linear(design) - self.counts) * self.weight


def fit_pattern(
    grid: np.ndarray, counts: np.ndarray, baseline: np.ndarray, phases: list[PhaseModel]
) -> FitOutcome:
    """Refine ``phases`` against ``counts`` (n,) on ``grid`` (n,) degrees; ``baseline`` (n,) is
    the SNIP background estimate."""
    problem = _Problem(grid, counts, baseline, phases)
    start = np.concatenate([p.start for p in phases])
    lower = np.concatenate([p.lower for p in phases])
    upper = np.concatenate([p.upper for p in phases])
    result = least_squares(
        problem.residual,
        np.clip(start, lower, upper),
        bounds=(lower, upper),
        method="trf",
        x_scale="jac",
        xtol=1e-8,
        ftol=1e-8,
        max_nfev=200,
    )
    flat = result.x
    design = problem.design(flat)
    coef = problem.solve_linear(design)
    calculated = design @ coef
    n_phases = len(phases)
    background = problem.bg_basis @ coef[n_phases:]
    labels, covariance = _covariance(problem, flat, coef, calculated)
    wr = (counts - calculated) * problem.weight
    wy = counts * problem.weight
    dof = max(1, counts.size - len(labels))
    return FitOutcome(
        scales=coef[:n_phases].copy(),
        thetas=[t.copy() for t in problem.thetas(flat)],
        labels=labels,
        covariance=covariance,
        calculated=calculated,
        background=background,
        rwp=float(np.sqrt(np.sum(wr**2) / np.sum(wy**2))),
        rexp=float(np.sqrt(dof / np.sum(wy**2))),
        converged=bool(result.success),
        message=str(result.message),
    )


def _covariance(
    problem: _Problem, flat: np.ndarray, coef: np.ndarray, calculated: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Labels and covariance (K, K) of the active parameters from the weighted Jacobian."""
    n_phases = len(problem.phases)
    design = problem.design(flat)
    columns, labels = [], []
    for j, phase in enumerate(problem.phases):
        if coef[j] > 0:
            columns.append(design[:, j])
            labels.append(f"scale:{phase.name}")
    for k in range(problem.bg_basis.shape[1]):
        columns.append(design[:, n_phases + k])
        labels.append(f"bg:{k}")
    offset = 0
    for j, phase in enumerate(problem.phases):
        for i in range(phase.start.size):
            if coef[j] > 0:
                step = _FD_STEP * max(1.0, abs(flat[offset + i]))
                moved = flat.copy()
                moved[offset + i] += step
                columns.append((problem.design(moved) @ coef - calculated) / step)
                labels.append(f"{phase.name}:{i}")
        offset += phase.start.size
    jac = np.column_stack(columns) * problem.weight[:, None]
    residual = (calculated - problem.counts) * problem.weight
    dof = max(1, residual.size - jac.shape[1])
    reduced_chi2 = float(residual @ residual) / dof
    return labels, np.linalg.pinv(jac.T @ jac) * reduced_chi2
