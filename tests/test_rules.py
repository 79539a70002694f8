"""Tests of sldagent.search.rules: 'shipped' reproduces real runs' own best.json choice; every
other rule does what its description says on hand-made finalists."""

from __future__ import annotations

import json
import math
import random

from conftest import BENCH_TASKS
from json_tasks import write_task

from sldagent.search.fitness import SelectionConfig
from sldagent.search.loop import Search, SearchConfig
from sldagent.search.rules import RULES, Finalist, RunView, describe, run_view
from sldagent.search.runlog import RunLog
from sldagent.task import load_task, load_train


def _finished(task, root, run_dir, seed, budget=40):
    train = load_train(task, root)
    config = SearchConfig(budget=budget, seed=seed, selection=SelectionConfig())
    Search(task, train, config, run_dir).run(jobs=1)
    best = json.loads((run_dir / "best.json").read_text())
    return best, RunLog(run_dir / "candidates.jsonl").read()


def test_shipped_reproduces_the_runs_own_choice(tmp_path):
    from conftest import BENCH

    write_task(tmp_path / "dev")
    cases = [
        (load_task("toy_power", tmp_path / "dev"), tmp_path / "dev"),
        (load_task(BENCH_TASKS[0]), BENCH / "data"),
    ]
    weight = SelectionConfig().complexity_weight
    not_fitness = 0
    for seed in (0, 1):
        for task, root in cases:
            best, records = _finished(task, root, tmp_path / f"{task.name}{seed}", seed)
            assert len(best["finalists"]) > 1  # a real choice among several
            view = run_view(best, records, weight, 10.0)
            assert RULES["shipped"](view) == best["id"]
            order = random.Random(seed).sample(best["finalists"], len(best["finalists"]))
            shuffled = dict(best, finalists=order)  # the finalists' order in the file is moot
            assert RULES["shipped"](run_view(shuffled, records, weight, 10.0)) == best["id"]
            ok = [r for r in records if r["ok"] and math.isfinite(r["fitness"])]
            top = min(ok, key=lambda r: (r["fitness"], r["id"]))["id"]
            assert RULES["fitness"](view) == top
            not_fitness += top != best["id"]
            for name in RULES:  # every rule picks one of the run's candidates
                assert RULES[name](view) in {r["id"] for r in records}
    assert not_fitness  # the runs' own choice is not just the best fitness: the check bites


def _f(id, fitness, errors, gap, complexity=10, n_params=3):
    return Finalist(id, fitness, tuple(errors), gap, complexity, n_params)


def _view(*finalists, weight=0.0, rows=20.0):
    records = tuple(
        {"id": f.id, "ok": True, "fitness": f.fitness, "complexity": f.complexity}
        for f in finalists
    )
    return RunView(tuple(sorted(finalists, key=lambda f: f.fitness)), records, weight, rows)


def test_rules_on_hand_made_finalists():
    # a: best fitness, unstable; b: stable, 3 folds; c: simpler, a bit worse on deep folds
    a = _f(0, -3.0, [-3.0, -1.0, -1.0], 0.2, complexity=30, n_params=5)
    b = _f(1, -2.8, [-2.8, -2.6, -2.4], 0.001, complexity=20, n_params=4)
    c = _f(2, -2.7, [-2.7, -2.5, -2.3], 0.001, complexity=8, n_params=2)
    view = _view(a, b, c)
    assert RULES["fitness"](view) == 0
    assert RULES["shipped"](view) == 1
    assert RULES["folds_1"](view) == 1  # a's gap outweighs its fold-1 lead
    assert RULES["gap_0"](view) == 1
    assert RULES["pool_5"](view) == 1
    assert RULES["one_se"](view) == 2  # c is within one SE of b and has fewer constants
    weighted = _view(a, b, c, weight=0.005)
    assert RULES["shipped"](weighted) == 1 and RULES["complexity_0"](weighted) == 1
    assert RULES["complexity_x5"](weighted) == 2
    assert RULES["aic"](_view(a, b, c, rows=5.0)) == 2  # few rows: constants cost a lot
    assert RULES["aic"](_view(a, b, c, rows=1e6)) == 1  # many rows: back to the error term


def test_gap_weight_and_pool_size_change_the_pick():
    stable = _f(0, -2.0, [-2.0, -2.0, -2.0], 0.0)
    sharp = _f(1, -2.5, [-2.5, -2.5, -2.5], 0.05)  # 10**-2.5 + 0.05² = 0.0057 < 0.01
    assert RULES["shipped"](_view(stable, sharp)) == 1
    assert RULES["gap_x2"](_view(stable, sharp)) == 0  # 10**-2.5 + 0.1² = 0.013 > 0.01
    many = [_f(i, -3.0 + 0.01 * i, [-3.0 + 0.01 * i] * 3, 0.0) for i in range(1, 12)]
    late = _f(40, -2.0, [-4.0, -4.0, -4.0], 0.0)  # best final score, 12th by fitness
    view = _view(*many, late)
    assert RULES["shipped"](view) == 40 and RULES["pool_10"](view) == 1


def test_failed_folds_and_near_weighting():
    failed = _f(0, -3.0, [], math.inf)  # the judge could not fit it: never chosen
    near = _f(1, -2.5, [-2.5, -1.0, -1.0], 0.0)
    deep = _f(2, -1.9, [-1.9, -1.7, -1.5], 0.0)
    view = _view(failed, near, deep)
    assert RULES["fitness"](view) == 0
    assert RULES["shipped"](view) == 2  # mean -1.7 beats -1.5
    assert RULES["near_weighted"](view) == 1  # weights 1, 1/2, 1/4: -1.86 beats -1.79
    assert RULES["folds_1"](view) == 1
    assert RULES["folds_2"](view) == 2  # -1.8 beats -1.75


def test_every_rule_is_described_in_one_line():
    for name in RULES:
        text = describe(RULES[name])
        assert text and "\n" not in text
