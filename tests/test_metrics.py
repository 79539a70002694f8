"""Tests for sldagent.metrics: NMSE, NMAE and R² as SLDBench defines them (rows pooled, spread of
the evaluated rows with ddof=0, averaged over targets)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sldagent.metrics import clip_r2, nmae, nmse, r2

Y = np.array([1.0, 2.0, 3.0, 4.0])
P = np.array([1.0, 2.0, 3.0, 5.0])
# by hand: mse = 1/4, var(ddof=0) = 1.25, mae = 1/4, mean |y - 2.5| = 1
Y2 = np.array([10.0, 20.0, 30.0, 40.0])
P2 = np.array([12.0, 18.0, 30.0, 40.0])
# by hand: mse = 8/4 = 2, var = 125, mae = 4/4 = 1, mean |y - 25| = 10


def test_single_target_by_hand():
    assert nmse(Y, P) == pytest.approx(0.2, rel=1e-12)
    assert r2(Y, P) == pytest.approx(0.8, rel=1e-12)
    assert nmae(Y, P) == pytest.approx(0.25, rel=1e-12)
    assert nmse(Y2, P2) == pytest.approx(2 / 125, rel=1e-12)
    assert nmae(Y2, P2) == pytest.approx(0.1, rel=1e-12)


def test_variance_uses_ddof_zero():
    # with ddof=1 the variance would be 5/3 and NMSE 0.15
    assert nmse(Y, P) != pytest.approx(0.25 / np.var(Y, ddof=1))
    assert nmse(Y, P) == pytest.approx(0.25 / np.var(Y, ddof=0))


def test_multi_target_is_the_average_over_targets():
    y = np.column_stack([Y, Y2])
    p = np.column_stack([P, P2])
    assert nmse(y, p) == pytest.approx((0.2 + 2 / 125) / 2, rel=1e-12)
    assert nmae(y, p) == pytest.approx((0.25 + 0.1) / 2, rel=1e-12)
    assert r2(y, p) == pytest.approx(1 - (0.2 + 2 / 125) / 2, rel=1e-12)
    # not the pooled error over all cells, nor normalised by the pooled variance
    pooled = np.mean((y - p) ** 2) / np.var(y)
    assert nmse(y, p) != pytest.approx(pooled)


def test_rows_are_pooled_over_groups():
    """Groups are scored together: one variance over all evaluated rows, not per group."""
    y_a, p_a = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.5])
    y_b, p_b = np.array([10.0, 11.0, 12.0]), np.array([10.0, 11.5, 12.0])
    y, p = np.concatenate([y_a, y_b]), np.concatenate([p_a, p_b])
    expected = np.mean((y - p) ** 2) / np.mean((y - y.mean()) ** 2)
    assert nmse(y, p) == pytest.approx(expected, rel=1e-12)
    per_group = (nmse(y_a, p_a) + nmse(y_b, p_b)) / 2
    assert nmse(y, p) != pytest.approx(per_group)


def test_variance_comes_from_the_evaluated_rows():
    """Scoring a subset normalises by that subset's spread (e.g. the test rows only)."""
    y = np.array([1.0, 2.0, 3.0, 4.0, 100.0, 200.0])
    p = y + np.array([0.0, 0.0, 0.0, 0.0, 1.0, -1.0])
    sub = slice(4, 6)
    assert nmse(y[sub], p[sub]) == pytest.approx(1.0 / np.var(y[sub]), rel=1e-12)
    assert nmse(y[sub], p[sub]) != pytest.approx(1.0 / np.var(y))


def test_perfect_prediction_and_mean_prediction():
    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 2.0, size=(50, 3))
    assert r2(y, y) == 1.0
    assert nmse(y, y) == 0.0
    assert nmae(y, y) == 0.0
    mean = np.broadcast_to(y.mean(axis=0), y.shape)
    assert r2(y, mean) == pytest.approx(0.0, abs=1e-12)
    assert nmse(y, mean) == pytest.approx(1.0, rel=1e-12)
    assert nmae(y, mean) == pytest.approx(1.0, rel=1e-12)
    # worse than the mean: negative R²
    assert r2(y, mean + 10.0) < 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_predictions_fail_loudly_not_nan(bad):
    p = P.copy()
    p[2] = bad
    assert nmse(Y, p) == math.inf
    assert nmae(Y, p) == math.inf
    assert r2(Y, p) == -math.inf
    assert clip_r2(r2(Y, p)) == -1.0
    # one bad target poisons the multi-target score too
    y = np.column_stack([Y, Y2])
    pp = np.column_stack([P2 * 0 + Y2, p])
    assert nmse(y, pp) == math.inf and r2(y, pp) == -math.inf


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_huge_but_finite_predictions_are_not_nan():
    p = np.array([1.0, 2.0, 3.0, 1e200])
    v = r2(Y, p)
    assert not math.isnan(v)
    assert v == -math.inf or v < -1e300


def test_constant_target():
    y = np.full(5, 2.0)
    assert nmse(y, y) == 0.0 and r2(y, y) == 1.0
    assert nmse(y, y + 1.0) == math.inf and r2(y, y + 1.0) == -math.inf
    assert not math.isnan(nmae(y, y + 1.0))


@pytest.mark.parametrize(
    ("value", "clipped"),
    [
        (0.5, 0.5),
        (1.0, 1.0),
        (-1.0, -1.0),
        (-3.0, -1.0),
        (1.5, 1.0),
        (-math.inf, -1.0),
        (math.inf, 1.0),
        (0.0, 0.0),
        (math.nan, -1.0),
    ],
)
def test_clip_r2(value, clipped):
    out = clip_r2(value)
    assert isinstance(out, float)
    assert out == clipped


def test_shapes_n_and_n_by_1_agree_and_lists_work():
    assert nmse(Y, P) == nmse(Y[:, None], P[:, None]) == nmse(Y, P[:, None])
    assert nmse(list(Y), list(P)) == nmse(Y, P)
    for fn in (nmse, nmae, r2):
        assert isinstance(fn(Y, P), float)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        (np.ones(4), np.ones(5)),
        (np.ones((4, 2)), np.ones((4, 3))),
        (np.ones((4, 2)), np.ones(4)),
        (np.ones((4, 2)), np.ones((2, 4))),
        (np.ones(0), np.ones(0)),
    ],
)
@pytest.mark.parametrize("fn", [nmse, nmae, r2])
def test_shape_mismatch_and_empty_raise(fn, y_true, y_pred):
    with pytest.raises(ValueError):
        fn(y_true, y_pred)


def test_metrics_do_not_modify_inputs():
    y, p = Y.copy(), P.copy()
    nmse(y, p), nmae(y, p), r2(y, p)
    np.testing.assert_array_equal(y, Y)
    np.testing.assert_array_equal(p, P)
