"""Does the selection signal predict extrapolation? Measured inside the training rows only.

Nested rehearsal: the outer validation fold (the task's validation rule) plays the part of the
test set. For each candidate law, the fitness is computed on inner folds carved from the outer
fold's fit rows only, and compared with the law's error on the outer fold (fitted on the outer
fit rows). The Spearman rank correlation over a population of laws says how well the fitness
ranks laws by how they extrapolate. No test row is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from sldagent.fitters import FitRecipe
from sldagent.law import Law
from sldagent.search.fitness import SelectionConfig, evaluate
from sldagent.search.folds import rehearsal_folds
from sldagent.task import Dataset, split_validation


@dataclass(frozen=True)
class RehearsalResult:
    """Rank agreement between a fitness and the outer-fold error, over n laws."""

    n_laws: int
    spearman_multi_fold: float  # the search's fitness (several inner folds)
    spearman_single_fold: float  # one inner validation slice only (the naive judge)
    outer_errors: tuple[float, ...]
    inner_fitness: tuple[float, ...]


def rehearse(
    laws: list[tuple[Law, FitRecipe]], train: Dataset, config: SelectionConfig | None = None
) -> RehearsalResult:
    """Spearman ρ between inner-fold fitness and outer-fold error over the given laws."""
    config = config or SelectionConfig()
    outer_fit, _ = split_validation(train)
    inner_train = Dataset(outer_fit.task, outer_fit.frame, outer_fit.path, "train")
    inner = rehearsal_folds(inner_train, config.folds)
    outer = rehearsal_folds(train, 1)
    var = train.y.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    plain = SelectionConfig(**{**config.__dict__, "complexity_weight": 0.0})
    rows = []
    for law, recipe in laws:
        multi = evaluate(law, recipe, inner, var, config)
        if not multi.ok:
            continue
        single = multi.fold_errors[0]
        out = evaluate(law, recipe, outer, var, plain)
        if not out.ok or not math.isfinite(out.fitness):
            continue
        rows.append((multi.fitness, single, out.fitness))
    if len(rows) < 3:
        return RehearsalResult(len(rows), math.nan, math.nan, (), ())
    a = np.array(rows)
    rho_multi = float(spearmanr(a[:, 0], a[:, 2]).statistic)
    rho_single = float(spearmanr(a[:, 1], a[:, 2]).statistic)
    return RehearsalResult(len(rows), rho_multi, rho_single, tuple(a[:, 2]), tuple(a[:, 0]))


def spread_sample(records: list[dict], n: int) -> list[dict]:
    """n fitted candidates spread evenly over the fitness ranking (best, middling and poor)."""
    ok = sorted((r for r in records if r.get("ok")), key=lambda r: (r["fitness"], r["id"]))
    if len(ok) <= n:
        return ok
    idx = np.unique(np.linspace(0, len(ok) - 1, n).round().astype(int))
    return [ok[i] for i in idx]
