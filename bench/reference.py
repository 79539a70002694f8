"""The reference evaluator our fitter is timed against, in the style of SLDBench's published
evaluators: the law as a numpy function (Law.predict), scipy.optimize.minimize(method="BFGS")
on the mean squared error from all-ones parameters, group by group, no gradient given (BFGS
differences it). With `restarts`, that many more starts are drawn at random (seeded) from the
same ranges our fitter draws its starts from, and each group keeps its lowest error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from sldagent.fitters import FitRecipe
from sldagent.law import Law

FAILED_MSE = 1e10  # what a non-finite error counts as (the published code's value on failure)


def _mse(theta: np.ndarray, law: Law, X: np.ndarray, Y: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        value = float(np.mean((law.predict(X, theta) - Y) ** 2))
    return value if np.isfinite(value) else FAILED_MSE


def _draw(recipe: FitRecipe, names: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    out = np.empty(len(names))
    for j, name in enumerate(names):
        lo, hi, log = recipe.start_range(name)
        u = rng.uniform()
        out[j] = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))) if log else lo + u * (hi - lo)
    return out


def reference_fit(
    law: Law,
    groups: Sequence[tuple[str, np.ndarray, np.ndarray]],
    restarts: int = 0,
    recipe: FitRecipe | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """One parameter vector per group: BFGS from all-ones, plus `restarts` random starts."""
    recipe = recipe or FitRecipe()
    rng = np.random.default_rng(seed)
    out = {}
    for name, X, y in groups:
        Y = np.asarray(y, dtype=float).reshape(len(X), -1)
        starts = [np.ones(len(law.params))]
        starts += [_draw(recipe, law.params, rng) for _ in range(restarts)]
        best, best_mse = starts[0], np.inf
        for x0 in starts:
            with np.errstate(all="ignore"):
                res = minimize(_mse, x0, args=(law, X, Y), method="BFGS")
            value = _mse(res.x, law, X, Y)
            if value < best_mse:
                best, best_mse = res.x, value
        out[name] = best
    return out
