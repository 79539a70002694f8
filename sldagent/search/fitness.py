"""Fitness: how well a candidate law, fitted on earlier/smaller rows, predicts the rows beyond.

Each rehearsal fold fits the law per group on the fold's fit rows and measures the squared error
on its validation rows, in units of the target's variance over all training rows (not the
variance of a small slice, which makes R² of a low-variance slice a noisy judge). The fitness
is the mean over folds of log10 of that error, plus a small complexity penalty. Lower is better.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from sldagent.fitters import FitRecipe, fit_groups, predict_groups
from sldagent.law import Law
from sldagent.metrics import r2
from sldagent.search.folds import Fold

FAILED_LOG_ERROR = 6.0  # log10 error charged to a fold the law cannot fit or predict


@dataclass(frozen=True)
class SelectionConfig:
    """How candidates are judged during search."""

    folds: int = 3
    complexity_weight: float = 0.002  # added to mean log10 error per node of the law
    n_starts: int = 24
    n_local: int = 3
    n_polish: int = 1
    fit_time_limit: float = 20.0


@dataclass(frozen=True)
class Evaluation:
    """The judgement of one candidate, as logged."""

    ok: bool
    message: str
    fitness: float
    fold_errors: tuple[float, ...]  # log10 of MSE / var(train target), per fold
    validation_r2: float  # R² on fold 1's validation rows: the task's validation rule
    params: dict[str, list[float]] | None  # fold-1 fit, per group
    seconds: float


def search_recipe(recipe: FitRecipe, config: SelectionConfig) -> FitRecipe:
    """The candidate's recipe with the (cheaper) multi-start counts used during search."""
    return dataclasses.replace(
        recipe,
        n_starts=config.n_starts,
        n_local=config.n_local,
        n_polish=config.n_polish,
        time_limit=config.fit_time_limit,
    )


def evaluate(
    law: Law, recipe: FitRecipe, folds: list[Fold], target_var: np.ndarray, config: SelectionConfig
) -> Evaluation:
    """Fit on each fold's fit rows, score on its validation rows; never raises on bad numerics."""
    start = time.perf_counter()
    recipe = search_recipe(recipe, config)
    errors: list[float] = []
    val_r2, params, message = -math.inf, None, "ok"
    for i, fold in enumerate(folds):
        fits = fit_groups(law, fold.fit.groups(), recipe)
        failed = [g for g, f in fits.items() if not f.ok]
        y_true, y_pred = predict_groups(law, fold.val.groups(), fits)
        if failed or not np.all(np.isfinite(y_pred)):
            errors.append(FAILED_LOG_ERROR)
            if i == 0:
                message = (
                    f"fit failed for group {failed[0]!r}: {fits[failed[0]].message}"
                    if failed
                    else "non-finite predictions on validation rows"
                )
            continue
        mse = np.mean((y_true - y_pred) ** 2, axis=0) / target_var
        errors.append(float(min(FAILED_LOG_ERROR, math.log10(max(float(np.mean(mse)), 1e-12)))))
        if i == 0:
            val_r2 = r2(y_true, y_pred)
            params = {g: [float(v) for v in f.theta] for g, f in fits.items()}
    ok = params is not None
    fitness = float(np.mean(errors)) + config.complexity_weight * law.complexity
    return Evaluation(
        ok=ok,
        message=message,
        fitness=fitness if ok else math.inf,
        fold_errors=tuple(errors),
        validation_r2=val_r2,
        params=params,
        seconds=time.perf_counter() - start,
    )
