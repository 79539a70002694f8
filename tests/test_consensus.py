"""The consensus choice of the final law: the vote set, the probe beyond the training rows, and
the medoid, on two real tasks (parallel has 36 training rows: fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sldagent.fitters import FitRecipe
from sldagent.search.consensus import ConsensusConfig, candidates, medoid, probe, refit
from sldagent.task import load_task, load_train, split_validation

TASK = "parallel_scaling_law"
AXIS = "parallel_size"


def rec(i: int, law: str, fitness: float, ok: bool = True, complexity: int = 5) -> dict:
    return {
        "id": i,
        "law": law,
        "fitness": fitness,
        "ok": ok,
        "complexity": complexity,
        "recipe": FitRecipe(seed=0, n_starts=8).to_dict(),
    }


def test_candidates_keep_the_margin_and_size_best_first():
    records = [
        rec(0, "a", -1.0),
        rec(1, "b", -1.2),
        rec(2, "c", -1.1),
        rec(3, "d", math.inf, ok=False),
        rec(4, "e", -1.3, ok=False),
        rec(5, "f", -0.9),
    ]
    got = candidates(records, ConsensusConfig(margin=0.15, size=20))
    assert [r["id"] for r in got] == [1, 2]
    assert [r["id"] for r in candidates(records, ConsensusConfig(margin=1.0, size=2))] == [1, 2]
    assert candidates([rec(0, "a", math.inf, ok=False)], ConsensusConfig()) == []


def test_probe_moves_rows_beyond_the_training_range(data_root):
    task = load_task(TASK)
    train = load_train(task, data_root)
    fit, val = split_validation(train)
    points = probe(train)
    step = max(val.frame[AXIS].max() / fit.frame[AXIS].max(), 2.0)
    for g, frame in points.frame.groupby("group"):
        top = train.frame[train.frame["group"] == g][AXIS].max()
        assert np.allclose(frame[AXIS], top * step)
    # the other column keeps the values of real training rows
    assert set(points.frame["num_params"]) <= set(train.frame["num_params"])


def test_medoid_picks_the_law_the_others_agree_with(data_root):
    task = load_task(TASK)
    train = load_train(task, data_root)
    power = "E + (A / num_params) ** alpha / (1 + k * log(parallel_size))"
    records = [
        rec(0, power, -2.0, complexity=12),
        # the same curve written another way, but more complex: loses the tie
        rec(1, power.replace("E +", "E + 0 * C +"), -1.99, complexity=16),
        # a law that bends upward beyond the data, and one that ignores parallel_size
        rec(2, power + " + D * parallel_size ** 2", -2.1, complexity=18),
        rec(3, "E + (A / num_params) ** alpha", -1.9, complexity=8),
    ]
    fits = [refit(r, train) for r in records]
    pick, dist = medoid(records, fits, train)
    assert all(d is not None for d in dist)
    assert dist[0] == pytest.approx(dist[1], rel=1e-3)
    assert pick == 0
    assert dist[0] < min(dist[2], dist[3])


def test_medoid_skips_laws_that_fail_to_refit(data_root):
    task = load_task(TASK)
    train = load_train(task, data_root)
    records = [
        rec(0, "E + (A / num_params) ** alpha", -2.0),
        rec(1, "E + log(A - parallel_size)", -1.0),
    ]
    fits = [refit(r, train) for r in records]
    pick, dist = medoid(records, fits, train)
    assert pick == 0 and dist[1] is None


def test_probe_extrapolates_each_column_of_a_union_rule(data_root):
    task = load_task("data_constrained_scaling_law")
    train = load_train(task, data_root)
    points = probe(train)
    assert len(points.frame) > 0
    # every probe row lies beyond the training range in one of the rule's columns
    beyond = np.zeros(len(points.frame), dtype=bool)
    for col in task.validation.columns:
        beyond |= points.frame[col].to_numpy() > train.frame[col].max()
    assert beyond.all()
