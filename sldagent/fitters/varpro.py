"""The default fitter: variable projection + multi-start trust-region least squares.

Parameters that enter a formula linearly (offsets, amplitudes) are solved exactly by linear least
squares for every trial value of the others, so the multi-start search runs only over the few
nonlinear parameters. The best starts are then polished jointly with the analytic Jacobian,
with the recipe's loss (plain, Huber, soft-L1) and, if asked, in log space.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy
from scipy.optimize import least_squares, lsq_linear
from scipy.stats import qmc
from threadpoolctl import threadpool_limits

from sldagent.fitters.recipe import FitRecipe, FitResult
from sldagent.law import Law

_BAD_RESIDUAL = 1e6  # stands in for a non-finite residual (in units of the target's std)


class _OutOfTime(Exception):
    pass


@dataclass(frozen=True)
class _Problem:
    """One least-squares problem: some targets of a law and the parameters they use."""

    law: Law  # the sub-law of this problem's targets: theta here is its own parameter vector
    X: np.ndarray
    y: np.ndarray  # (n, k_sub) fitting-space targets
    params: tuple[int, ...]  # all of the sub-law's parameters: 0 .. m-1
    linear: tuple[int, ...]  # parameters solved by linear least squares (original space)
    scale: np.ndarray  # per target std (residuals are divided by it)
    recipe: FitRecipe
    deadline: float

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OutOfTime

    def predict(self, theta_full: np.ndarray) -> np.ndarray:
        return self.law.predict(self.X, theta_full)

    def residual(self, theta_full: np.ndarray) -> np.ndarray:
        """Scaled residuals in fitting space (log space if the recipe says so)."""
        self.check_time()
        pred = self.predict(theta_full)
        if self.recipe.log_target:
            with np.errstate(all="ignore"):
                pred = np.log(pred)
        r = (pred - self.y) / self.scale
        return np.nan_to_num(
            r, nan=_BAD_RESIDUAL, posinf=_BAD_RESIDUAL, neginf=-_BAD_RESIDUAL
        ).ravel()

    def jacobian(self, theta_full: np.ndarray) -> np.ndarray:
        self.check_time()
        jac = self.law.jacobian(self.X, theta_full)
        if self.recipe.log_target:
            with np.errstate(all="ignore"):
                jac = jac / self.predict(theta_full)[:, :, None]
        jac = jac / self.scale[None, :, None]
        jac = jac.reshape(-1, len(self.params))
        return np.nan_to_num(jac, nan=0.0, posinf=0.0, neginf=0.0)


def _bounds(recipe: FitRecipe, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([recipe.bounds.get(n, (-np.inf, np.inf))[0] for n in names], dtype=float)
    hi = np.array([recipe.bounds.get(n, (-np.inf, np.inf))[1] for n in names], dtype=float)
    return lo, hi


def _init_range(recipe: FitRecipe, name: str) -> tuple[float, float, bool]:
    """(low, high, log-uniform?) for drawing starts of one parameter."""
    if name in recipe.init:
        lo, hi = recipe.init[name]
    else:
        blo, bhi = recipe.bounds.get(name, (-np.inf, np.inf))
        lo = blo if math.isfinite(blo) else (max(-2.0, bhi - 4.0) if math.isfinite(bhi) else -2.0)
        hi = bhi if math.isfinite(bhi) else min(2.0, lo + 4.0) if math.isfinite(blo) else 2.0
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    log = lo > 0 and hi / lo > 100
    return lo, hi, log


def _starts(recipe: FitRecipe, names: Sequence[str], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Scrambled-Sobol starting points over the init ranges (seeded, so fits are repeatable)."""
    d = len(names)
    n = max(1, recipe.n_starts)
    sampler = qmc.Sobol(d=d, scramble=True, seed=recipe.seed)
    u = sampler.random(1 << max(0, math.ceil(math.log2(n))))[:n]
    pts = np.empty((n, d))
    for j, name in enumerate(names):
        a, b, log = _init_range(recipe, name)
        pts[:, j] = (
            np.exp(np.log(a) + u[:, j] * (np.log(b) - np.log(a))) if log else a + u[:, j] * (b - a)
        )
    # keep starts strictly inside the bounds
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    return np.clip(pts, lo + 1e-9 * span, hi - 1e-9 * span)


