"""Batched linear least squares with box bounds, for the linear parameters of variable projection.

The problems come reduced: min ||M c - d|| with M the small R factor of the design and d the
matching part of the right-hand side (sldagent.fitters.lm.Reduction), which has the same
minimisers as the tall problem. Columns are normalised first (scaling-law designs mix 1 and
N**-0.3 ~ 1e-3); bounds are enforced by a few batched active-set rounds, and the rare problem
that does not settle that way is handed to scipy's exact BVLS (still tiny, so cheap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

_ROUNDS = 2  # active-set rounds per coefficient before falling back to BVLS
_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class BoxSolution:
    """coef (B, L); free (B, L): coefficients not held at a bound."""

    coef: np.ndarray
    free: np.ndarray


def orthonormal(A: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning each A (B, q, L) of a stack; columns beyond its rank (by
    numpy lstsq's cutoff) are zero."""
    U, S, _ = np.linalg.svd(A, full_matrices=False)
    top = S[:, :1] if S.shape[1] else S
    return U * (S > top * (max(A.shape[1:]) * _EPS))[:, None, :]


def _lstsq(M: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares coefficients for a stack of small systems."""
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    top = S[:, :1] if S.shape[1] else S
    keep = S > top * (max(M.shape[1:]) * _EPS)
    inv = np.where(keep, 1.0 / np.where(keep, S, 1.0), 0.0)
    return ((inv * (d[:, None, :] @ U)[:, 0])[:, None, :] @ Vt)[:, 0]


def solve_box(M: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> BoxSolution:
    """min ||M c - d|| subject to lo <= c <= hi, for each of a stack of problems.
    M (B, q, L) and d (B, q) must be finite."""
    B, _, L = M.shape
    norms = np.sqrt(np.sum(M * M, axis=1))
    norms = np.where((norms > 0) & np.isfinite(norms), norms, 1.0)
    Mn = M / norms[:, None, :]
    coef = _lstsq(Mn, d)
    free = np.ones((B, L), dtype=bool)
    if L and not (np.all(np.isinf(lo)) and np.all(np.isinf(hi))):
        coef, free = _box(Mn, d, coef, lo[None, :] * norms, hi[None, :] * norms)
    return BoxSolution(coef / norms, free)


def _box(
    M: np.ndarray, d: np.ndarray, coef: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Active-set rounds from the unbounded solution: hold coefficients that leave the box at
    the bound they crossed, release held ones whose gradient points back inside."""
    B, L = coef.shape
    free = np.ones((B, L), dtype=bool)
    held = np.zeros((B, L))
    tol = 1e-9 * np.linalg.norm(d, axis=1)[:, None]
    unsettled = np.ones(B, dtype=bool)
    for _ in range(_ROUNDS * L + 1):
        over_lo, over_hi = free & (coef < lo), free & (coef > hi)
        moved = over_lo | over_hi
        grad = (((M @ coef[:, :, None])[:, :, 0] - d)[:, None, :] @ M)[:, 0]
        release = ~free & (((coef <= lo) & (grad < -tol)) | ((coef >= hi) & (grad > tol)))
        release &= ~moved.any(axis=1)[:, None]  # first bring everything inside the box
        unsettled = (moved | release).any(axis=1)
        if not unsettled.any():
            return coef, free
        held = np.where(over_lo, lo, np.where(over_hi, hi, held))
        free = (free & ~moved) | release
        i = np.flatnonzero(unsettled)
        fixed = np.where(free[i], 0.0, held[i])
        rhs = d[i] - (M[i] @ fixed[:, :, None])[:, :, 0]
        coef[i] = np.where(free[i], _lstsq(M[i] * free[i][:, None, :], rhs), held[i])
    for i in np.flatnonzero(unsettled):  # did not settle: exact bounded least squares
        res = lsq_linear(M[i], d[i], bounds=(lo[i], hi[i]), method="bvls")
        coef[i] = np.clip(res.x, lo[i], hi[i])
        free[i] = (coef[i] > lo[i]) & (coef[i] < hi[i])
    return coef, free
