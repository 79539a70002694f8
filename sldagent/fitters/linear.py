"""Batched linear least squares with box bounds, for the linear parameters of variable projection.

Columns are normalised first (scaling-law designs mix 1 and N**-0.3 ~ 1e-3) and one stacked SVD
reduces each tall problem ||A c - b|| to a tiny L x L one, ||M c - d||, with the same minimisers.
Bounds are enforced on the tiny problems by a few batched active-set rounds; the rare problem
that does not settle that way is handed to scipy's exact BVLS (still L x L, so cheap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

_ROUNDS = 2  # active-set rounds per coefficient before falling back to BVLS
_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class BoxSolution:
    """coef (B, L); free (B, L): coefficients not held at a bound; basis (B, m, L): orthonormal
    columns (zero where rank deficient) spanning the design's free columns, if asked for."""

    coef: np.ndarray
    free: np.ndarray
    basis: np.ndarray | None


def _svd(A: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD of a stack and which singular values count (numpy lstsq's default cutoff)."""
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    top = S[:, :1] if S.shape[1] else S
    keep = S > top * (max(rows, A.shape[2]) * _EPS)
    return U, S, Vt, keep


def _lstsq(M: np.ndarray, d: np.ndarray, rows: int) -> np.ndarray:
    """Minimum-norm least-squares coefficients for a stack of small systems."""
    U, S, Vt, keep = _svd(M, rows)
    inv = np.where(keep, 1.0 / np.where(keep, S, 1.0), 0.0)
    return ((inv * (d[:, None, :] @ U)[:, 0])[:, None, :] @ Vt)[:, 0]


def solve_box(
    A: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, want_basis: bool = False
) -> BoxSolution:
    """min ||A c - b|| subject to lo <= c <= hi, for each of a stack of problems.
    A (B, m, L) and b (B, m) must be finite."""
    B, m, L = A.shape
    norms = np.sqrt(np.sum(A * A, axis=1))
    norms = np.where((norms > 0) & np.isfinite(norms), norms, 1.0)
    U, S, Vt, keep = _svd(A / norms[:, None, :], m)
    # ||A_n c - b||^2 = ||M c - d||^2 + a constant, with M = S Vt (L x L) and d = U^T b
    M = np.where(keep[:, :, None], S[:, :, None] * Vt, 0.0)
    d = np.where(keep, (b[:, None, :] @ U)[:, 0], 0.0)
    coef = _lstsq(M, d, m)
    free = np.ones((B, L), dtype=bool)
    bounded = L > 0 and not (np.all(np.isinf(lo)) and np.all(np.isinf(hi)))
    if bounded:
        coef, free = _box(M, d, coef, lo[None, :] * norms, hi[None, :] * norms, m)
    basis = None
    if want_basis:
        if free.all():
            basis = U * keep[:, None, :]
        else:  # the span of the free columns: U times an orthonormal basis of M's free columns
            U2, _, _, keep2 = _svd(M * free[:, None, :], m)
            basis = U @ (U2 * keep2[:, None, :])
    return BoxSolution(coef / norms, free, basis)


def _box(
    M: np.ndarray, d: np.ndarray, coef: np.ndarray, lo: np.ndarray, hi: np.ndarray, rows: int
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
        coef[i] = np.where(free[i], _lstsq(M[i] * free[i][:, None, :], rhs, rows), held[i])
    for i in np.flatnonzero(unsettled):  # did not settle: exact bounded least squares
        res = lsq_linear(M[i], d[i], bounds=(lo[i], hi[i]), method="bvls")
        coef[i] = np.clip(res.x, lo[i], hi[i])
        free[i] = (coef[i] > lo[i]) & (coef[i] < hi[i])
    return coef, free
