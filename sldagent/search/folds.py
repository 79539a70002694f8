"""Rehearsal folds: the task's validation rule applied again and again to the training rows.

Fold 1 is the task's validation split (fit on the rest of train, score on the largest-scale
slice). Fold 2 applies the same rule to fold 1's fit rows, and so on: a rolling origin along
the task's own scale axis, or fresh held-out mixtures for a random rule. No test row is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sldagent.task import DataError, Dataset, split_validation


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
