"""Selection rules that refit: a weighted final refit, and bagging.

The rules in search/rules.py only re-rank what a run logged. These two need fits on the
training rows, so `sldagent study` runs them after a run has ended, on training rows only:
- `weighted_xK` ships the run's own choice, refit on all training rows with the validation
  slice (the largest-scale rows, by the task's own rule) counted K times, i.e. integer row
  weights done by repeating rows, which is exact for least squares;
- `bagging` refits each of the best finalists (by the shipped score) on bootstrap resamples of
  the training rows and adds how much its prediction one step beyond the training range moves
  between resamples to its score: the law whose extrapolation stays put wins.
Like rules.py, nothing here knows a task or reads test rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sldagent.fitters import FitRecipe, fit_groups
from sldagent.law import parse_law
from sldagent.search.choice import final_score
from sldagent.search.folds import Fold, probe_features
from sldagent.search.rules import RULES, RunView
from sldagent.task import Dataset, split_validation

BAG_POOL = 5  # finalists bagged: the best by the shipped score
BAG_RESAMPLES = 8  # bootstrap refits per finalist
BAG_SEED = 0


@dataclass(frozen=True)
class Pick:
    """A rule's choice: a logged candidate, and the rows to refit it on before the test
    (None: all training rows, as the run refits its own choice)."""

    id: int
    fit_rows: Dataset | None = None


def _with_slice_repeated(train: Dataset, times: int) -> Dataset:
    """The training rows with the validation slice's rows present `times` times in all."""
    _, val = split_validation(train)
    frame = pd.concat([train.frame] + [val.frame] * (times - 1), ignore_index=True)
    return Dataset(train.task, frame, train.path, "weighted")


def _weighted(times: int) -> Callable[[RunView, Dataset], Pick]:
    def rule(view: RunView, train: Dataset) -> Pick:
        return Pick(RULES["shipped"](view), _with_slice_repeated(train, times))

    rule.__doc__ = (
        f"Shipped choice, refit with the validation slice (largest-scale rows) weighted {times}x."
    )
    return rule


def _resample(train: Dataset, rng: np.random.Generator) -> Dataset:
    """A bootstrap resample of the training rows, drawn within each group (every group keeps
    as many rows as it has)."""
    labels = train.group_labels
    rows = [
        rng.choice(np.flatnonzero(labels == g), size=int(np.sum(labels == g)), replace=True)
        for g in sorted(set(labels))
    ]
    frame = train.frame.iloc[np.concatenate(rows)].reset_index(drop=True)
    return Dataset(train.task, frame, train.path, "resample")


def extrapolation_spread(
    law_text: str | dict, recipe: dict, resamples: list[Dataset], probe: Dataset
) -> float:
    """RMS over the probe rows of the predictions' std across bootstrap refits, in units of
    the targets' std over the training rows; inf if a refit fails or predicts a non-finite."""
    task = probe.task
    law = parse_law(law_text, task.features, task.targets)
    fit_recipe = FitRecipe.from_dict(recipe)
    labels = probe.group_labels
    X = probe.X
    preds = []
    for rows in resamples:
        fits = fit_groups(law, rows.groups(), fit_recipe)
        pred = np.empty((len(X), len(task.targets)))
        for g in sorted(set(labels)):
            at = labels == g
            result = fits.get(g)
            if result is None or not result.ok:
                return math.inf
            pred[at] = np.asarray(law.predict(X[at], result.theta)).reshape(int(at.sum()), -1)
        preds.append(pred)
    stack = np.stack(preds)
    if not np.all(np.isfinite(stack)):
        return math.inf
    sd = np.std(resamples[0].y, axis=0)  # the first resample has the rows' spread closely
    sd = np.where(sd > 0, sd, 1.0)
    value = float(np.sqrt(np.mean((np.std(stack, axis=0) / sd) ** 2)))
    return value if math.isfinite(value) else math.inf


def bagging(view: RunView, train: Dataset) -> Pick:
    """Of the 5 best finalists by the shipped score, the lowest shipped score with the spread
    of its prediction one step beyond the training range over 8 bootstrap refits added as a
    second gap."""
    cw = view.complexity_weight
    ranked = sorted(
        view.finalists,
        key=lambda f: (final_score(f.fold_errors, f.gap, f.complexity, cw), f.fitness, f.id),
    )
    pool = [f for f in ranked if math.isfinite(final_score(f.fold_errors, f.gap, 0, 0.0))]
    pool = pool[:BAG_POOL]
    if len(pool) < 2:
        return Pick(ranked[0].id)
    fit, val = split_validation(train)
    probe_frame = val.frame.copy()
    probe_frame[list(train.task.features)] = probe_features(Fold(fit, val))
    probe = Dataset(train.task, probe_frame, train.path, "probe")
    rng = np.random.default_rng(BAG_SEED)
    resamples = [_resample(train, rng) for _ in range(BAG_RESAMPLES)]  # the same for every law
    by_id = {r["id"]: r for r in view.candidates}

    def score(f) -> float:
        rec = by_id[f.id]
        spread = extrapolation_spread(rec["law"], rec["recipe"], resamples, probe)
        if not math.isfinite(spread):
            return math.inf
        error = 10 ** float(np.mean(f.fold_errors))
        return math.log10(error + f.gap**2 + spread**2) + cw * f.complexity

    scores = {f.id: score(f) for f in pool}
    return Pick(min(pool, key=lambda f: (scores[f.id], f.fitness, f.id)).id)


REFIT_RULES: dict[str, Callable[[RunView, Dataset], Pick]] = {
    "weighted_x2": _weighted(2),
    "weighted_x4": _weighted(4),
    "bagging": bagging,
}
