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
from sldagent.task import Dataset

FAILED_LOG_ERROR = 6.0  # log10 error charged to a fold the law cannot fit or predict


@dataclass(frozen=True)
class SelectionConfig:
    """How candidates are judged during search."""

    # Nested rehearsal inside train (`sldagent rehearse RUN --sample spread`) ranked laws best
    # by the nearest fold alone: rho 0.83 on moe (0.73 with 2 folds, 0.66 with a long-range
    # fold added), 0.85 on data_constrained (0.75 with 3 folds, 0.48 with the long-range fold).
    folds: int = 1
    far_fold: bool = False  # add a long-range fold (deepest fit rows -> fold 1's validation rows)
    complexity_weight: float = 0.002  # added to mean log10 error per node of the law
    n_starts: int = 24
    n_local: int = 3
    n_polish: int = 1
    iterations: int = 20
    tol: float = 1e-8
    fit_time_limit: float = 20.0
    candidate_time_limit: float = 120.0
    max_groups: int = 12  # groups used for fitness during search (a fixed, hashed subset)
    reject_margin: float = 1.0  # skip folds 2.. if fold 1 is 10x worse than the elite bar
    final_pool: int = 30  # best-fitness candidates the final choice re-ranks (search/choice.py)
    final_folds: int = 3  # rehearsal folds the finalists are judged on
    # the final choice's time budget: this many times the seconds the search spent fitting its
    # candidates (summed from the log, so a resumed run has the same budget), at least
    # final_min_seconds; finalists left when it is spent are not judged (best.json says so)
    final_time_factor: float = 2.0
    final_min_seconds: float = 60.0


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


def target_variance(train: Dataset) -> np.ndarray:
    """Each target's variance over the training rows (1 where constant): the unit of the
    fold errors."""
    var = train.y.var(axis=0)
    return np.where(var > 0, var, 1.0)


def search_recipe(recipe: FitRecipe, config: SelectionConfig) -> FitRecipe:
    """The candidate's recipe with the (cheaper) multi-start counts used during search."""
    return dataclasses.replace(
        recipe,
        n_starts=config.n_starts,
        n_local=config.n_local,
        n_polish=config.n_polish,
        iterations=config.iterations,
        tol=config.tol,
        time_limit=config.fit_time_limit,
    )


def evaluate(
    law: Law,
    recipe: FitRecipe,
    folds: list[Fold],
    target_var: np.ndarray,
    config: SelectionConfig,
    reject_above: float = math.inf,
) -> Evaluation:
    """Fit on each fold's fit rows, score on its validation rows; never raises on bad numerics.

    Fold 1 is scored first; if its log error already exceeds `reject_above` (a bar set from the
    population before the batch, so the decision is deterministic) the other folds are skipped
    and charged fold 1's error. A candidate that runs past `candidate_time_limit` fails."""
    start = time.perf_counter()
    deadline = start + config.candidate_time_limit
    recipe = search_recipe(recipe, config)
    errors: list[float] = []
    val_r2, params, message = -math.inf, None, "ok"
    for i, fold in enumerate(folds):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return _failed(f"candidate time limit {config.candidate_time_limit:g}s exceeded", start)
        fold_recipe = dataclasses.replace(recipe, time_limit=min(recipe.time_limit, remaining))
        fits = fit_groups(law, fold.fit.groups(), fold_recipe)
        failed = [g for g, f in fits.items() if not f.ok]
        y_true, y_pred = predict_groups(law, fold.val.groups(), fits)
        if failed or not np.all(np.isfinite(y_pred)):
            if i == 0:
                why = fits[failed[0]].message if failed else "non-finite validation predictions"
                return _failed(f"fold 1: {why}", start, failed[0] if failed else None)
            errors.append(FAILED_LOG_ERROR)
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            mse = np.mean((y_true - y_pred) ** 2, axis=0) / target_var
        errors.append(float(min(FAILED_LOG_ERROR, math.log10(max(float(np.mean(mse)), 1e-12)))))
        if i == 0:
            val_r2 = r2(y_true, y_pred)
            params = {g: [float(v) for v in f.theta] for g, f in fits.items()}
            if errors[0] > reject_above:
                errors.extend([errors[0]] * (len(folds) - 1))
                message = "rejected after fold 1"
                break
    fitness = float(np.mean(errors)) + config.complexity_weight * law.complexity
    return Evaluation(
        ok=True,
        message=message,
        fitness=fitness,
        fold_errors=tuple(errors),
        validation_r2=val_r2,
        params=params,
        seconds=time.perf_counter() - start,
    )


def _failed(message: str, start: float, group: str | None = None) -> Evaluation:
    where = f" (group {group!r})" if group is not None else ""
    return Evaluation(
        ok=False,
        message=message + where,
        fitness=math.inf,
        fold_errors=(),
        validation_r2=-math.inf,
        params=None,
        seconds=time.perf_counter() - start,
    )
