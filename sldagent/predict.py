"""Predict from a finished run: the best law at a new point, with a bootstrap interval.

Interval method (nonparametric bootstrap over runs): the group's training rows are resampled
with replacement RESAMPLES times (seeded), the best law is refitted on each resample with the
run's own fit recipe, and the interval is the central LEVEL percentile range of the refits'
predictions at the point. It measures how much the constants move with the data, given the
law's form; it does not cover the risk that the form itself is wrong far from the data.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sldagent.custom_task import run_task
from sldagent.export import read_best
from sldagent.fitted import FittedLaw
from sldagent.fitters import fit
from sldagent.task import _NUMBER, DataError, load_train

RESAMPLES = 50  # the `sldagent predict` defaults (tests/test_predict.py checks they agree)
LEVEL = 0.9
TIME_LIMIT = 60.0  # seconds for all refits of one call


@dataclass(frozen=True)
class Outside:
    """A feature of the point beyond the training range: how far, in decades when positive."""

    feature: str
    value: float
    low: float  # training range of the group
    high: float
    distance: float  # decades (log10 of the ratio to the nearest end), else feature units
    decades: bool

    def __str__(self) -> str:
        side = "above" if self.value > self.high else "below"
        unit = "decades" if self.decades else "(in its own units)"
        return (
            f"{self.feature}={self.value:g} is {self.distance:.2f} {unit} {side} the training "
            f"range {self.low:g} .. {self.high:g}"
        )


@dataclass(frozen=True)
class Prediction:
    """The law's value for one group at the point, its bootstrap interval and range check."""

    group: str
    value: tuple[float, ...]  # one per target
    low: tuple[float, ...]
    high: tuple[float, ...]
    refits: int  # bootstrap refits that succeeded
    resamples: int  # bootstrap refits attempted
    outside: list[Outside]  # features beyond the group's training range


def parse_point(text: str, features: tuple[str, ...]) -> dict[str, float]:
    """`N=7e10,D=1.4e12` -> {feature: value}; every feature exactly once."""
    point: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        name, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not name:
            raise DataError(f"--at: '{item}' is not NAME=VALUE; write e.g. --at \"N=7e10,D=1e12\"")
        if name not in features:
            raise DataError(
                f"--at: unknown feature '{name}'; the law's features are {', '.join(features)}"
            )
        if name in point:
            raise DataError(f"--at: feature '{name}' is given twice")
        if not _NUMBER.fullmatch(value) or not math.isfinite(float(value)):
            raise DataError(f"--at: {name}={value!r} is not a number; write e.g. {name}=1e9")
        point[name] = float(value)
    missing = [f for f in features if f not in point]
    if missing:
        raise DataError(f"--at: missing feature(s) {', '.join(missing)}; give a value for each")
    return point


def predict_run(
    run_dir: Path,
    at: str,
    group: str | None = None,
    data_dir: Path | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
    time_limit: float = TIME_LIMIT,
) -> tuple[FittedLaw, dict[str, float], list[Prediction]]:
    """Predictions of a run's best law at the point `at`, for one group or all of them."""
    if resamples < 1 or not 0 < level < 1 or not time_limit > 0:
        raise ValueError("need --resamples >= 1, 0 < --level < 1 and --time-limit > 0")
    run_dir = Path(run_dir)
    task = run_task(run_dir, data_dir)
    best = read_best(run_dir)
    law = FittedLaw.from_best(best, task.features, task.targets, task.group)
    point = parse_point(at, task.features)
    groups = list(law.params_)
    if group is not None and group not in groups:
        raise DataError(f"--group: unknown group '{group}'; the run's groups: {', '.join(groups)}")
    _check_defined(law, point, group or groups[0], task.positive)
    train = {name: (X, y) for name, X, y in load_train(task, data_dir).groups()}
    x = np.array([[point[f] for f in task.features]])
    deadline = time.monotonic() + time_limit
    out = []
    for name in [group] if group is not None else groups:
        X, y = train[name]
        value = law.law.predict(x, law.theta(name))[0]
        draws = bootstrap(law, X, y, x, resamples, group_seed(seed, name), deadline)
        low, high, refits = interval(draws, level)
        out.append(
            Prediction(
                group=name,
                value=tuple(map(float, value)),
                low=tuple(map(float, low[0])),
                high=tuple(map(float, high[0])),
                refits=int(refits[0]),
                resamples=resamples,
                outside=outside(point, X, task.features),
            )
        )
    return law, point, out