def _linear_system(prob: _Problem, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix of the linear parameters and the right-hand side, both scaled."""
    lin = list(prob.linear)
    t0 = theta.copy()
    t0[lin] = 0.0
    base = prob.law.predict(prob.X, t0)
    design = prob.law.jacobian(prob.X, t0, lin)
    A = (design / prob.scale[None, :, None]).reshape(-1, len(lin))
    y = np.exp(prob.y) if prob.recipe.log_target else prob.y
    b = ((y - base) / prob.scale).ravel()
    return A, b


def _solve_linear(prob: _Problem, theta: np.ndarray) -> np.ndarray:
    """Given the nonlinear parameters in theta, set the linear ones by least squares."""
    A, b = _linear_system(prob, theta)
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        return theta
    lin = list(prob.linear)
    lo, hi = _bounds(prob.recipe, [prob.law.params[i] for i in lin])
    if np.all(np.isinf(lo)) and np.all(np.isinf(hi)):
        coef = np.linalg.lstsq(A, b, rcond=None)[0]
    else:
        coef = lsq_linear(A, b, bounds=(lo, hi), method="bvls" if A.shape[1] < 30 else "trf").x
    out = theta.copy()
    out[lin] = coef
    return out


class _Projected:
    """Variable-projection residual over the nonlinear parameters, with Kaufman's Jacobian
    (the full Jacobian's nonlinear columns projected off the span of the linear design)."""

    def __init__(self, prob: _Problem, theta: np.ndarray, nl: list[int]):
        self.prob, self.theta, self.nl = prob, theta, nl
        lo, hi = _bounds(prob.recipe, [prob.law.params[i] for i in prob.linear])
        self.unbounded_linear = bool(np.all(np.isinf(lo)) and np.all(np.isinf(hi)))
        self._z: np.ndarray | None = None
        self._full: np.ndarray = theta

    def full(self, z: np.ndarray) -> np.ndarray:
        if self._z is None or not np.array_equal(z, self._z):
            t = self.theta.copy()
            t[self.nl] = z
            self._full = _solve_linear(self.prob, t) if self.prob.linear else t
            self._z = np.array(z, copy=True)
        return self._full

    def residual(self, z: np.ndarray) -> np.ndarray:
        return _plain_residual(self.prob, self.full(z))

    def jacobian(self, z: np.ndarray) -> np.ndarray:
        prob, t = self.prob, self.full(z)
        prob.check_time()
        jac = prob.law.jacobian(prob.X, t)
        jac = (jac / prob.scale[None, :, None]).reshape(-1, len(prob.law.params))
        J = np.nan_to_num(jac[:, self.nl], nan=0.0, posinf=0.0, neginf=0.0)
        if prob.linear and self.unbounded_linear:
            A = np.nan_to_num(jac[:, list(prob.linear)], nan=0.0, posinf=0.0, neginf=0.0)
            q, _ = np.linalg.qr(A)
            J = J - q @ (q.T @ J)
        return J


def _local(
    prob: _Problem, theta: np.ndarray, nl: list[int], max_nfev: int
) -> tuple[float, np.ndarray]:
    """Minimise over the nonlinear parameters only, from one start; returns (cost, theta)."""
    proj = _Projected(prob, theta, nl)
    lo, hi = _bounds(prob.recipe, [prob.law.params[i] for i in nl])
    z0 = theta[nl]
    if not np.all(np.abs(proj.residual(z0)) < _BAD_RESIDUAL):
        return math.inf, theta
    jac = proj.jacobian if proj.unbounded_linear else "2-point"
    res = least_squares(
        proj.residual,
        z0,
        jac=jac,
        bounds=(lo, hi),
        method="trf",
        x_scale="jac",
        max_nfev=max_nfev,
        xtol=prob.recipe.tol,
        ftol=prob.recipe.tol,
    )
    t = proj.full(res.x)
    return float(np.sum(proj.residual(res.x) ** 2)), t


def _plain_residual(prob: _Problem, theta: np.ndarray) -> np.ndarray:
    """Residuals in the original target space (what variable projection minimises)."""
    prob.check_time()
    pred = prob.predict(theta)
    y = np.exp(prob.y) if prob.recipe.log_target else prob.y
    r = (pred - y) / prob.scale
    return np.nan_to_num(r, nan=_BAD_RESIDUAL, posinf=_BAD_RESIDUAL, neginf=-_BAD_RESIDUAL).ravel()


def _polish(prob: _Problem, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Joint least squares over all parameters of the problem, analytic Jacobian, recipe loss."""
    idx = list(prob.params)
    names = [prob.law.params[i] for i in idx]
    lo, hi = _bounds(prob.recipe, names)
    z0 = np.clip(theta[idx], lo, hi)

    def full(z: np.ndarray) -> np.ndarray:
        t = theta.copy()
        t[idx] = z
        return t

    r0 = prob.residual(full(z0))
    if not np.all(np.abs(r0) < _BAD_RESIDUAL):
        return math.inf, theta
    res = least_squares(
        lambda z: prob.residual(full(z)),
        z0,
        jac=lambda z: prob.jacobian(full(z)),
        bounds=(lo, hi),
        method="trf",
        x_scale="jac",
        loss=prob.recipe.loss,
        f_scale=prob.recipe.f_scale,
        max_nfev=prob.recipe.iterations * (len(idx) + 1),
        xtol=prob.recipe.tol,
        ftol=prob.recipe.tol,
        gtol=prob.recipe.tol,
    )
    return float(res.cost), full(res.x)


def _objective(prob: _Problem, theta: np.ndarray) -> float:
    r = prob.residual(theta)
    if not np.all(np.abs(r) < _BAD_RESIDUAL):
        return math.inf
    if prob.recipe.loss == "linear":
        return float(0.5 * np.sum(r**2))
    z = (r / prob.recipe.f_scale) ** 2
    rho = (
        2 * (np.sqrt(1 + z) - 1)
        if prob.recipe.loss == "soft_l1"
        else np.where(z <= 1, z, 2 * np.sqrt(z) - 1)
    )
    return float(0.5 * prob.recipe.f_scale**2 * np.sum(rho))


def _solve(prob: _Problem, theta: np.ndarray) -> tuple[float, np.ndarray, int]:
    """Screen many quasi-random starts cheaply, refine the best few by variable projection,
    then polish those jointly (analytic Jacobian, recipe loss)."""
    lin = set(prob.linear)
    nl = [i for i in prob.params if i not in lin]
    candidates: list[tuple[float, np.ndarray]] = []
    evals = 0
    if not prob.params:  # nothing to fit (a law without parameters, or all of them pinned)
        return _objective(prob, theta), theta, 1
    if not nl:
        t = _solve_linear(prob, theta)
        candidates.append((float(np.sum(_plain_residual(prob, t) ** 2)), t))
        evals += 1
    else:
        names = [prob.law.params[i] for i in nl]
        lo, hi = _bounds(prob.recipe, names)
        screened = []
        for z in _starts(prob.recipe, names, lo, hi):
            proj = _Projected(prob, theta, nl)
            cost = float(np.sum(proj.residual(z) ** 2))
            evals += 1
            if math.isfinite(cost) and cost < _BAD_RESIDUAL:
                screened.append((cost, z))
        screened.sort(key=lambda c: c[0])
        for _, z in screened[: prob.recipe.n_local]:
            t = theta.copy()
            t[nl] = z
            cost, t = _local(prob, t, nl, max_nfev=prob.recipe.iterations * (len(nl) + 1))
            evals += 1
            if math.isfinite(cost):
                candidates.append((cost, t))
    if not candidates:
        return math.inf, theta, evals
    candidates.sort(key=lambda c: c[0])
    best_obj, best = math.inf, theta
    for _, t in candidates[: prob.recipe.n_polish]:
        try:
            _, polished = _polish(prob, t)
        except (ValueError, np.linalg.LinAlgError):
            polished = t
        for cand in (polished, t):
            obj = _objective(prob, cand)
            if obj < best_obj:
                best_obj, best = obj, cand
    return best_obj, best, evals


def _problems(law: Law, X: np.ndarray, y: np.ndarray, recipe: FitRecipe, deadline: float):
    """Split the law into independent problems: targets that share no parameter fit apart.
    Yields (problem, indices of its parameters in the full law)."""
    k = len(law.targets)
    groups: list[tuple[list[int], set[int]]] = []
    for j in range(k):
        owners = set(law.target_params(j))
        merged = [g for g in groups if g[1] & owners]
        targets, params = [j], owners
        for g in merged:
            targets += g[0]
            params |= g[1]
            groups.remove(g)
        groups.append((sorted(targets), params))
    fit_y = np.log(y) if recipe.log_target else y
    for targets, _ in groups:
        sub, keep = law.restrict(targets)
        ys = fit_y[:, targets]
        scale = np.std(ys, axis=0)
        scale = np.where(scale > 0, scale, np.maximum(np.abs(ys).mean(axis=0), 1.0))
        linear = sub.linear_params(0) if len(targets) == 1 else ()
        prob = _Problem(
            law=sub,
            X=X,
            y=ys,
            params=tuple(range(len(sub.params))),
            linear=tuple(linear),
            scale=scale,
            recipe=recipe,
            deadline=deadline,
        )
        yield prob, keep


def fit(law: Law, X: np.ndarray, y: np.ndarray, recipe: FitRecipe | None = None) -> FitResult:
    """Fit the law's parameters to one group's rows. Never raises on numerical trouble: a fit
    that fails, produces non-finite values, or runs past the time limit comes back ok=False."""
    # Multithreaded BLAS on these tall, skinny matrices is 100x slower than one thread (measured
    # here: SVD of 1730x7 takes 31 ms vs 0.13 ms), so fits always run single-threaded.
    # Overflow and invalid values are expected while exploring (they are scored as bad
    # residuals), so numpy's warnings are silenced: under -W error they would raise.
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"):
        return _fit(law, X, y, recipe or FitRecipe())


def _mid(recipe: FitRecipe, name: str) -> float:
    """Middle of a parameter's initial range (geometric if drawn log-uniformly)."""
    lo, hi, log = _init_range(recipe, name)
    return math.sqrt(lo * hi) if log else 0.5 * (lo + hi)


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


def _fit(law: Law, X: np.ndarray, y: np.ndarray, recipe: FitRecipe) -> FitResult:
    start = time.monotonic()
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    y = y.reshape(-1, 1) if y.ndim == 1 else y
    if y.shape != (len(X), len(law.targets)):
        raise ValueError(
            f"y has shape {y.shape}; expected ({len(X)}, {len(law.targets)}) for X's rows and "
            f"the law's targets"
        )
    full_law = law
    law, free, pinned = _pin(law, recipe)
    bad = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
    if pinned and any(e.has(*bad) for e in law.exprs):
        return FitResult(
            False,
            None,
            math.inf,
            "the pinned parameters (low == high) make the law undefined",
            time.monotonic() - start,
            0,
        )
    m = len(law.params)
    if len(y) == 0 or y.size < m:
        return FitResult(
            False,
            None,
            math.inf,
            f"{len(y)} rows cannot fix {m} parameters",
            time.monotonic() - start,
            0,
        )
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        return FitResult(
            False,
            None,
            math.inf,
            "the rows hold non-finite values (NaN or inf)",
            time.monotonic() - start,
            0,
        )
    if recipe.log_target and np.any(y <= 0):
        return FitResult(
            False,
            None,
            math.inf,
            "log-space fit needs a positive target",
            time.monotonic() - start,
            0,
        )
    theta = np.array([_mid(recipe, name) for name in law.params])  # unfitted ones stay here
    deadline = start + recipe.time_limit
    total, evals = 0.0, 0
    try:
        for prob, keep in _problems(law, X, y, recipe, deadline):
            t0 = np.array([_mid(recipe, name) for name in prob.law.params])
            obj, t, n = _solve(prob, t0)
            theta[list(keep)] = t
            evals += n
            total += obj
            if not math.isfinite(obj):
                return FitResult(
                    False,
                    None,
                    math.inf,
                    "no start gave finite predictions",
                    time.monotonic() - start,
                    evals,
                )
    except _OutOfTime:
        return FitResult(
            False,
            None,
            math.inf,
            f"time limit {recipe.time_limit:g}s exceeded",
            time.monotonic() - start,
            evals,
        )
    if pinned:
        full = np.empty(len(full_law.params))
        full[free] = theta
        full[list(pinned)] = list(pinned.values())
        theta = full
    pred = full_law.predict(X, theta)
    if not np.all(np.isfinite(pred)):
        return FitResult(
            False,
            None,
            math.inf,
            "fitted law predicts non-finite values",
            time.monotonic() - start,
            evals,
        )
    return FitResult(True, theta, total / max(1, y.size), "ok", time.monotonic() - start, evals)
