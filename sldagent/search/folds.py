"""Rehearsal folds: the task's validation rule applied again and again to the training rows.

Fold 1 is the task's validation split (fit on the rest of train, score on the largest-scale
slice). Fold 2 applies the same rule to fold 1's fit rows, and so on: a rolling origin along
the task's own scale axis, or fresh held-out mixtures for a random rule. No test row is used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from sldagent.task import DataError, Dataset, ValidationRule, split_validation


@dataclass(frozen=True)
class Fold:
    """Fit rows and the rows they must predict."""

    fit: Dataset
    val: Dataset


def _identifiable(train: Dataset, fold_fit: Dataset) -> bool:
    """A fold is usable only if, in every group, each feature that varies in train still varies
    in the fold's fit rows (else a law cannot learn that feature's effect from the fold)."""
    features = list(train.task.features)
    group = train.task.group
    full = train.frame.groupby(group)[features].nunique()
    part = fold_fit.frame.groupby(group)[features].nunique()
    part = part.reindex(full.index).fillna(0)
    return bool(np.all((full.to_numpy() <= 1) | (part.to_numpy() >= 2)))


def rehearsal_folds(train: Dataset, k: int = 3) -> list[Fold]:
    """Up to k folds by peeling validation slices off the training rows; fold 1 always exists."""
    fit, val = split_validation(train)
    folds = [Fold(fit, val)]
    rest = fit
    while len(folds) < k:
        as_train = Dataset(rest.task, rest.frame, rest.path, "train")
        try:
            fit, val = split_validation(as_train)
        except DataError:
            break
        if not _identifiable(train, fit):
            break
        folds.append(Fold(Dataset(fit.task, fit.frame, fit.path, "fit"), val))
        rest = fit
    return folds


def probe_features(fold: Fold) -> np.ndarray:
    """Feature rows one step beyond the fold's validation slice: the slice's rows with each of
    the rule's columns scaled (positive) or shifted (signed) by the step from the fit rows'
    extreme to the slice's extreme, within each group if the rule is per group. A random rule
    has no axis to step along: its probe is the slice itself."""
    rule = fold.fit.task.validation
    X = fold.val.X.copy()
    if rule.kind == "random":
        return X
    if not rule.per_group:
        return _step_beyond(rule, list(fold.fit.task.features), fold.fit.X, X)
    fit_labels, val_labels = fold.fit.group_labels, fold.val.group_labels
    for g in sorted(set(val_labels)):
        rows = val_labels == g
        X[rows] = _step_beyond(
            rule, list(fold.fit.task.features), fold.fit.X[fit_labels == g], X[rows]
        )
    return X


def _step_beyond(
    rule: ValidationRule, features: list[str], fit: np.ndarray, val: np.ndarray
) -> np.ndarray:
    """The validation rows `val`, stepped beyond the fit rows `fit` along the rule's columns."""
    X = val.copy()
    # a column the rule splits on that is no feature (compute C beside N, D) gives no axis here
    columns = [c for c in rule.columns if c in features]
    if len(fit) == 0 or len(val) == 0 or not columns:
        return X
    low = rule.kind == "bottom_fraction"
    # (column, fit rows' extreme(s), slice's extreme(s)) per column the rule steps along
    if rule.combine == "lexicographic":
        # the slice is the largest key tuple: step along the first column where it leaves the
        # fit rows' largest key (the second column if the first column's top value has fit rows)
        idx = [features.index(c) for c in columns]
        top_fit, top_val = max(map(tuple, fit[:, idx])), max(map(tuple, val[:, idx]))
        axes = [
            (j, np.array([a]), np.array([b]))
            for j, a, b in zip(idx, top_fit, top_val, strict=True)
            if a != b
        ][:1]
    else:
        axes = [(j, fit[:, j], val[:, j]) for j in (features.index(c) for c in columns)]
    for j, a, b in axes:
        if np.all(a > 0) and np.all(b > 0):
            step = a.min() / b.min() if low else b.max() / a.max()
            if step > 1:
                X[:, j] = X[:, j] / step if low else X[:, j] * step
        else:
            step = a.min() - b.min() if low else b.max() - a.max()
            if step > 0:
                X[:, j] = X[:, j] - step if low else X[:, j] + step
    return X


def with_far_fold(folds: list[Fold]) -> list[Fold]:
    """Add a long-range fold: fit on the deepest fold's fit rows, predict fold 1's validation
    rows, several steps further out along the scale axis (no-op with a single fold)."""
    if len(folds) < 2:
        return folds
    return [*folds, Fold(folds[-1].fit, folds[0].val)]


def group_subset(train: Dataset, k: int) -> list[str]:
    """At most k group names, chosen by a hash of the name: fixed, seed- and order-free."""
    names = sorted(set(train.frame[train.task.group].astype(str)))
    if len(names) <= k:
        return names
    return sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:k]


def restrict_groups(folds: list[Fold], names: list[str]) -> list[Fold]:
    """The same folds with only the named groups' rows."""

    def keep(d: Dataset) -> Dataset:
        frame = d.frame[d.frame[d.task.group].astype(str).isin(names)].reset_index(drop=True)
        return Dataset(d.task, frame, d.path, d.split)

    return [Fold(keep(f.fit), keep(f.val)) for f in folds]
