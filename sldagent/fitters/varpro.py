"""The default fitter: variable projection + multi-start Levenberg-Marquardt, batched.

Parameters that enter a formula linearly (offsets, amplitudes) are solved exactly by linear least
squares for every trial value of the others, so the multi-start search runs only over the few
nonlinear parameters. Many quasi-random starts are screened, the best few refined by variable
projection, and the best of those polished jointly with the recipe's loss (plain, Huber,
soft-L1) and, if asked, in log space. All groups of a fit and all their starts go through each
stage together as one stack of small problems (see lm.py), so a law's many per-group fits cost
a few numpy calls per iteration instead of thousands of scipy calls.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
from scipy.stats import qmc
from threadpoolctl import ThreadpoolController

from sldagent.fitters import lm
from sldagent.fitters.linear import orthonormal, solve_box
from sldagent.fitters.recipe import FitRecipe, FitResult
from sldagent.law import Law
from sldagent.metrics import TARGET_LIMIT

_BAD_RESIDUAL = lm.BAD_RESIDUAL
_CHUNK_ELEMENTS = 1 << 16  # problems x rows evaluated at once: bounds memory on large data
_BIG = 1e150  # Jacobian entries are clipped to this, so that their squares stay finite
_THREADPOOLS = ThreadpoolController()  # finding the BLAS libraries once costs milliseconds


class _OutOfTime(Exception):
    pass


@dataclass(frozen=True)
class _Rows:
    """The rows of a stack of problems (all with the same number of rows)."""

    cols: list[np.ndarray]  # per feature (b, n)
    y: np.ndarray  # (b, n, k) targets in the space the stage fits
    scale: np.ndarray  # (b, 1, k) per-target std of the problem's group

    def take(self, which: np.ndarray) -> _Rows:
        if len(which) == len(self.y):
            return self
        return _Rows([c[which] for c in self.cols], self.y[which], self.scale[which])

    def slices(self) -> Iterator[_Rows]:
        """The rows in slices of at most _CHUNK_ELEMENTS values per stack."""
        b, n, k = self.y.shape
        step = max(1, _CHUNK_ELEMENTS // (b * k))
        if step >= n:
            yield self
            return
        for i in range(0, n, step):
            cols = [c[:, i : i + step] for c in self.cols]
            yield _Rows(cols, self.y[:, i : i + step], self.scale)


@dataclass(frozen=True)
class _Groups:
    """Groups with the same number of rows, fitted together. Groups of other sizes go in
    another stack, so a group's fit is the same bits whichever groups it is fitted with."""

    X: np.ndarray  # (G, n, F)
    y: np.ndarray  # (G, n, k) original targets

    def rows(self, g: np.ndarray, targets: list[int], log: bool, scale: np.ndarray) -> _Rows:
        y = self.y[g][:, :, targets]
        y = np.log(y) if log else y
        return _Rows([self.X[g, :, j] for j in range(self.X.shape[2])], y, scale[g])


@dataclass(frozen=True)
class _Problem:
    """One least-squares problem: some targets of a law and the parameters they use."""

    law: Law  # the sub-law of this problem's targets: theta here is its own parameter vector
    targets: list[int]  # columns of y
    linear: tuple[int, ...]  # parameters solved by linear least squares (original space)
    nonlinear: tuple[int, ...]
    lo: np.ndarray
    hi: np.ndarray
    recipe: FitRecipe
    check_time: Callable[[], None]


