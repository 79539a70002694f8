"""Tests of sldagent.fitters.linear: batched box-bounded least squares equals scipy's exact
BVLS, problem by problem, and its basis spans the free columns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from sldagent.fitters.linear import solve_box


def _problems(seed: int, B: int = 60, m: int = 25, L: int = 4):
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-4, 4, (B, 1, L))  # badly scaled columns, as in scaling laws
    A = rng.normal(size=(B, m, L)) * scales
    b = rng.normal(size=(B, m)) * 3
    return A, b


def _cost(A, b, c):
    return float(np.sum((A @ c - b) ** 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounded_solutions_match_scipy_bvls(seed):
    A, b = _problems(seed)
    lo = np.array([0.0, -1.0, -np.inf, 0.5])
    hi = np.array([np.inf, 1.0, 2.0, 3.0])
    sol = solve_box(A, b, lo, hi)
    held = 0
    for i in range(len(A)):
        c = sol.coef[i]
        assert np.all(c >= lo - 1e-9 * np.abs(lo).clip(1)) and np.all(c <= hi + 1e-9 * hi.clip(1))
        exact = lsq_linear(A[i], b[i], bounds=(lo, hi), method="bvls", tol=1e-12).x
        assert _cost(A[i], b[i], c) <= _cost(A[i], b[i], exact) * (1 + 1e-9) + 1e-12
        held += int((~sol.free[i]).sum())
    assert held > 0  # the bounds were active somewhere, so the test says something


def test_unbounded_solution_is_least_squares_and_basis_spans_free_columns():
    A, b = _problems(3, B=10)
    inf = np.full(4, np.inf)
    sol = solve_box(A, b, -inf, inf, want_basis=True)
    for i in range(len(A)):
        np.testing.assert_allclose(sol.coef[i], np.linalg.lstsq(A[i], b[i], rcond=None)[0])
        Q = sol.basis[i]
        np.testing.assert_allclose(Q @ (Q.T @ A[i]), A[i], atol=1e-9 * np.abs(A[i]).max())
    # with a coefficient held at its bound, the basis leaves that column out
    lo = np.array([0.0, -np.inf, -np.inf, -np.inf])
    sol = solve_box(A, b, lo, inf, want_basis=True)
    i = int(np.flatnonzero(~sol.free[:, 0])[0])
    Q, free = sol.basis[i], sol.free[i]
    np.testing.assert_allclose(Q @ (Q.T @ A[i][:, free]), A[i][:, free], atol=1e-8)
    residual = A[i][:, 0] - Q @ (Q.T @ A[i][:, 0])
    assert np.linalg.norm(residual) > 1e-3 * np.linalg.norm(A[i][:, 0])


def test_rank_deficient_design_gives_the_minimum_norm_solution():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 20, 1))
    A = np.concatenate([x, x, rng.normal(size=(1, 20, 1))], axis=2)  # two equal columns
    b = rng.normal(size=(1, 20))
    inf = np.full(3, np.inf)
    sol = solve_box(A, b, -inf, inf)
    np.testing.assert_allclose(sol.coef[0], np.linalg.lstsq(A[0], b[0], rcond=None)[0])
