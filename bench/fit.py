"""Fit throughput: the time to fit one law to every group and score it (train R²), for our
default fitter and for the reference evaluator without and with random restarts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.laws import Form, synthetic_groups
from bench.reference import reference_fit
from sldagent.evaluation import human_recipe
from sldagent.fitters import FitRecipe, fit_groups, predict_groups
from sldagent.law import Law, parse_law
from sldagent.metrics import r2
from sldagent.task import load_task, load_train

METHODS = ("ours", "bfgs", "bfgs+restarts")
RESTARTS = 20
R2_TOLERANCE = 1e-6  # "equal" train R²: within this of the other method's


@dataclass(frozen=True)
class FitCase:
    """One law and the groups it is fitted to."""

    name: str
    text: str | dict
    features: tuple[str, ...]
    targets: tuple[str, ...]
    params: Sequence[str] | None  # declared parameter names (a task's human law), or None
    groups: list
    recipe: FitRecipe

    def law(self) -> Law:
        """A freshly parsed law: every timing pays for compiling it, as a new candidate would."""
        return parse_law(self.text, self.features, self.targets, params=self.params)

    @property
    def rows(self) -> int:
        return sum(len(X) for _, X, _ in self.groups)


@dataclass(frozen=True)
class FitTiming:
    """Median seconds and train R² per method for one case."""

    case: FitCase
    n_params: int
    seconds: dict[str, float]
    r2: dict[str, float]

    def speedup(self, method: str) -> float:
        return self.seconds[method] / self.seconds["ours"]

    def as_good(self, method: str) -> bool:
        return self.r2["ours"] >= self.r2[method] - R2_TOLERANCE


def task_case(name: str, root: Path) -> FitCase:
    """A task's human law on its training rows, with the bounds and ranges its TOML declares."""
    task = load_task(name)
    return FitCase(
        name=name,
        text=task.human.formula,
        features=task.features,
        targets=task.targets,
        params=task.human.params,
        groups=list(load_train(task, root).groups()),
        recipe=human_recipe(task),
    )


def form_case(form: Form, n_groups: int = 8, rows: int = 50) -> FitCase:
    """A generic form on synthetic groups, with the default recipe (no bounds, no ranges)."""
    return FitCase(
        name=form.name,
        text=form.text,
        features=form.features,
        targets=("y",),
        params=None,
        groups=synthetic_groups(form, n_groups, rows),
        recipe=FitRecipe(),
    )


def _score(law: Law, groups: list, thetas: dict[str, np.ndarray]) -> float:
    trues, preds = [], []
    for name, X, y in groups:
        trues.append(np.asarray(y, dtype=float).reshape(len(X), -1))
        with np.errstate(all="ignore"):
            preds.append(law.predict(X, thetas[name]))
    return r2(np.concatenate(trues), np.concatenate(preds))


def _ours(case: FitCase, law: Law) -> float:
    fits = fit_groups(law, case.groups, case.recipe)
    return r2(*predict_groups(law, case.groups, fits))


def _reference(restarts: int) -> Callable[[FitCase, Law], float]:
    def run(case: FitCase, law: Law) -> float:
        thetas = reference_fit(law, case.groups, restarts=restarts, recipe=case.recipe)
        return _score(law, case.groups, thetas)

    return run


RUNNERS = {"ours": _ours, "bfgs": _reference(0), "bfgs+restarts": _reference(RESTARTS)}


def measure(case: FitCase, repeats: int, methods: Sequence[str] = METHODS) -> FitTiming:
    """Median wall time over `repeats` of fitting every group and scoring train R², methods
    interleaved within each repeat so that machine load falls on all of them alike."""
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    scores: dict[str, float] = {}
    for _ in range(repeats):
        for method in methods:
            law = case.law()
            start = time.perf_counter()
            score = RUNNERS[method](case, law)
            seconds[method].append(time.perf_counter() - start)
            if method in scores and repr(scores[method]) != repr(score):
                raise RuntimeError(f"{case.name}: {method} is not deterministic")
            scores[method] = score
    return FitTiming(
        case=case,
        n_params=len(case.law().params),
        seconds={m: statistics.median(v) for m, v in seconds.items()},
        r2=scores,
    )
