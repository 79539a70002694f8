"""Fitting back-ends behind one function: fit(law, X, y, recipe) -> FitResult, per group."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sldagent.fitters.recipe import LOSSES, FitRecipe, FitResult
from sldagent.fitters.varpro import fit, fit_groups
from sldagent.law import Law

__all__ = ["LOSSES", "FitRecipe", "FitResult", "fit", "fit_groups", "predict_groups"]


def predict_groups(
    law: Law, groups: Iterable[tuple[str, np.ndarray, np.ndarray]], fits: dict[str, FitResult]
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled (y_true, y_pred) over groups; a group without a good fit predicts NaN -> inf error."""
    trues, preds = [], []
    for name, X, y in groups:
        result = fits.get(name)
        y = np.asarray(y, dtype=float).reshape(len(X), -1)
        if result is None or not result.ok:
            pred = np.full_like(y, np.nan)
        else:
            pred = law.predict(X, result.theta)
        trues.append(y)
        preds.append(pred)
    return np.concatenate(trues), np.concatenate(preds)
