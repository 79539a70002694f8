"""Batched Levenberg-Marquardt with box bounds: many small least-squares problems at once.

A fit is dozens of small problems (groups x starts) of the same law; solving them in lockstep
turns per-problem Python overhead into a few numpy calls over a stack. Each problem keeps its
own damping, step acceptance and stopping, so its path does not depend on its neighbours.

A problem is handed over reduced: the R factor of [Jacobian | residuals], which the caller
accumulates over slices of rows (Reduction), so memory does not grow with the rows and every
step works on (p+1) x p matrices however many rows there are. Robust losses use the same
residual/Jacobian rescaling as scipy.optimize.least_squares, applied row by row before the
reduction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BAD_RESIDUAL = 1e6  # stands in for a non-finite residual (in units of the target's std)
_EPS = np.finfo(float).eps
_BACK_OFF = 0.995  # fraction of the way to a bound that a step crossing it goes
_SECULAR_ROUNDS = 10  # at most this many Newton steps for the damping that fits the radius


@dataclass(frozen=True)
class Reduced:
    """Problems reduced to small factors: cost (b,) = 0.5 * sum of the loss (inf if any
    residual is bad); r (b, q) and J (b, q, p) with ||r + J dx|| = ||residuals + Jacobian dx||
    for every dx (in the robust loss's Gauss-Newton scaling)."""

    cost: np.ndarray
    r: np.ndarray
    J: np.ndarray


# evaluate(x (b, p), which (b,) problem indices) -> the problems reduced at x
Evaluate = Callable[[np.ndarray, np.ndarray], Reduced]


class Reduction:
    """Accumulates the R factor of stacked row blocks (b, rows, q): the R of all rows so far."""

    def __init__(self, b: int, q: int):
        self.R = np.zeros((b, q, q))

    def add(self, block: np.ndarray) -> None:
        if block.shape[1]:
            self.R = np.linalg.qr(np.concatenate([self.R, block], axis=1), mode="r")


@dataclass(frozen=True)
class Solution:
    """Per problem: parameters, cost (0.5 * sum of loss; inf if the start was unusable), the
    number of residual evaluations spent and the cost at the start."""

    x: np.ndarray
    cost: np.ndarray
    nfev: np.ndarray
    start_cost: np.ndarray


FIELDS = ("x", "cost", "nfev", "start_cost")


def reduce(r: np.ndarray, J: np.ndarray, loss: str = "linear", f_scale: float = 1.0) -> Reduced:
    """Residuals (b, m) and Jacobian (b, m, p) of whole problems, reduced."""
    b, _, p = J.shape
    rs, Js = scaled(r, J, loss, f_scale)
    acc = Reduction(b, p + 1)
    acc.add(np.concatenate([Js, rs[:, :, None]], axis=2))
    return Reduced(robust_cost(r, loss, f_scale), acc.R[:, :, p], acc.R[:, :, :p])


def robust_cost(r: np.ndarray, loss: str, f_scale: float) -> np.ndarray:
    """0.5 * sum of rho over each row of r (scipy's convention); inf if any residual is bad."""
    if loss == "linear":
        cost = 0.5 * np.sum(r * r, axis=-1)
    else:
        cost = 0.5 * f_scale**2 * np.sum(_rho(r, loss, f_scale)[0], axis=-1)
    return np.where(np.all(np.abs(r) < BAD_RESIDUAL, axis=-1), cost, np.inf)


def _rho(r: np.ndarray, loss: str, f_scale: float) -> tuple[np.ndarray, ...]:
    z = (r / f_scale) ** 2
    if loss == "soft_l1":
        t = 1 + z
        return 2 * (np.sqrt(t) - 1), t**-0.5, -0.5 * t**-1.5, z
    big = z > 1  # huber
    zs = np.where(big, z, 1.0)
    return (
        np.where(big, 2 * np.sqrt(zs) - 1, z),
        np.where(big, zs**-0.5, 1.0),
        np.where(big, -0.5 * zs**-1.5, 0.0),
        z,
    )


def scaled(r: np.ndarray, J: np.ndarray, loss: str, f_scale: float):
    """Residuals and Jacobian of the Gauss-Newton model of a robust loss (as scipy scales them)."""
    if loss == "linear":
        return r, J
    _, rho1, rho2, z = _rho(r, loss, f_scale)
    js = np.sqrt(np.maximum(rho1 + 2 * rho2 * z, _EPS))
    return r * rho1 / js, J * js[..., None]


def _levenberg(S: np.ndarray, ur: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """The damping lambda whose step -V S/(S^2 + lambda) U^T r has about the length `radius`
    (0 where the Gauss-Newton step is already inside): Newton on Hebden's 1/|step| form from
    below, stopped within 10% as MINPACK does (the caller trims the step to the radius)."""
    a2, s2 = (S * ur) ** 2, S * S
    lam = np.zeros(len(S))
    for _ in range(_SECULAR_ROUNDS):
        den = s2 + lam[:, None]
        den = np.where(den > 0, den, np.inf)
        q2 = np.sum(a2 / den**2, axis=1)
        long = q2 > (1.1 * radius) ** 2
        if not long.any():
            break
        slope = np.sum(a2 / den**3, axis=1)
        long &= slope > 0
        step = (np.sqrt(q2) / radius - 1) * q2 / np.where(long, slope, 1.0)
        lam = np.where(long, lam + step, lam)
    return lam


def minimise(
    evaluate: Evaluate,
    x0: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    max_nfev: int,
    tol: float,
    check_time: Callable[[], None] = lambda: None,
) -> Solution:
    """Minimise each problem's cost from its start x0[b], keeping lo <= x <= hi.

    A trust-region Levenberg-Marquardt step (as MINPACK's, variables scaled by their Jacobian
    column norms, like scipy's x_scale="jac"). Variables at a bound whose gradient points
    outwards are held for the step, and a step never crosses into a bound. A problem stops when
    its cost or step stalls (relative `tol`), its scaled gradient vanishes, or it has used
    `max_nfev` evaluations."""
    x = np.clip(np.array(x0, dtype=float), lo, hi)
    B, p = x.shape
    at = evaluate(x, np.arange(B))
    cost, r, J = at.cost.copy(), at.r.copy(), at.J.copy()
    start_cost = cost.copy()
    nfev = np.ones(B, dtype=int)
    if p == 0:
        return Solution(x, cost, nfev, start_cost)
    col_scale = np.zeros((B, p))
    radius = np.full(B, np.nan)  # trust radius in scaled variables, set at the first step
    active = np.isfinite(cost) & (nfev < max_nfev)
    while active.any():
        check_time()
        idx = np.flatnonzero(active)
        xs, rr, JJ = x[idx], r[idx], J[idx]
        g = (rr[:, None, :] @ JJ)[:, 0]
        held = ((xs <= lo) & (g > 0)) | ((xs >= hi) & (g < 0))
        col_scale[idx] = np.maximum(col_scale[idx], np.sqrt(np.sum(JJ * JJ, axis=1)))
        d = np.where(col_scale[idx] > 0, col_scale[idx], 1.0)
        first = np.isnan(radius[idx])
        start_radius = np.linalg.norm(xs * d, axis=1)
        radius[idx[first]] = np.where(start_radius > 0, start_radius, 1.0)[first]
        Js = np.where(held[:, None, :], 0.0, JJ / d[:, None, :])
        small_gradient = np.max(np.abs(np.where(held, 0.0, g / d)), axis=1) < tol
        U, S, Vt = np.linalg.svd(Js, full_matrices=False)
        S = np.where(S > S[:, :1] * (max(Js.shape[1:]) * _EPS), S, 0.0)
        ur = (rr[:, None, :] @ U)[:, 0]
        lam = _levenberg(S, ur, radius[idx])[:, None]
        den = S * S + lam
        coef = np.where(den > 0, S / np.where(den > 0, den, 1.0), 0.0) * ur
        scaled = -(coef[:, None, :] @ Vt)[:, 0]
        scaled_norm = np.linalg.norm(scaled, axis=1)
        too_long = scaled_norm > radius[idx]  # the secular solve stops a little short
        scaled *= np.where(too_long, radius[idx] / np.where(too_long, scaled_norm, 1.0), 1.0)[
            :, None
        ]
        # a step that would cross a bound goes 99.5% of the way to it instead (per variable), so
        # iterates stay inside the box, where laws like x**q are still differentiable
        step = np.where(held, 0.0, scaled / d)
        room_lo, room_hi = lo - xs, hi - xs
        step = np.where(step > room_hi, _BACK_OFF * room_hi, step)
        step = np.where(step < room_lo, _BACK_OFF * room_lo, step)
        x_new = np.clip(xs + step, lo, hi)
        dx = x_new - xs
        Jdx = (JJ @ dx[:, :, None])[:, :, 0]
        predicted = -np.sum((rr + 0.5 * Jdx) * Jdx, axis=1)
        trial = evaluate(x_new, idx)
        nfev[idx] += 1
        cost_new, r_new, J_new = trial.cost, trial.r, trial.J
        actual = cost[idx] - cost_new
        accept = np.isfinite(cost_new) & (actual > 0)
        ratio = np.where(predicted > 0, actual / np.where(predicted > 0, predicted, 1.0), 0.0)
        ratio = np.where(np.isfinite(cost_new), ratio, -1.0)

        # trust radius: shrink after a poor prediction, grow after a good one that hit the edge
        step_scaled = np.linalg.norm(dx * d, axis=1)
        shrink, grow = ratio < 0.25, (ratio > 0.75) & (step_scaled > 0.95 * radius[idx])
        radius[idx] = np.where(shrink, 0.25 * step_scaled, radius[idx])
        radius[idx] = np.where(grow, 2.0 * radius[idx], radius[idx])

        a = idx[accept]
        x[a], r[a], J[a], cost[a] = x_new[accept], r_new[accept], J_new[accept], cost_new[accept]
        small_cost = accept & (actual < tol * (cost[idx] + actual)) & (ratio > 0.25)
        small_step = np.linalg.norm(dx, axis=1) <= tol * (tol + np.linalg.norm(xs, axis=1))
        done = small_gradient | small_cost | small_step | (nfev[idx] >= max_nfev)
        active[idx[done]] = False
    return Solution(x, cost, nfev, start_cost)