def _check_defined(law: FittedLaw, point: dict[str, float], group: str, positive) -> None:
    """A non-positive value where the law takes a log or a fractional power is an error."""
    x = np.array([[point[f] for f in law.features]])
    with np.errstate(all="ignore"):
        finite = bool(np.all(np.isfinite(law.law.predict(x, law.theta(group)))))
    for name in law.features:
        if point[name] <= 0 and (name in law.law.positive_features() or not finite):
            where = "all training values are > 0" if name in positive else "it is not defined there"
            raise DataError(
                f"--at: {name}={point[name]:g} must be > 0: the law takes a log or a fractional "
                f"power of {name} ({where})"
            )


def group_seed(seed: int, group: str) -> list[int]:
    """A generator seed per (seed, group), independent of which other groups are asked for."""
    return [seed, int.from_bytes(hashlib.sha256(group.encode()).digest()[:4], "little")]


def bootstrap(
    law: FittedLaw, X: np.ndarray, y: np.ndarray, x: np.ndarray, n: int, seed, deadline: float
) -> np.ndarray:
    """Predictions at the rows of x of the law refitted on n resamples of (X, y): shape
    (refits that succeeded, len(x), n_targets), NaN at a point where a refit is not finite."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        rows = rng.integers(0, len(X), len(X))
        result = fit(law.law, X[rows], y[rows], law.recipe)
        if result.ok:
            with np.errstate(all="ignore"):
                pred = law.law.predict(x, result.theta)
            draws.append(np.where(np.isfinite(pred).all(axis=1, keepdims=True), pred, np.nan))
    return np.array(draws, dtype=float).reshape(len(draws), len(x), len(law.targets))


def interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, refits) of bootstrap draws: the central `level` percentile range at each
    point, (points, targets), over the refits finite there (their count per point); NaN where
    none is."""
    finite = np.isfinite(draws).all(axis=2)  # (refits, points)
    q = 100 * (1 - level) / 2
    if not finite.any():
        empty = np.full(draws.shape[1:], np.nan)
        return empty, empty.copy(), finite.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point no refit reaches: NaN
        low, high = np.nanpercentile(draws, [q, 100 - q], axis=0)
    return low, high, finite.sum(axis=0)


def outside(point: dict[str, float], X: np.ndarray, features: tuple[str, ...]) -> list[Outside]:
    """The features whose value lies outside the group's training range."""
    out = []
    for j, f in enumerate(features):
        lo, hi, v = float(X[:, j].min()), float(X[:, j].max()), point[f]
        if lo <= v <= hi:
            continue
        end = hi if v > hi else lo
        decades = v > 0 and lo > 0
        distance = abs(math.log10(v / end)) if decades else abs(v - end)
        out.append(Outside(f, v, lo, hi, distance, decades))
    return out


def report(law: FittedLaw, point: dict[str, float], rows: list[Prediction], level: float) -> dict:
    """The predictions as JSON-ready data (non-finite numbers become None)."""

    def number(v: float) -> float | None:
        return v if math.isfinite(v) else None

    return {
        "law": law.text,
        "at": point,
        "level": level,
        "predictions": [
            {
                "group": p.group,
                "value": {t: number(v) for t, v in zip(law.targets, p.value, strict=True)},
                "interval": {
                    t: [number(lo), number(hi)]
                    for t, lo, hi in zip(law.targets, p.low, p.high, strict=True)
                },
                "refits": p.refits,
                "resamples": p.resamples,
                "outside_decades": {o.feature: o.distance for o in p.outside if o.decades},
            }
            for p in rows
        ],
    }


def table(law: FittedLaw, point: dict[str, float], rows: list[Prediction], level: float) -> str:
    """The predictions as a text table, one line per group and target."""
    gw = max(len("group"), *(len(p.group) for p in rows))
    tw = max(len("target"), *map(len, law.targets))
    lines = [
        f"law    {law}",
        f"at     {', '.join(f'{k}={v:g}' for k, v in point.items())}",
        f"{'group':{gw}} {'target':{tw}} {'predicted':>12}  {f'{100 * level:g}% interval':27} "
        "refits",
    ]
    for p in rows:
        for t, v, lo, hi in zip(law.targets, p.value, p.low, p.high, strict=True):
            interval = f"[{lo:.6g}, {hi:.6g}]"
            lines.append(
                f"{p.group:{gw}} {t:{tw}} {v:12.6g}  {interval:27} {p.refits}/{p.resamples}"
            )
    return "\n".join(lines) + "\n"
