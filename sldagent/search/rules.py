"""Selection rules: which logged candidate a finished run would ship, under other final choices.

A rule reads only what a run logged from training rows -- its candidates (fitness, complexity,
parameter count) and its finalists (fold errors, stability gap; best.json) -- and returns a
candidate id. No rule here refits (the rules that do are in search/refit_rules.py) or reads test
rows; `sldagent study` scores the chosen laws on the test rows afterwards. "shipped" is today's
final choice (search/choice.py) and reproduces the run's own best.json choice; the others vary
one of its ingredients. Rules know no task.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sldagent.search.choice import final_score


@dataclass(frozen=True)
class Finalist:
    """One finalist as best.json logs it (null -> inf), with its law's size from the log."""

    id: int
    fitness: float
    fold_errors: tuple[float, ...]
    gap: float
    complexity: int
    n_params: int


@dataclass(frozen=True)
class RunView:
    """What a rule may read of one finished run."""

    finalists: tuple[Finalist, ...]  # the final pool, best fitness first
    candidates: tuple[dict, ...]  # candidates.jsonl records
    complexity_weight: float  # the run's SelectionConfig.complexity_weight
    rows_per_group: float  # mean training rows per group (the n of an information criterion)


def _inf(value: float | None) -> float:
    return math.inf if value is None else float(value)


def run_view(best: dict, records: list[dict], complexity_weight: float, rows: float) -> RunView:
    """The view of a run from its best.json, candidates.jsonl records and selection settings."""
    by_id = {r["id"]: r for r in records}
    finalists = []
    for f in best["finalists"]:
        rec = by_id[f["id"]]
        finalists.append(
            Finalist(
                id=int(f["id"]),
                fitness=_inf(f["fitness"]),
                fold_errors=tuple(_inf(e) for e in f["fold_errors"]),
                gap=_inf(f["gap"]),
                complexity=int(rec["complexity"]),
                n_params=int(rec["n_params"]),
            )
        )
    finalists.sort(key=lambda f: (f.fitness, f.id))
    return RunView(tuple(finalists), tuple(records), float(complexity_weight), float(rows))


# ------------------------------------------------------------------ scores a rule ranks by


def _error(f: Finalist, folds: int | None = None, weights: str = "equal") -> float:
    """Geometric mean of the finalist's fold errors (first `folds` of them), optionally
    weighted toward the nearest fold; inf when a fold failed."""
    errors = np.array(f.fold_errors[:folds] if folds else f.fold_errors, dtype=float)
    if not len(errors) or not np.all(np.isfinite(errors)):
        return math.inf
    w = 0.5 ** np.arange(len(errors)) if weights == "near" else np.ones(len(errors))
    return 10 ** float(np.sum(w * errors) / np.sum(w))


def _score(
    f: Finalist, cw: float, folds: int | None = None, gap_factor: float = 1.0, weights="equal"
) -> float:
    """log10(error + (gap_factor * gap)^2) + cw * complexity; the shipped score at the defaults."""
    if folds is None and weights == "equal" and gap_factor == 1.0:
        return final_score(f.fold_errors, f.gap, f.complexity, cw)  # the search's own arithmetic
    error = _error(f, folds, weights)
    if not math.isfinite(error) or not math.isfinite(f.gap):
        return math.inf
    return math.log10(error + (gap_factor * f.gap) ** 2) + cw * f.complexity


def _argmin(finalists, key: Callable[[Finalist], float]) -> int:
    """Id of the finalist with the lowest key; ties: fitness, then id (as the shipped rule)."""
    return min(finalists, key=lambda f: (key(f), f.fitness, f.id)).id


def _ic(view: RunView, f: Finalist, per_param: float) -> float:
    """Shipped error term on an information-criterion scale: n ln(MSE) + c k, divided by
    n ln(10), i.e. log10(error + gap^2) + c k / (n ln 10)."""
    n = max(view.rows_per_group, 1.0)
    return _score(f, 0.0) + per_param * f.n_params / (n * math.log(10))


