"""Scoring on the sealed test rows: the only stage besides the report that opens them.

The search never imports this module (a test checks it); it fits on training rows and judges
laws on validation rows only. Here a law is fitted on all training rows and scored once on test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sldagent.fitters import FitRecipe, FitResult, fit_groups, predict_groups
from sldagent.law import Law, LawError, parse_law
from sldagent.metrics import r2
from sldagent.task import DataError, Dataset, Task, load_test, load_train, split_validation


@dataclass(frozen=True)
class Scored:
    """A law fitted on one set of rows and scored on another."""

    law: Law
    fits: dict[str, FitResult]
    r2: float
    fit_seconds: float


def human_law(task: Task) -> Law:
    """The task's human-designed law, parsed with its declared parameters and the budget."""
    h = task.human
    if h is None:
        raise DataError(f"{task.path or task.name}: no [human] law; the baseline needs one")
    try:
        return parse_law(
            h.formula, task.features, task.targets, params=h.params, max_params=task.param_budget
        )
    except LawError as err:
        raise LawError(f"task {task.name}: human law: {err}") from None


def human_recipe(task: Task, seed: int = 0) -> FitRecipe:
    """Fitting recipe from the bounds and initial ranges the task's TOML declares."""
    return FitRecipe(bounds=dict(task.human.bounds), init=dict(task.human.init), seed=seed)


def fit_and_score(law: Law, recipe: FitRecipe, fit_rows: Dataset, score_rows: Dataset) -> Scored:
    """Fit per group on fit_rows; pooled R² on score_rows (a group with no fit scores -inf)."""
    start = time.perf_counter()
    fits = fit_groups(law, fit_rows.groups(), recipe)
    seconds = time.perf_counter() - start
    y_true, y_pred = predict_groups(law, score_rows.groups(), fits)
    return Scored(law=law, fits=fits, r2=r2(y_true, y_pred), fit_seconds=seconds)


def score_with_constants(law: Law, constants: dict[str, dict[str, float]], rows: Dataset) -> float:
    """Pooled R² of a law with given per-group constants (a group without constants -> -inf)."""
    trues, preds = [], []
    for group, X, y in rows.groups():
        values = constants.get(group)
        trues.append(y)
        if values is None:
            preds.append(np.full_like(y, np.nan))
        else:
            preds.append(law.predict(X, np.array([values[p] for p in law.params], dtype=float)))
    return r2(np.concatenate(trues), np.concatenate(preds))


def score_constants(task: Task, test: Dataset) -> float | None:
    """Test R² of the human law with its published constants (None if none are published)."""
    if not task.human.constants:
        return None
    return score_with_constants(human_law(task), task.human.constants, test)


@dataclass(frozen=True)
class Baseline:
    """The human law on one task: published, with published constants, and refitted by us."""

    task: str
    published_r2: float | None
    constants_r2: float | None
    refit_r2: float
    fit_seconds: float
    law: str | dict
    # the refit's constants per group (for reports); not part of to_dict's summary
    refit_constants: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "published_r2": self.published_r2,
            "constants_r2": self.constants_r2,
            "refit_r2": self.refit_r2,
            "fit_seconds": self.fit_seconds,
            "law": self.law,
        }


def baseline(task: Task, root: Path, seed: int = 0) -> Baseline:
    """Score the human law three ways (see Baseline); fit on all train rows, score on test."""
    train, test = load_train(task, root), load_test(task, root)
    law = human_law(task)
    scored = fit_and_score(law, human_recipe(task, seed), train, test)
    return Baseline(
        task=task.name,
        published_r2=task.human.published_r2,
        constants_r2=score_constants(task, test),
        refit_r2=scored.r2,
        fit_seconds=scored.fit_seconds,
        law=law.text,
        refit_constants={
            g: dict(zip(law.params, map(float, f.theta), strict=True))
            for g, f in scored.fits.items()
            if f.ok
        },
    )


def evaluate_text(
    task: Task, root: Path, text: str | dict, recipe: FitRecipe
) -> tuple[float, float]:
    """(validation R², test R²) of a user's law: fit rows -> validation; all train -> test.
    A law that takes a log/power of non-positive data, or that cannot be fitted, is an error
    saying where, not a silent -inf."""
    law = parse_law(text, task.features, task.targets, max_params=task.param_budget)
    train = load_train(task, root)
    _check_positive(law, train)
    fit_rows, val_rows = split_validation(train)
    val = _fitted(fit_and_score(law, recipe, fit_rows, val_rows), "fit rows")
    test = _fitted(fit_and_score(law, recipe, train, load_test(task, root)), "train rows")
    return val.r2, test.r2


def _check_positive(law: Law, rows: Dataset) -> None:
    for name in sorted(law.positive_features()):
        values = rows.frame[name].to_numpy(dtype=float)
        bad = np.flatnonzero(values <= 0)
        if bad.size:
            raise DataError(
                f"{rows.path}: column {name!r} has {bad.size} non-positive value(s) (first: "
                f"{values[bad[0]]:g}) but the law takes a log or fractional power of it; "
                "shift the feature or change the law"
            )


def _fitted(scored: Scored, rows: str) -> Scored:
    failed = [(g, f) for g, f in scored.fits.items() if not f.ok]
    if failed:
        group, result = failed[0]
        raise ValueError(
            f"the law could not be fitted on the {rows} of group {group!r}: {result.message}"
        )
    return scored


def test_rows(task: Task, root: Path | None) -> Dataset:
    """The sealed test rows, for scoring after a search (this module and report.py are the
    only places that open them)."""
    return load_test(task, root)


def score_best(best: dict, task: Task, root: Path) -> float:
    """Test R² of a run's best law with its per-group constants (refit on all train rows)."""
    law = parse_law(best["law"], task.features, task.targets)
    return score_with_constants(law, best["params"], load_test(task, root))


def score_predictor(
    task: Task, root: Path, predict: Callable[[str, np.ndarray], np.ndarray]
) -> float:
    """Pooled test R² of any per-group model, predict(group, X) -> (n, n_targets), fitted
    elsewhere on train rows only (e.g. the symbolic-regression baseline)."""
    trues, preds = [], []
    for group, X, y in load_test(task, root).groups():
        trues.append(y)
        preds.append(np.asarray(predict(group, X), dtype=float).reshape(y.shape))
    return r2(np.concatenate(trues), np.concatenate(preds))


def score_choices(
    task: Task, root: Path, best: dict, records: dict[int, dict], ids: list[int]
) -> dict[int, float]:
    """Test R² of logged candidates a finished run could have shipped: the run's own choice
    with its best.json constants, any other refit on all training rows with its own recipe (as
    the run refits its choice). For `sldagent study`, after the run has ended."""
    train, test = load_train(task, root), load_test(task, root)
    out: dict[int, float] = {}
    for cid in dict.fromkeys(ids):
        if cid == best["id"]:
            law = parse_law(best["law"], task.features, task.targets)
            out[cid] = score_with_constants(law, best["params"], test)
            continue
        rec = records[cid]
        law = parse_law(rec["law"], task.features, task.targets)
        out[cid] = fit_and_score(law, FitRecipe.from_dict(rec["recipe"]), train, test).r2
    return out


def score_refit(task: Task, root: Path, record: dict, fit_rows: Dataset) -> float:
    """Test R² of a logged candidate refit on given rows made from the training rows (a
    refitting selection rule's, search/refit_rules.py). For `sldagent study`, after the run."""
    law = parse_law(record["law"], task.features, task.targets)
    test = load_test(task, root)
    return fit_and_score(law, FitRecipe.from_dict(record["recipe"]), fit_rows, test).r2
