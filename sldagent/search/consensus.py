"""Consensus choice of the final law: the medoid of the laws that validate about equally well.

One validation slice cannot separate the top few candidates: their errors differ by less than
the slice's noise, and the single best of them is often the one whose extra flexibility happens
to fit that slice (measured on moe: the best-validating law scored 0.27 test R² while most of
its near-equals scored ~0.75). So the run keeps the set of laws within `margin` of the best
fitness, refits each on all training rows, predicts a probe one extrapolation step beyond the
training rows, and returns the law whose probe predictions lie closest to the pointwise
median of the set. Built from training rows only; no test row is involved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sldagent.fitters import FitRecipe, FitResult, fit_groups, predict_groups
from sldagent.law import parse_law
from sldagent.task import Dataset, split_validation

TIE = 0.01  # relative distance within which two laws count as the same prediction


@dataclass(frozen=True)
class ConsensusConfig:
    """Which candidates enter the vote."""

    margin: float = 0.15  # log10 error units above the best fitness (0.15 = 41% more MSE)
    size: int = 20  # at most this many, best first


@dataclass(frozen=True)
class Choice:
    """The chosen record, its fits on all training rows, and how it was chosen."""

    record: dict
    fits: dict[str, FitResult]
    info: dict


def probe(train: Dataset) -> Dataset:
    """Training rows pushed one validation step further out along each validation column.

    For each column of the task's rule, the rows at their group's largest value of that column
    are moved beyond it by the step from the fit rows to the validation rows (a factor for
    positive columns, a shift otherwise). A random rule has no direction: the probe is the
    training rows themselves."""
    task = train.task
    rule = task.validation
    if rule.kind == "random":
        return train
    fit, val = split_validation(train)
    frames = []
    for col in rule.columns:
        hi_fit, hi_val = float(fit.frame[col].max()), float(val.frame[col].max())
        frame = train.frame
        top = frame[frame.groupby(task.group)[col].transform("max") == frame[col]].copy()
        if col in task.positive and hi_fit > 0:
            top[col] = top[col] * max(hi_val / hi_fit, 2.0)
        else:
            top[col] = top[col] + max(hi_val - hi_fit, 0.0)
        frames.append(top)
    return Dataset(task, pd.concat(frames).reset_index(drop=True), train.path, "train")


def candidates(records: list[dict], config: ConsensusConfig) -> list[dict]:
    """The fitted records within `margin` of the best fitness, best first (ties by id)."""
    ok = [r for r in records if r["ok"] and math.isfinite(r["fitness"])]
    ok.sort(key=lambda r: (r["fitness"], r["id"]))
    if not ok:
        return []
    bar = ok[0]["fitness"] + config.margin
    return [r for r in ok if r["fitness"] <= bar][: config.size]


def refit(record: dict, train: Dataset) -> dict[str, FitResult]:
    """Fit one logged law on all training rows with its own recipe."""
    task = train.task
    law = parse_law(record["law"], task.features, task.targets)
    return fit_groups(law, train.groups(), FitRecipe.from_dict(record["recipe"]))


def medoid(
    records: list[dict], fits: list[dict[str, FitResult]], train: Dataset
) -> tuple[int, list[float | None]]:
    """Index of the record whose probe predictions are closest to the median of all of them
    (the simplest one among ties), and each record's distance (RMS, in units of the training
    target's standard deviation; None for a law that failed to refit or predicts non-finite
    values)."""
    task = train.task
    points = probe(train)
    scale = np.where(train.y.std(axis=0) > 0, train.y.std(axis=0), 1.0)
    preds: list[np.ndarray | None] = []
    for rec, fit in zip(records, fits, strict=True):
        if not all(f.ok for f in fit.values()):
            preds.append(None)
            continue
        law = parse_law(rec["law"], task.features, task.targets)
        with np.errstate(all="ignore"):
            _, p = predict_groups(law, points.groups(), fit)
        preds.append(p / scale if np.all(np.isfinite(p)) else None)
    usable = [i for i, p in enumerate(preds) if p is not None]
    if not usable:
        return 0, [None] * len(records)
    centre = np.median(np.stack([preds[i] for i in usable]), axis=0)
    dist: list[float | None] = [
        None if p is None else float(np.sqrt(np.mean((p - centre) ** 2))) for p in preds
    ]
    # Equivalent laws (the same curve written two ways) tie: take the simplest of them.
    near = min(dist[i] for i in usable) * (1 + TIE) + 1e-12
    best = min(usable, key=lambda i: (dist[i] > near, records[i]["complexity"], i))
    return best, dist
