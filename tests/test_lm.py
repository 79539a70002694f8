"""Tests of sldagent.fitters.lm: the batched Levenberg-Marquardt solves each problem of a stack
on its own (same answer alone or stacked), respects bounds, and uses robust losses like scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from sldagent.fitters import lm

X = np.linspace(1.0, 20.0, 40)


def _model(theta):
    """a * x**-b + c and its Jacobian, for a stack of parameter vectors (B, 3)."""
    a, b, c = (theta[:, i : i + 1] for i in range(3))
    p = X ** (-b)
    pred = a * p + c
    J = np.stack([p, -a * p * np.log(X), np.ones_like(pred)], axis=2)
    return pred, J


def _residuals(y):
    def evaluate(theta, which):
        pred, J = _model(theta)
        return pred - y[which], J

    return evaluate


def _problem(y, loss="linear", f_scale=1.0):
    """The problems as lm.minimise takes them: reduced at every evaluation."""
    residuals = _residuals(y)

    def evaluate(theta, which):
        return lm.reduce(*residuals(theta, which), loss, f_scale)

    return evaluate


def _targets(true, noise, seed=0):
    rng = np.random.default_rng(seed)
    pred, _ = _model(np.asarray(true, dtype=float))
    return pred + rng.normal(0, noise, pred.shape)


def test_recovers_parameters_and_matches_scipy():
    true = np.array([[2.0, 0.5, 1.0], [5.0, 1.2, -0.3], [0.3, 0.2, 2.0]])
    y = _targets(true, 1e-3)
    x0 = np.ones((3, 3))
    inf = np.full(3, np.inf)
    sol = lm.minimise(_problem(y), x0, -inf, inf, max_nfev=400, tol=1e-12)
    for i in range(3):
        ref = least_squares(
            lambda t, i=i: _residuals(y[i : i + 1])(t[None], np.array([0]))[0][0],
            x0[i],
            jac=lambda t: _model(t[None])[1][0],
            xtol=1e-12,
            ftol=1e-12,
        )
        assert sol.cost[i] <= ref.cost * (1 + 1e-6)
        np.testing.assert_allclose(sol.x[i], true[i], rtol=2e-2)
    assert np.all(sol.start_cost > sol.cost) and np.all(sol.nfev < 400)


def test_a_problem_gets_the_same_bits_alone_or_in_a_stack():
    true = np.array([[2.0, 0.5, 1.0], [5.0, 1.2, -0.3], [0.3, 0.2, 2.0], [1.0, 3.0, 0.0]])
    y = _targets(true, 1e-2, seed=1)
    x0 = np.full((4, 3), 0.7)
    inf = np.full(3, np.inf)
    stacked = lm.minimise(_problem(y), x0, -inf, inf, max_nfev=200, tol=1e-10)
    for i in range(4):
        alone = lm.minimise(_problem(y[i : i + 1]), x0[i : i + 1], -inf, inf, 200, 1e-10)
        assert alone.x[0].tobytes() == stacked.x[i].tobytes()
        assert alone.nfev[0] == stacked.nfev[i]


def test_bounds_hold_and_are_active_when_the_optimum_is_outside():
    y = _targets([[2.0, 0.5, 1.0]], 1e-3)
    lo, hi = np.array([0.0, 0.6, -np.inf]), np.array([1.5, 3.0, np.inf])
    sol = lm.minimise(_problem(y), np.array([[1.0, 1.0, 0.0]]), lo, hi, max_nfev=400, tol=1e-12)
    assert np.all(sol.x >= lo) and np.all(sol.x <= hi)
    assert sol.x[0, 0] == pytest.approx(1.5) or sol.x[0, 1] == pytest.approx(0.6)


@pytest.mark.parametrize("loss", ["huber", "soft_l1"])
def test_robust_losses_match_scipy(loss):
    y = _targets([[2.0, 0.5, 1.0]], 1e-3)
    y[0, [3, 17, 30]] += [1.0, -0.8, 1.5]  # outliers
    x0 = np.array([[1.0, 1.0, 0.5]])
    inf = np.full(3, np.inf)
    sol = lm.minimise(_problem(y, loss, 0.05), x0, -inf, inf, 400, 1e-12)
    ref = least_squares(
        lambda t: _residuals(y)(t[None], np.array([0]))[0][0],
        x0[0],
        jac=lambda t: _model(t[None])[1][0],
        loss=loss,
        f_scale=0.05,
        xtol=1e-12,
        ftol=1e-12,
    )
    assert sol.cost[0] == pytest.approx(ref.cost, rel=1e-6)
    assert sol.cost[0] == pytest.approx(lm.robust_cost(_residuals(y)(sol.x, [0])[0], loss, 0.05)[0])
    np.testing.assert_allclose(sol.x[0], [2.0, 0.5, 1.0], rtol=2e-2)


def test_reduced_problem_keeps_the_cost_gradient_and_model():
    """The R factor stands in for the tall problem: same gradient and Gauss-Newton model."""
    rng = np.random.default_rng(5)
    r, J = rng.normal(size=(2, 50)), rng.normal(size=(2, 50, 3))
    red = lm.reduce(r, J)
    dx = rng.normal(size=(2, 3))
    np.testing.assert_allclose(red.cost, 0.5 * np.sum(r * r, axis=1))
    np.testing.assert_allclose((red.r[:, None, :] @ red.J)[:, 0], (r[:, None, :] @ J)[:, 0])
    full = np.sum((r + (J @ dx[:, :, None])[:, :, 0]) ** 2, axis=1)
    small = np.sum((red.r + (red.J @ dx[:, :, None])[:, :, 0]) ** 2, axis=1)
    np.testing.assert_allclose(small, full)
    # accumulating row blocks gives the same factor as reducing all rows at once
    acc = lm.Reduction(2, 4)
    for i in range(0, 50, 7):
        acc.add(np.concatenate([J[:, i : i + 7], r[:, i : i + 7, None]], axis=2))
    gram = acc.R.transpose(0, 2, 1) @ acc.R
    whole = np.concatenate([J, r[:, :, None]], axis=2)
    np.testing.assert_allclose(gram, whole.transpose(0, 2, 1) @ whole, atol=1e-10)


def test_a_start_with_non_finite_residuals_is_not_moved():
    def evaluate(theta, which):
        r = np.full((len(which), 5), np.inf)
        return lm.reduce(r, np.zeros((len(which), 5, 2)))

    sol = lm.minimise(evaluate, np.ones((2, 2)), np.full(2, -np.inf), np.full(2, np.inf), 50, 1e-8)
    assert np.all(np.isinf(sol.cost)) and np.all(sol.x == 1.0) and np.all(sol.nfev == 1)
