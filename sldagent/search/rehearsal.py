"""Does the selection signal predict extrapolation? Measured inside the training rows only.

Nested rehearsal: the outer validation fold (the task's validation rule) plays the part of the
test set. For each candidate law, the fitness is computed on inner folds carved from the outer
fold's fit rows only, and compared with the law's error on the outer fold (fitted on the outer
fit rows). The Spearman rank correlation over a population of laws says how well the fitness
ranks laws by how they extrapolate. No test row is read.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from sldagent.fitters import FitRecipe
from sldagent.law import Law
from sldagent.search.fitness import SelectionConfig, evaluate
from sldagent.search.folds import rehearsal_folds, with_far_fold
from sldagent.task import Dataset, split_validation


@dataclass(frozen=True)
class RehearsalResult:
    """Rank agreement (Spearman ρ) between candidate fitness signals and the outer-fold error."""

    n_laws: int
    rho: dict[str, float]  # signal name -> Spearman ρ; "folds=k" and "folds=k+far"
    chosen: str  # the signal the search uses with this config


def _signals(errors: list[float], n_inner: int, has_far: bool) -> dict[str, float]:
    out = {}
    for k in range(1, n_inner + 1):
        out[f"folds={k}"] = float(np.mean(errors[:k]))
        if k >= 2:
            w = 0.5 ** np.arange(k)
            out[f"folds={k} decay"] = float(np.dot(w, errors[:k]) / w.sum())
        if has_far and k >= 2:
            out[f"folds={k}+far"] = float(np.mean(errors[:k] + [errors[-1]]))
    return out


def rehearse(
    laws: list[tuple[Law, FitRecipe]], train: Dataset, config: SelectionConfig | None = None
) -> RehearsalResult:
    """Spearman ρ between inner-fold fitness signals and the outer-fold error over the laws."""
    config = config or SelectionConfig()
    outer_fit, _ = split_validation(train)
    inner_train = Dataset(outer_fit.task, outer_fit.frame, outer_fit.path, "train")
    inner = rehearsal_folds(inner_train, max(4, config.folds))
    has_far = len(inner) >= 2
    inner_all = with_far_fold(inner)
    outer = rehearsal_folds(train, 1)
    var = train.y.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    plain = dataclasses.replace(config, complexity_weight=0.0, candidate_time_limit=math.inf)
    signals, targets = [], []
    for law, recipe in laws:
        ev = evaluate(law, recipe, inner_all, var, plain)
        out = evaluate(law, recipe, outer, var, plain)
        if not (ev.ok and out.ok and math.isfinite(out.fitness)):
            continue
        signals.append(_signals(list(ev.fold_errors), len(inner), has_far))
        targets.append(out.fitness)
    chosen = f"folds={min(config.folds, len(inner))}" + (
        "+far" if config.far_fold and has_far else ""
    )
    if len(targets) < 3:
        return RehearsalResult(len(targets), {}, chosen)
    rho = {
        name: float(spearmanr([s[name] for s in signals], targets).statistic) for name in signals[0]
    }
    return RehearsalResult(len(targets), rho, chosen)


def sample_laws(records: list[dict], n: int, how: str = "top") -> list[dict]:
    """n distinct fitted candidates: the n best ("top": where selection matters) or n spread
    evenly over the whole ranking ("spread": good, middling and poor laws)."""
    ok, seen = [], set()
    for r in sorted((r for r in records if r.get("ok")), key=lambda r: (r["fitness"], r["id"])):
        if r["key"] not in seen:
            seen.add(r["key"])
            ok.append(r)
    if how == "top" or len(ok) <= n:
        return ok[:n]
    idx = np.unique(np.linspace(0, len(ok) - 1, n).round().astype(int))
    return [ok[i] for i in idx]