# ------------------------------------------------------------------ the rules


def shipped(view: RunView) -> int:
    """Today's final choice: lowest final score over the whole pool (search/choice.py)."""
    return _argmin(view.finalists, lambda f: _score(f, view.complexity_weight))


def fitness(view: RunView) -> int:
    """The best-fitness candidate (fold 1 alone, as during the search)."""
    ok = [r for r in view.candidates if r["ok"] and math.isfinite(r["fitness"])]
    return min(ok, key=lambda r: (r["fitness"], r["id"]))["id"]


def one_standard_error(view: RunView) -> int:
    """The simplest finalist (fewest constants, then nodes) whose score is within one standard
    error (over its folds) of the best score."""
    cw = view.complexity_weight
    top = min(view.finalists, key=lambda f: (_score(f, cw), f.fitness, f.id))
    best = _score(top, cw)
    errors = np.array(top.fold_errors, dtype=float)
    se = float(np.std(errors, ddof=1) / math.sqrt(len(errors))) if len(errors) > 1 else 0.0
    near = [f for f in view.finalists if _score(f, cw) <= best + se]
    return min(near, key=lambda f: (f.n_params, f.complexity, _score(f, cw), f.id)).id


def _folds(k: int) -> Callable[[RunView], int]:
    def rule(view: RunView) -> int:
        return _argmin(view.finalists, lambda f: _score(f, view.complexity_weight, folds=k))

    rule.__doc__ = f"Shipped score on the first {k} rehearsal fold(s) only."
    return rule


def near_weighted(view: RunView) -> int:
    """Shipped score with fold errors weighted 1, 1/2, 1/4 from the nearest fold outward."""
    return _argmin(view.finalists, lambda f: _score(f, view.complexity_weight, weights="near"))


def _gap(factor: float) -> Callable[[RunView], int]:
    def rule(view: RunView) -> int:
        cw = view.complexity_weight
        return _argmin(view.finalists, lambda f: _score(f, cw, gap_factor=factor))

    rule.__doc__ = f"Shipped score with the stability gap scaled by {factor:g}."
    return rule


def _pool(size: int) -> Callable[[RunView], int]:
    def rule(view: RunView) -> int:
        pool = view.finalists[:size]
        return _argmin(pool, lambda f: _score(f, view.complexity_weight))

    rule.__doc__ = f"Shipped score over the {size} best-fitness finalists only."
    return rule


def _complexity(factor: float) -> Callable[[RunView], int]:
    def rule(view: RunView) -> int:
        return _argmin(view.finalists, lambda f: _score(f, factor * view.complexity_weight))

    rule.__doc__ = f"Shipped score with the complexity weight scaled by {factor:g}."
    return rule


def aic(view: RunView) -> int:
    """Shipped error term plus an AIC penalty (2 per constant) instead of node counts."""
    return _argmin(view.finalists, lambda f: _ic(view, f, 2.0))


def bic(view: RunView) -> int:
    """Shipped error term plus a BIC penalty (ln n per constant) instead of node counts."""
    per = math.log(max(view.rows_per_group, 2.0))
    return _argmin(view.finalists, lambda f: _ic(view, f, per))


RULES: dict[str, Callable[[RunView], int]] = {
    "shipped": shipped,
    "fitness": fitness,
    "one_se": one_standard_error,
    "folds_1": _folds(1),
    "folds_2": _folds(2),
    "near_weighted": near_weighted,
    "gap_0": _gap(0.0),
    "gap_x2": _gap(2.0),
    "pool_5": _pool(5),
    "pool_10": _pool(10),
    "complexity_0": _complexity(0.0),
    "complexity_x5": _complexity(5.0),
    "aic": aic,
    "bic": bic,
}


def describe(rule: Callable) -> str:
    """A rule's description in one line (its docstring's first paragraph)."""
    return " ".join((rule.__doc__ or rule.__name__).strip().split("\n\n")[0].split())
