"""The final choice: among the best-fitness laws, the one that extrapolates most reliably.

Fitness (fold 1 alone) steers the search; many laws end up predicting the validation slice about
equally well and part ways further out. The finalists -- the best-fitness candidates -- are judged
again on up to three rolling-origin folds, and on their stability: the gap between the law fitted
on fold 1's fit rows and on all training rows, predicting a probe one step beyond the slice (a
law whose constants move a lot once the slice joins the fit rows, such as a power of a sum that
nears zero, extrapolates unreliably). Final score, in units of the target's variance:
log10(geometric mean of the folds' errors + gap^2) + the complexity penalty. Chosen on holdout
runs with `scripts/judge_study.py` (README, "Discovering laws"); no test row is involved.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

from sldagent.fitters import FitRecipe, fit_groups
from sldagent.law import parse_law
from sldagent.search.fitness import SelectionConfig, evaluate, target_variance
from sldagent.search.folds import (
    Fold,
    group_subset,
    probe_features,
    rehearsal_folds,
    restrict_groups,
)
from sldagent.task import Dataset


@dataclass(frozen=True)
class Ranked:
    """One finalist: its fitness, stability gap (target std units) and final score."""

    id: int
    fitness: float
    fold_errors: tuple[float, ...]  # log10 error per rehearsal fold (final_folds of them)
    gap: float
    score: float

    def to_dict(self) -> dict:
        """For best.json: a fit that failed shows as null (strict JSON has no Infinity)."""
        return {
            "id": self.id,
            "fitness": finite_or_none(self.fitness),
            "fold_errors": [finite_or_none(e) for e in self.fold_errors],
            "gap": finite_or_none(self.gap),
            "score": finite_or_none(self.score),
        }


@dataclass(frozen=True)
class JudgingRows:
    """What finalists are judged on: up to `final_folds` rehearsal folds over the search's group
    subset, fold 1 with all its groups (for the stability probe), and the error unit."""

    folds: list[Fold]
    first: Fold
    target_var: np.ndarray


def judging_rows(train: Dataset, selection: SelectionConfig) -> JudgingRows:
    """The final choice's rows for a search over `train` (also used by the study scripts)."""
    final = rehearsal_folds(train, selection.final_folds)
    folds = restrict_groups(final, group_subset(train, selection.max_groups))
    return JudgingRows(folds, final[0], target_variance(train))


def finite_or_none(x: float) -> float | None:
    """x if it is a finite number, else None (JSON null)."""
    return float(x) if math.isfinite(x) else None


def stability_gap(law_text: str | dict, recipe: dict, fold: Fold, train: Dataset) -> float:
    """RMS gap, in units of each target's std over train, between the law fitted on the fold's
    fit rows and on all training rows, predicting one step beyond the fold's validation slice."""
    task = train.task
    law = parse_law(law_text, task.features, task.targets)
    fit_recipe = FitRecipe.from_dict(recipe)
    probe, labels = probe_features(fold), fold.val.group_labels
    inner = fit_groups(law, fold.fit.groups(), fit_recipe)
    outer = fit_groups(law, train.groups(), fit_recipe)
    sd = np.std(train.y, axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    gaps = []
    with np.errstate(all="ignore"):
        for g in sorted(set(labels)):
            a, b = inner.get(g), outer.get(g)
            if a is None or b is None or not (a.ok and b.ok):
                return math.inf
            X = probe[labels == g]
            pa = np.asarray(law.predict(X, a.theta)).reshape(len(X), -1)
            pb = np.asarray(law.predict(X, b.theta)).reshape(len(X), -1)
            gaps.append((pa - pb) / sd)
        value = float(np.sqrt(np.mean(np.concatenate(gaps) ** 2)))
    return value if math.isfinite(value) else math.inf


def final_score(
    fold_errors: tuple[float, ...], gap: float, complexity: int, weight: float
) -> float:
    """log10(geometric mean of the folds' errors + gap^2) + complexity penalty."""
    if not fold_errors or not math.isfinite(gap):
        return math.inf
    error = 10 ** float(np.mean(fold_errors))
    return math.log10(error + gap**2) + weight * complexity


def judge_finalist(
    rec: dict,
    folds: list[Fold],
    first: Fold,
    train: Dataset,
    target_var: np.ndarray,
    selection: SelectionConfig,
) -> tuple[tuple[float, ...], float]:
    """(log10 error per fold, stability gap) of one logged candidate; ((), inf) if a fold fails."""
    task = train.task
    law = parse_law(rec["law"], task.features, task.targets)
    ev = evaluate(law, FitRecipe.from_dict(rec["recipe"]), folds, target_var, selection)
    if not ev.ok:
        return (), math.inf
    return ev.fold_errors, stability_gap(rec["law"], rec["recipe"], first, train)


def _timed_judge(*args) -> tuple[tuple[float, ...], float, float]:
    """judge_finalist's result and the seconds it took (measured where it ran)."""
    start = time.perf_counter()
    errors, gap = judge_finalist(*args)
    return errors, gap, time.perf_counter() - start


def rank_finalists(
    records: list[dict],
    folds: list[Fold],
    first: Fold,
    train: Dataset,
    target_var: np.ndarray,
    selection: SelectionConfig,
    parallel: Parallel,
    time_budget: float | None = None,
    on_judged: Callable[[int, int, float], None] | None = None,
) -> list[Ranked]:
    """The `selection.final_pool` best-fitness candidates (one for a random validation rule),
    ranked by final score: their errors on up to `selection.final_folds` rehearsal folds
    (`folds`, fitted as during search) and their stability gap on the first fold (`first`, all
    groups). Ties: fitness, then id. Finalists are judged in fitness order; once the judging
    seconds exceed `time_budget`, the rest are left out. `on_judged(k, n, seconds)` follows
    each finalist."""
    ok = [r for r in records if r["ok"] and math.isfinite(r["fitness"])]
    # a random rule (held-out points, no scale axis) has nothing to roll along or step beyond:
    # its deeper folds only refit on fewer rows. On holdout runs re-ranking chose worse laws
    # there (README), so it keeps the best-fitness law.
    pool = 1 if train.task.validation.kind == "random" else max(1, selection.final_pool)
    finalists = sorted(ok, key=lambda r: (r["fitness"], r["id"]))[:pool]
    judged = parallel(
        delayed(_timed_judge)(r, folds, first, train, target_var, selection) for r in finalists
    )
    ranked, spent = [], 0.0
    for r, (errors, gap, seconds) in zip(finalists, judged, strict=False):
        score = final_score(tuple(errors), gap, r["complexity"], selection.complexity_weight)
        ranked.append(Ranked(r["id"], r["fitness"], tuple(errors), gap, score))
        spent += seconds
        if on_judged is not None:
            on_judged(len(ranked), len(finalists), spent)
        if time_budget is not None and spent > time_budget:
            break
    if len(ranked) < len(finalists) and hasattr(judged, "close"):
        with warnings.catch_warnings():  # joblib warns of the cancelled tasks: that is the cut
            warnings.simplefilter("ignore", UserWarning)
            judged.close()  # a generator: the finalists not yet judged are not sent
    return sorted(ranked, key=lambda e: (e.score, e.fitness, e.id))
