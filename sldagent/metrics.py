"""NMSE, NMAE and R² as SLDBench defines them: rows pooled over groups, normalised by the
spread of the evaluated rows themselves, averaged over targets."""

from __future__ import annotations

import numpy as np

# Largest target magnitude a task may have: squared errors summed over up to 1e8 rows stay
# finite in float64 (at 1e160 the search silently fitted c0 = 0 with R² nan); the smallest
# nonzero one is its inverse (squares of 1e-160 underflow to 0). Measured: 1e150 fits exactly.
TARGET_LIMIT = 1e150


def _as_2d(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    t = t.reshape(len(t), -1)
    p = p.reshape(len(p), -1)
    if t.shape != p.shape:
        raise ValueError(f"shape mismatch: y_true {t.shape} vs y_pred {p.shape}")
    if len(t) == 0:
        raise ValueError("no rows to score")
    return t, p


def nmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error / variance of the evaluated targets, averaged over targets.

    Non-finite predictions give +inf (a law that fails somewhere fails), never NaN."""
    t, p = _as_2d(y_true, y_pred)
    if not np.all(np.isfinite(p)):
        return float("inf")
    var = t.var(axis=0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        mse = ((t - p) ** 2).mean(axis=0)
        ratio = np.where(var > 0, mse / np.where(var > 0, var, 1.0), np.where(mse > 0, np.inf, 0.0))
    return float(ratio.mean())


def nmae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error / mean absolute deviation of the evaluated targets, averaged."""
    t, p = _as_2d(y_true, y_pred)
    if not np.all(np.isfinite(p)):
        return float("inf")
    mad = np.abs(t - t.mean(axis=0)).mean(axis=0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        mae = np.abs(t - p).mean(axis=0)
        ratio = np.where(mad > 0, mae / np.where(mad > 0, mad, 1.0), np.where(mae > 0, np.inf, 0.0))
    return float(ratio.mean())


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """R² = 1 − NMSE (so it is −inf, not NaN, for a law that predicts non-finite values)."""
    return 1.0 - nmse(y_true, y_pred)


def clip_r2(value: float) -> float:
    """R² clipped to [−1, 1], as the published tables aggregate it."""
    return float(min(1.0, max(-1.0, value)))