def _bounds(recipe: FitRecipe, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([recipe.bounds.get(n, (-np.inf, np.inf))[0] for n in names], dtype=float)
    hi = np.array([recipe.bounds.get(n, (-np.inf, np.inf))[1] for n in names], dtype=float)
    return lo, hi


@functools.lru_cache(maxsize=256)
def _sobol(d: int, n: int, seed: int) -> np.ndarray:
    """n scrambled-Sobol points in [0, 1)^d, read-only: the same for every fit with this seed
    (making a scrambled engine costs milliseconds, more than a small fit)."""
    u = qmc.Sobol(d=d, scramble=True, seed=seed).random(1 << max(0, math.ceil(math.log2(n))))[:n]
    u.flags.writeable = False
    return u


def _starts(recipe: FitRecipe, names: Sequence[str], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Scrambled-Sobol starting points over the init ranges (seeded, so fits are repeatable)."""
    n = max(1, recipe.n_starts)
    u = _sobol(len(names), n, recipe.seed)
    pts = np.empty((n, len(names)))
    for j, name in enumerate(names):
        a, b, log = recipe.start_range(name)
        pts[:, j] = (
            np.exp(np.log(a) + u[:, j] * (np.log(b) - np.log(a))) if log else a + u[:, j] * (b - a)
        )
    # keep starts strictly inside the bounds
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    return np.clip(pts, lo + 1e-9 * span, hi - 1e-9 * span)


def _clean(r: np.ndarray) -> np.ndarray:
    return np.nan_to_num(r, nan=_BAD_RESIDUAL, posinf=_BAD_RESIDUAL, neginf=-_BAD_RESIDUAL)


def _project(
    prob: _Problem, rows: _Rows, z: np.ndarray, jac: bool
) -> tuple[np.ndarray, lm.Reduced | None, np.ndarray, np.ndarray]:
    """Variable projection at nonlinear values z (b, n_nl): the linear parameters solved by
    (bounded) least squares. Returns the cost (0.5 * sum of squared scaled residuals; inf if
    the law is not finite on the rows), with `jac` the problem reduced over z with Kaufman's
    Jacobian (projected off the free linear columns), the linear coefficients (b, n_lin) and
    whether each is free (not held at a bound). Rows are taken in slices and reduced to small
    R factors as they go, so memory does not grow with them."""
    b, k = len(z), len(prob.targets)
    lin, nl, L = prob.linear, prob.nonlinear, len(prob.linear)
    theta: list = [0.0] * len(prob.law.params)
    for j, i in enumerate(nl):
        theta[i] = z[:, j : j + 1]
    design = lm.Reduction(b, L + 1)  # of [A | y - base]: the linear least-squares problem
    ok = np.ones(b, dtype=bool)
    for part in rows.slices():
        prob.check_time()
        out = prob.law.evaluate(part.cols, theta, lin, value=True)  # (k + k*L, b, n)
        rhs = ((part.y - np.moveaxis(out[:k], 0, -1)) / part.scale).reshape(b, -1)
        A = np.moveaxis(out[k:], 0, -1) / part.scale if L else np.zeros((b, rhs.shape[1], 0))
        block = np.concatenate([A, rhs[:, :, None]], axis=2)  # (linear only if k == 1)
        ok &= np.all(np.isfinite(block), axis=(1, 2))
        design.add(np.where(ok[:, None, None], block, 0.0))
    M, d = design.R[:, :, :L], design.R[:, :, L]
    if L:
        sol = solve_box(M, d, prob.lo[list(lin)], prob.hi[list(lin)])
        coef, free = sol.coef, sol.free
    else:
        coef, free = np.zeros((b, 0)), np.ones((b, 0), dtype=bool)
    misfit = (M @ coef[:, :, None])[:, :, 0] - d
    cost = np.where(ok, 0.5 * np.sum(misfit * misfit, axis=1), np.inf)
    if not jac:
        return cost, None, coef, free
    for j, i in enumerate(lin):
        theta[i] = coef[:, j : j + 1]
    which = (*lin, *nl)
    full = lm.Reduction(b, len(which) + 1)  # of [A | J_z | residuals] at (z, coef)
    for part in rows.slices():
        prob.check_time()
        out = prob.law.evaluate(part.cols, theta, which, value=True)
        n = out.shape[-1]
        r = _clean(((np.moveaxis(out[:k], 0, -1) - part.y) / part.scale).reshape(b, -1))
        d_ = np.moveaxis(out[k:].reshape(k, len(which), b, n), (0, 1), (2, 3))
        J = np.nan_to_num((d_ / part.scale[..., None]).reshape(b, n * k, len(which)))
        full.add(np.concatenate([np.clip(J, -_BIG, _BIG), r[:, :, None]], axis=2))
    R = full.R
    basis = orthonormal(R[:, :, :L] * free[:, None, :])
    Jz, r = R[:, :, L:-1], R[:, :, -1]
    Jz = Jz - basis @ (basis.transpose(0, 2, 1) @ Jz)
    r = r - (basis @ (basis.transpose(0, 2, 1) @ r[:, :, None]))[:, :, 0]
    return cost, lm.Reduced(cost, r, Jz), coef, free


def _joint(prob: _Problem, rows: _Rows, theta: np.ndarray) -> lm.Reduced:
    """The problem reduced over all of its parameters, with residuals in fitting space (log
    space if the recipe says so) and the recipe's loss."""
    b, k, p = len(theta), len(prob.targets), theta.shape[1]
    recipe = prob.recipe
    columns = [theta[:, i : i + 1] for i in range(p)]
    cost, acc = np.zeros(b), lm.Reduction(b, p + 1)
    for part in rows.slices():
        prob.check_time()
        out = prob.law.evaluate(part.cols, columns, tuple(range(p)), value=True)
        pred, n = np.moveaxis(out[:k], 0, -1), out.shape[-1]  # (b, n, k)
        d = np.moveaxis(out[k:].reshape(k, p, b, n), (0, 1), (2, 3))  # (b, n, k, p)
        if recipe.log_target:
            d = d / pred[..., None]
            pred = np.log(pred)
        r = _clean(((pred - part.y) / part.scale).reshape(b, -1))
        J = np.nan_to_num((d / part.scale[..., None]).reshape(b, n * k, p))
        cost += lm.robust_cost(r, recipe.loss, recipe.f_scale)
        rs, Js = lm.scaled(r, np.clip(J, -_BIG, _BIG), recipe.loss, recipe.f_scale)
        acc.add(np.concatenate([Js, rs[:, :, None]], axis=2))
    return lm.Reduced(cost, acc.R[:, :, p], acc.R[:, :, :p])


def _chunks(count: int, rows_per_problem: int) -> list[np.ndarray]:
    size = max(1, _CHUNK_ELEMENTS // max(1, rows_per_problem))
    return [np.arange(i, min(count, i + size)) for i in range(0, count, size)]


def _minimise(
    prob: _Problem,
    rows_of: Callable[[np.ndarray], _Rows],
    x0: np.ndarray,
    residuals: Callable[[_Rows, np.ndarray], lm.Reduced],
    params: Sequence[int],
    max_nfev: int,
    width: int,
) -> lm.Solution:
    """lm.minimise over some of the problem's parameters for a stack of starts, chunked so that
    at most _CHUNK_ELEMENTS residuals are in flight. Positive parameters drawn log-uniformly
    (ranges over decades, like a reference scale) are moved in log space, where a step of a
    given size means the same thing at 1e-3 as at 1e5."""
    params = list(params)
    lo, hi = prob.lo[params], prob.hi[params]
    names = [prob.law.params[i] for i in params]
    log = np.array([lo[j] > 0 and prob.recipe.start_range(n)[2] for j, n in enumerate(names)])
    log = log.astype(bool) if len(log) else np.zeros(0, dtype=bool)

    def inward(x: np.ndarray) -> np.ndarray:
        return np.where(log, np.log(np.where(log, x, 1.0)), x)

    def outward(u: np.ndarray) -> np.ndarray:
        return np.where(log, np.exp(np.where(log, u, 0.0)), u)

    def evaluate(u: np.ndarray, rows: _Rows) -> lm.Reduced:
        x = outward(u)
        red = residuals(rows, x)
        return lm.Reduced(red.cost, red.r, red.J * np.where(log, x, 1.0)[:, None, :])

    parts = []
    for chunk in _chunks(len(x0), width):
        rows = rows_of(chunk)
        parts.append(
            lm.minimise(
                lambda u, which, rows=rows: evaluate(u, rows.take(which)),
                inward(x0[chunk]),
                inward(lo),
                inward(hi),
                max_nfev=max_nfev,
                tol=prob.recipe.tol,
                check_time=prob.check_time,
            )
        )
    sol = lm.Solution(*(np.concatenate([getattr(s, f) for s in parts]) for f in lm.FIELDS))
    return dataclasses.replace(sol, x=outward(sol.x))


def _solve(prob: _Problem, groups: _Groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Screen quasi-random starts, refine the best few by variable projection, polish those
    jointly; for every group at once. Returns per group (objective, theta, evaluations)."""
    recipe = prob.recipe
    G, n = groups.y.shape[:2]
    k = len(prob.targets)
    fit_y = groups.y[:, :, prob.targets]
    fit_y = np.log(fit_y) if recipe.log_target else fit_y
    scale_fit = _scale(fit_y)
    scale_orig = _scale(groups.y[:, :, prob.targets]) if recipe.log_target else scale_fit
    p = len(prob.law.params)
    theta0 = np.array([_mid(recipe, name) for name in prob.law.params])

    def orig_rows(g: np.ndarray) -> _Rows:
        return groups.rows(g, prob.targets, False, scale_orig)

    def fit_rows(g: np.ndarray) -> _Rows:
        return groups.rows(g, prob.targets, recipe.log_target, scale_fit)

    evals = np.zeros(G, dtype=int)
    if p == 0:
        cost = _joint(prob, fit_rows(np.arange(G)), np.zeros((G, 0))).cost
        return cost, np.zeros((G, 0)), evals + 1

    # candidates from variable projection: their group, parameters and cost
    nl = list(prob.nonlinear)
    if not nl:
        g_idx = np.arange(G)
        thetas = np.tile(theta0, (G, 1))
        costs, _, coef, free = _project(prob, orig_rows(g_idx), np.zeros((G, 0)), jac=False)
        thetas[:, list(prob.linear)] = coef
        evals += 1
        if recipe.loss == "linear" and not recipe.log_target and free.all():
            # a law linear in all its parameters, no bound active, plain loss: the least-squares
            # solution is already the exact optimum, and a polish could only add rounding
            return costs, thetas, evals
    else:
        names = [prob.law.params[i] for i in nl]
        starts = _starts(recipe, names, prob.lo[nl], prob.hi[nl])
        S = len(starts)
        screened = np.empty(G * S)
        g_all, s_all = np.repeat(np.arange(G), S), np.tile(np.arange(S), G)
        for chunk in _chunks(G * S, n * k):
            prob.check_time()
            z = starts[s_all[chunk]]
            screened[chunk] = _project(prob, orig_rows(g_all[chunk]), z, jac=False)[0]
        evals += S
        screened = screened.reshape(G, S)
        picks = []
        for g in range(G):
            order = np.argsort(screened[g], kind="stable")
            picks += [(g, s) for s in order[: recipe.n_local] if np.isfinite(screened[g, s])]
        if not picks:
            return np.full(G, np.inf), np.tile(theta0, (G, 1)), evals
        g_idx = np.array([g for g, _ in picks])
        max_nfev = recipe.iterations * (len(nl) + 1)
        sol = _minimise(
            prob,
            lambda c: orig_rows(g_idx[c]),
            starts[[s for _, s in picks]],
            lambda rows, z: _project(prob, rows, z, jac=True)[1],
            nl,
            max_nfev,
            n * k,
        )
        np.add.at(evals, g_idx, sol.nfev)
        thetas = np.tile(theta0, (len(g_idx), 1))
        thetas[:, nl] = sol.x
        coef = np.zeros((len(g_idx), len(prob.linear)))
        for chunk in _chunks(len(g_idx), n * k):
            coef[chunk] = _project(prob, orig_rows(g_idx[chunk]), sol.x[chunk], jac=False)[2]
        thetas[:, list(prob.linear)] = coef
        costs = sol.cost
    # polish the best candidates of each group jointly, with the recipe's loss
    chosen = []
    for g in range(G):
        mine = np.flatnonzero((g_idx == g) & np.isfinite(costs))
        chosen += list(mine[np.argsort(costs[mine], kind="stable")][: recipe.n_polish])
    best_obj, best_theta = np.full(G, np.inf), np.tile(theta0, (G, 1))
    if not chosen:
        return best_obj, best_theta, evals
    pg = g_idx[chosen]
    sol = _minimise(
        prob,
        lambda c: fit_rows(pg[c]),
        thetas[chosen],
        lambda rows, t: _joint(prob, rows, t),
        range(p),
        recipe.iterations * (p + 1),
        n * k,
    )
    for j, c in enumerate(chosen):  # polished first: it wins a tie
        for obj, t in ((sol.cost[j], sol.x[j]), (sol.start_cost[j], thetas[c])):
            if obj < best_obj[pg[j]]:
                best_obj[pg[j]], best_theta[pg[j]] = obj, t
    return best_obj, best_theta, evals


def _scale(y: np.ndarray) -> np.ndarray:
    """Per group and target std (G, 1, k); a constant target is scaled by its mean magnitude
    (at least 1) instead."""
    std = np.std(y, axis=1, keepdims=True)
    fallback = np.maximum(np.mean(np.abs(y), axis=1, keepdims=True), 1.0)
    return np.where(std > 0, std, fallback)


def _mid(recipe: FitRecipe, name: str) -> float:
    """Middle of a parameter's initial range (geometric if drawn log-uniformly)."""
    lo, hi, log = recipe.start_range(name)
    return math.sqrt(lo * hi) if log else 0.5 * (lo + hi)


def _problems(law: Law, recipe: FitRecipe, check_time: Callable[[], None]):
    """Split the law into independent problems: targets that share no parameter fit apart.
    Yields (problem, indices of its parameters in the full law)."""
    groups: list[tuple[list[int], set[int]]] = []
    for j in range(len(law.targets)):
        owners = set(law.target_params(j))
        merged = [g for g in groups if g[1] & owners]
        targets, params = [j], owners
        for g in merged:
            targets += g[0]
            params |= g[1]
            groups.remove(g)
        groups.append((sorted(targets), params))
    for targets, _ in groups:
        sub, keep = law.restrict(targets)
        linear = sub.linear_params(0) if len(targets) == 1 else ()
        lo, hi = _bounds(recipe, sub.params)
        prob = _Problem(
            law=sub,
            targets=targets,
            linear=tuple(linear),
            nonlinear=tuple(i for i in range(len(sub.params)) if i not in linear),
            lo=lo,
            hi=hi,
            recipe=recipe,
            check_time=check_time,
        )
        yield prob, keep


def _pin(law: Law, recipe: FitRecipe) -> tuple[Law, list[int], dict[int, float]]:
    """Parameters whose bounds pin them (low == high) are substituted by their value, since
    the optimisers need low < high. Returns (law over the free parameters, their indices in
    law.params, {index: pinned value})."""
    pinned: dict[int, float] = {}
    for i, name in enumerate(law.params):
        lo, hi = recipe.bounds.get(name, (-math.inf, math.inf))
        if lo == hi:
            pinned[i] = float(lo)
    if not pinned:
        return law, list(range(len(law.params))), pinned
    values = {law.params[i]: v for i, v in pinned.items()}
    subs = {
        s: sympy.Float(values[s.name])
        for e in law.exprs
        for s in e.free_symbols
        if s.name in values
    }
    free = [i for i in range(len(law.params)) if i not in pinned]
    sub = Law(
        features=law.features,
        targets=law.targets,
        params=tuple(law.params[i] for i in free),
        exprs=tuple(e.xreplace(subs) for e in law.exprs),
    )
    return sub, free, pinned


def fit(law: Law, X: np.ndarray, y: np.ndarray, recipe: FitRecipe | None = None) -> FitResult:
    """Fit the law's parameters to one group's rows. Never raises on numerical trouble: a fit
    that fails, produces non-finite values, or runs past the time limit comes back ok=False."""
    return fit_groups(law, [("", X, y)], recipe)[""]


def fit_groups(
    law: Law, groups: Iterable[tuple[str, np.ndarray, np.ndarray]], recipe: FitRecipe | None = None
) -> dict[str, FitResult]:
    """One parameter vector per group for the same law (DESIGN invariant 3), all groups fitted
    together. The time limit is per group: the groups share time_limit x their number."""
    # Multithreaded BLAS on these tall, skinny matrices is 100x slower than one thread (measured
    # here: SVD of 1730x7 takes 31 ms vs 0.13 ms), so fits always run single-threaded.
    # Overflow and invalid values are expected while exploring (they are scored as bad
    # residuals), so numpy's warnings are silenced: under -W error they would raise.
    with _THREADPOOLS.limit(limits=1, user_api="blas"), np.errstate(all="ignore"):
        return _fit_groups(law, list(groups), recipe or FitRecipe())


NO_FINITE_LOSS = (
    "no start gave a finite loss: at every start the law was undefined or overflowed on these "
    f"rows, or missed a row by more than {lm.BAD_RESIDUAL:g} target standard deviations"
)


def _failed(message: str, start: float) -> FitResult:
    return FitResult(False, None, math.inf, message, time.monotonic() - start, 0)


def _check_rows(law: Law, m: int, X: np.ndarray, y: np.ndarray, recipe: FitRecipe) -> str | None:
    """Why a group's rows cannot be fitted, or None."""
    if len(y) == 0 or y.size < m:
        return f"{len(y)} rows cannot fix {m} parameters"
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        return "the rows hold non-finite values (NaN or inf)"
    if recipe.log_target and np.any(y <= 0):
        return "log-space fit needs a positive target"
    top = float(np.max(np.abs(y))) if y.size else 0.0
    if top > TARGET_LIMIT or 0 < top < 1 / TARGET_LIMIT:
        return f"target magnitude {top:.3g} is outside [1e-150, 1e150]; rescale the target"
    return None


def _fit_groups(law: Law, groups: list, recipe: FitRecipe) -> dict[str, FitResult]:
    start = time.monotonic()
    data = []
    for name, X, y in groups:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.shape != (len(X), len(law.targets)):
            raise ValueError(
                f"y has shape {y.shape}; expected ({len(X)}, {len(law.targets)}) for X's rows "
                "and the law's targets"
            )
        data.append((name, X, y))
    full_law = law
    law, free, pinned = _pin(law, recipe)
    bad = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
    results: dict[str, FitResult] = {}
    if pinned and any(e.has(*bad) for e in law.exprs):
        why = "the pinned parameters (low == high) make the law undefined"
        return {name: _failed(why, start) for name, _, _ in data}
    todo = []
    for name, X, y in data:
        why = _check_rows(law, len(law.params), X, y, recipe)
        if why is None:
            todo.append((name, X, y))
        else:
            results[name] = _failed(why, start)
    deadline = start + recipe.time_limit * len(todo)
    for size in dict.fromkeys(len(X) for _, X, _ in todo):
        same = [item for item in todo if len(item[1]) == size]
        results.update(_fit_batch(full_law, law, free, pinned, same, recipe, start, deadline))
    return {name: results[name] for name, _, _ in data}


def _fit_batch(
    full_law: Law,
    law: Law,
    free: list[int],
    pinned: dict[int, float],
    todo: list,
    recipe: FitRecipe,
    start: float,
    deadline: float,
) -> dict[str, FitResult]:
    G, began = len(todo), time.monotonic()

    def check_time() -> None:
        if time.monotonic() > deadline:
            raise _OutOfTime

    groups = _Groups(np.stack([X for _, X, _ in todo]), np.stack([y for _, _, y in todo]))
    theta = np.tile([_mid(recipe, name) for name in law.params], (G, 1))  # unfitted stay here
    total, evals = np.zeros(G), np.zeros(G, dtype=int)
    try:
        for prob, keep in _problems(law, recipe, check_time):
            obj, t, n = _solve(prob, groups)
            theta[:, list(keep)] = t
            total += obj
            evals += n
    except _OutOfTime:
        why = f"time limit {recipe.time_limit:g}s exceeded"
        return {name: _failed(why, start) for name, _, _ in todo}
    seconds = (time.monotonic() - began) / G  # the stack's time, shared out
    out = {}
    for g, (name, X, y) in enumerate(todo):
        if not math.isfinite(total[g]):
            out[name] = FitResult(False, None, math.inf, NO_FINITE_LOSS, seconds, int(evals[g]))
            continue
        t = theta[g]
        if pinned:
            t = np.empty(len(full_law.params))
            t[free] = theta[g]
            t[list(pinned)] = list(pinned.values())
        if not np.all(np.isfinite(full_law.predict(X, t))):
            out[name] = FitResult(
                False,
                None,
                math.inf,
                "fitted law predicts non-finite values",
                seconds,
                int(evals[g]),
            )
            continue
        out[name] = FitResult(True, t, total[g] / max(1, y.size), "ok", seconds, int(evals[g]))
    return out
