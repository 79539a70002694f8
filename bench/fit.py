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
from sldagent.fitters import FitRecipe, fit_groups
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
    """Median seconds, train R² and the number of groups whose parameters leave the recipe's
    bounds (the reference does not know them), per method, for one case."""

    case: FitCase
    n_params: int
    seconds: dict[str, float]
    r2: dict[str, float]
    outside: dict[str, int]

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


def _score(case: FitCase, law: Law, thetas: dict[str, np.ndarray]) -> tuple[float, int]:
    """Pooled train R² of per-group parameters, and how many groups leave the bounds."""
    trues, preds, outside = [], [], 0
    lo = np.array([case.recipe.bounds.get(p, (-np.inf, np.inf))[0] for p in law.params])
    hi = np.array([case.recipe.bounds.get(p, (-np.inf, np.inf))[1] for p in law.params])
    for name, X, y in case.groups:
        trues.append(np.asarray(y, dtype=float).reshape(len(X), -1))
        theta = thetas.get(name)
        if theta is None:
            preds.append(np.full_like(trues[-1], np.nan))
            continue
        outside += int(np.any(theta < lo) or np.any(theta > hi))
        with np.errstate(all="ignore"):
            preds.append(law.predict(X, theta))
    return r2(np.concatenate(trues), np.concatenate(preds)), outside


def _ours(case: FitCase, law: Law) -> tuple[float, int]:
    fits = fit_groups(law, case.groups, case.recipe)
    return _score(case, law, {g: f.theta for g, f in fits.items() if f.ok})


def _reference(restarts: int) -> Callable[[FitCase, Law], tuple[float, int]]:
    def run(case: FitCase, law: Law) -> tuple[float, int]:
        thetas = reference_fit(law, case.groups, restarts=restarts, recipe=case.recipe)
        return _score(case, law, thetas)

    return run


RUNNERS = {"ours": _ours, "bfgs": _reference(0), "bfgs+restarts": _reference(RESTARTS)}


def measure(case: FitCase, repeats: int, methods: Sequence[str] = METHODS) -> FitTiming:
    """Median wall time over `repeats` of fitting every group and scoring train R², methods
    interleaved within each repeat so that machine load falls on all of them alike."""
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    scores: dict[str, tuple[float, int]] = {}
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
        r2={m: v[0] for m, v in scores.items()},
        outside={m: v[1] for m, v in scores.items()},
    )
