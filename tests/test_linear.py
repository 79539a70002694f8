"""Tests of sldagent.fitters.linear: batched box-bounded least squares on reduced problems
equals scipy's exact BVLS on the tall ones, problem by problem."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from sldagent.fitters.linear import orthonormal, solve_box
from sldagent.fitters.lm import Reduction


def _problems(seed: int, B: int = 60, m: int = 25, L: int = 4):
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-4, 4, (B, 1, L))  # badly scaled columns, as in scaling laws
    A = rng.normal(size=(B, m, L)) * scales
    b = rng.normal(size=(B, m)) * 3
    return A, b


def _cost(A, b, c):
    return float(np.sum((A @ c - b) ** 2))


def _reduced(A, b):
    """The R factor of [A | b]: (M, d) with ||M c - d|| = ||A c - b|| for every c."""
    acc = Reduction(len(A), A.shape[2] + 1)
    acc.add(np.concatenate([A, b[:, :, None]], axis=2))
    return acc.R[:, :, :-1], acc.R[:, :, -1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounded_solutions_match_scipy_bvls(seed):
    A, b = _problems(seed)
    lo = np.array([0.0, -1.0, -np.inf, 0.5])
    hi = np.array([np.inf, 1.0, 2.0, 3.0])
    sol = solve_box(*_reduced(A, b), lo, hi)
    held = 0
    for i in range(len(A)):
        c = sol.coef[i]
        assert np.all(c >= lo - 1e-9 * np.abs(lo).clip(1)) and np.all(c <= hi + 1e-9 * hi.clip(1))
        exact = lsq_linear(A[i], b[i], bounds=(lo, hi), method="bvls", tol=1e-12).x
        assert _cost(A[i], b[i], c) <= _cost(A[i], b[i], exact) * (1 + 1e-9) + 1e-12
        held += int((~sol.free[i]).sum())
    assert held > 0  # the bounds were active somewhere, so the test says something


def test_unbounded_solution_is_least_squares():
    A, b = _problems(3, B=10)
    inf = np.full(4, np.inf)
    sol = solve_box(*_reduced(A, b), -inf, inf)
    assert sol.free.all()
    for i in range(len(A)):
        np.testing.assert_allclose(sol.coef[i], np.linalg.lstsq(A[i], b[i], rcond=None)[0])


def test_orthonormal_spans_the_columns_and_drops_the_rank_deficient_ones():
    rng = np.random.default_rng(6)
    A = rng.normal(size=(3, 8, 3))
    A[:, :, 2] = A[:, :, 0] - 2 * A[:, :, 1]  # rank 2
    Q = orthonormal(A)
    np.testing.assert_allclose(Q @ (Q.transpose(0, 2, 1) @ A), A, atol=1e-12)
    assert np.all(np.sum(np.abs(Q) > 0, axis=1)[:, 2] == 0)  # the third direction is zero


def test_rank_deficient_design_gives_the_minimum_norm_solution():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 20, 1))
    A = np.concatenate([x, x, rng.normal(size=(1, 20, 1))], axis=2)  # two equal columns
    b = rng.normal(size=(1, 20))
    inf = np.full(3, np.inf)
    sol = solve_box(*_reduced(A, b), -inf, inf)
    np.testing.assert_allclose(sol.coef[0], np.linalg.lstsq(A[0], b[0], rcond=None)[0])
