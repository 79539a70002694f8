"""The final choice (search/choice.py): the probe one step beyond the validation slice, the
stability gap of a fit, and the ranking of finalists by validation error plus gap."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed
from test_search import REPO, call, cli_env

from sldagent.custom_task import load_rows, task_from_csv
from sldagent.search.choice import final_score, rank_finalists, stability_gap
from sldagent.search.fitness import SelectionConfig
from sldagent.search.folds import probe_features, rehearsal_folds
from sldagent.task import Dataset, ValidationRule, load_task, load_train

TRUE_LAW = "2.0 + 40.0 * N**-0.3"


def _rows(path: Path, noise: float = 0.0) -> Path:
    """Losses from a saturating power law in N, one group, N = 1e6 .. 1e9 (a quarter decade
    apart); the task's test rows are N >= 3e8."""
    rng = np.random.default_rng(0)
    n = np.logspace(6, 9, 13)
    loss = 2.0 + 40.0 * n**-0.3 + noise * rng.standard_normal(len(n))
    pd.DataFrame({"N": n, "loss": loss}).to_csv(path, index=False)
    return path


@pytest.fixture
def train(tmp_path: Path):
    task = task_from_csv(_rows(tmp_path / "runs.csv", noise=0.0), "N", "loss", None, "N>=3e8")
    return load_rows(task, "train")


def test_probe_steps_one_validation_step_beyond_the_slice(train):
    fold = rehearsal_folds(train, 1)[0]
    probe = probe_features(fold)
    fit_max, val = fold.fit.X[:, 0].max(), fold.val.X[:, 0]
    step = val.max() / fit_max
    assert step > 1
    np.testing.assert_allclose(probe[:, 0], val * step)
    assert probe[:, 0].min() > val.max() * 0.999  # beyond every validation row


def test_the_true_form_is_stable_and_a_wiggly_one_is_not(train):
    fold = rehearsal_folds(train, 1)[0]
    recipe = {"seed": 0}
    good = stability_gap("c + a*N**e", recipe | {"bounds": {"e": [-3.0, 0.0]}}, fold, train)
    wiggly = "c + a*log(N/1e6) + b*log(N/1e6)**2 + d*log(N/1e6)**3"
    bad = stability_gap(wiggly, recipe, fold, train)
    assert 0 <= good < 1e-3  # noise-free rows of this very form: fits agree beyond the slice
    assert bad > 0.01


def test_final_score_adds_the_squared_gap_to_the_folds_geometric_mean_error():
    # errors 0.1 and 0.001 (log10 -1, -3): geometric mean 0.01; a gap of 0.1 std doubles it
    assert final_score((-1.0, -3.0), 0.0, 10, 0.0) == pytest.approx(-2.0)
    assert final_score((-1.0, -3.0), 0.1, 10, 0.0) == pytest.approx(math.log10(0.02))
    assert final_score((-2.0,), 0.0, 10, 0.002) == pytest.approx(-2.0 + 0.02)
    assert math.isinf(final_score((-2.0,), math.inf, 10, 0.002))
    assert math.isinf(final_score((), 0.0, 10, 0.002))  # a law that failed a fold


def _records() -> list[dict]:
    return [
        {  # best fitness, unstable beyond the slice
            "id": 0,
            "ok": True,
            "fitness": -3.0,
            "complexity": 10,
            "law": "c + a*log(N/1e6) + b*log(N/1e6)**2 + d*log(N/1e6)**3",
            "recipe": {"seed": 0},
        },
        {
            "id": 1,
            "ok": True,
            "fitness": -2.9,
            "complexity": 7,
            "law": "c + a*N**e",
            "recipe": {"seed": 0, "bounds": {"e": [-3.0, 0.0]}},
        },
        {"id": 2, "ok": False, "fitness": math.inf, "complexity": 3, "law": "c", "recipe": {}},
    ]


def test_an_unstable_best_fitness_law_loses_to_a_stable_runner_up(train):
    fold = rehearsal_folds(train, 1)[0]
    records = _records()
    folds = rehearsal_folds(train, 3)
    var = np.var(train.y, axis=0)
    pools = {}
    with Parallel(n_jobs=1) as parallel:
        for pool in (30, 1):
            selection = SelectionConfig(final_pool=pool)
            pools[pool] = rank_finalists(records, folds, fold, train, var, selection, parallel)
    ranked, only_best = pools[30], pools[1]
    assert [r.id for r in ranked] == [1, 0]  # the failed candidate is no finalist
    assert ranked[0].gap < ranked[1].gap
    assert len(ranked[0].fold_errors) == len(folds) >= 2
    assert [r.id for r in only_best] == [0]  # a pool of 1 is the best-fitness law


def test_a_random_rule_keeps_the_best_fitness_law(train):
    # no scale axis: nothing to roll along or step beyond, so no re-ranking
    rule = ValidationRule(kind="random", columns=("N",), fraction=0.25, seed=0)
    task = dataclasses.replace(train.task, validation=rule)
    train = Dataset(task, train.frame, train.path, "train")
    folds = rehearsal_folds(train, 3)
    var = np.var(train.y, axis=0)
    with Parallel(n_jobs=1) as parallel:
        ranked = rank_finalists(
            _records(), folds, folds[0], train, var, SelectionConfig(), parallel
        )
    assert [r.id for r in ranked] == [0]


def test_a_lexicographic_rule_steps_along_the_column_where_the_slice_leaves_the_fit_rows(
    data_root,
):
    # lr_bsz validates on the largest model at its largest token count: the probe keeps the
    # model size and takes the token count one more step (the step from the model's previous
    # token count); the inner fold, whose slice is a model size not in its fit rows, steps N
    task = load_task("lr_bsz_scaling_law")
    train = load_train(task, data_root)
    n, d = task.features.index("non_embedding_param_size"), task.features.index("data_size")
    outer, inner = rehearsal_folds(train, 2)[:2]
    probe = probe_features(outer)
    assert set(probe[:, n]) == set(outer.val.X[:, n]) == {1073741824.0}
    np.testing.assert_allclose(probe[:, d], 56.9e9 * (56.9e9 / 20e9))
    probe = probe_features(inner)
    np.testing.assert_allclose(probe[:, n], 1073741824.0 * (1073741824.0 / 536872960.0))
    np.testing.assert_allclose(probe[:, d], inner.val.X[:, d])


def test_a_per_group_rule_steps_each_group_by_its_own_step(tmp_path: Path):
    # group a: N = 1e6..1e8 every 0.2 decade; b: 1e7..1e10 every 0.5 decade: different steps
    rows = []
    for g, lo, hi, k in (("a", 6, 8, 11), ("b", 7, 10, 7)):
        for n in np.logspace(lo, hi, k):
            rows.append({"model": g, "N": n, "loss": 2.0 + 40.0 * n**-0.3})
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    task = task_from_csv(tmp_path / "runs.csv", "N", "loss", "model", "N>=9e9")
    fold = rehearsal_folds(load_rows(task, "train"), 1)[0]
    probe = probe_features(fold)
    fit_g, val_g = fold.fit.group_labels, fold.val.group_labels
    for g in ("a", "b"):
        val = fold.val.X[val_g == g, 0]
        step = val.max() / fold.fit.X[fit_g == g, 0].max()
        np.testing.assert_allclose(probe[val_g == g, 0], val * step)
    steps = {g: probe[val_g == g, 0].max() / fold.val.X[val_g == g, 0].max() for g in "ab"}
    assert steps["b"] > steps["a"] * 1.2  # b's grid is coarser: a longer step


def test_judge_human_prints_the_human_law_judged_like_the_finalists(data_root, tmp_path: Path):
    # scripts/judge_human.py: with --seed-human the human law is candidate 0 and so a finalist;
    # the script's human row must equal the final choice's own judgement of it
    task = "parallel_scaling_law"
    run = tmp_path / "run"
    code, _, err = call(
        "discover", task, "--budget", "12", "--jobs", "1", "--seed-human", "--run-dir",
        str(run), "--data-dir", str(data_root),
    )  # fmt: skip
    assert code == 0, err
    script = REPO / "scripts" / "judge_human.py"
    argv = [sys.executable, str(script), str(run), "--data-dir", str(data_root)]
    out = subprocess.run(argv, capture_output=True, text=True, env=cli_env(), check=True).stdout
    cells = [[c.strip() for c in line.strip(" |").split("|")] for line in out.splitlines()[2:]]
    rows = {c[1]: c for c in cells}
    best = json.loads((run / "best.json").read_text())
    finalists = {f["id"]: f for f in best["finalists"]}
    logged = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    assert logged[0]["proposer"] == "human"
    for label, entry in (("chosen", finalists[best["id"]]), ("human", finalists[0])):
        errors = [float(e) for e in rows[label][2].strip("[]").split()]
        assert errors == pytest.approx(entry["fold_errors"], abs=5e-4)
        assert float(rows[label][3]) == pytest.approx(entry["gap"], abs=5e-5)
        assert float(rows[label][4]) == pytest.approx(entry["score"], abs=5e-4)

    # bad input, each refused in one line naming the problem: a law the parser rejects, an
    # unfinished run, a holdout run (its law never saw the validation slice)
    def refused(extra: list[str], word: str) -> None:
        done = subprocess.run(argv + extra, capture_output=True, text=True, env=cli_env())
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert word in done.stderr and len(done.stderr.strip().splitlines()) == 1

    refused(["--law", "exp(a*"], "not valid syntax")
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(saved | {"holdout": True}))
    refused([], "holdout")
    (run / "config.json").write_text(json.dumps(saved))
    (run / "best.json").unlink()
    refused([], "has not finished")


def test_finding14_the_final_choice_has_a_time_budget_and_reports_each_finalist(
    train, tmp_path: Path
):
    """Judging the finalists again took 5x the search on 200,000 rows: it now stops once its
    judging seconds pass final_time_factor x the search's fitting seconds (at least
    final_min_seconds), says so in best.json, and reports a progress line per finalist."""
    from sldagent.search.loop import Search, SearchConfig

    def run(selection: SelectionConfig, name: str) -> tuple[dict, list[str]]:
        stages: list[str] = []
        config = SearchConfig(budget=12, selection=selection)
        result = Search(train.task, train, config, tmp_path / name).run(
            progress=lambda p: stages.append(p.stage)
        )
        return result.best, [s for s in stages if s != "search"]

    ordinary, stages = run(SelectionConfig(), "ordinary")
    n = len(ordinary["finalists"])
    assert ordinary["final_choice_cut"] is None and n >= 5
    assert stages[0] == "final choice: judging the 30 best laws again"
    assert [s.split(" judged")[0] for s in stages[1:]] == [
        f"final choice: finalist {k}/{n}" for k in range(1, n + 1)
    ]
    pressed, stages = run(SelectionConfig(final_time_factor=0.0, final_min_seconds=0.0), "cut")
    assert len(pressed["finalists"]) == 1 and len(stages) == 2
    assert pressed["final_choice_cut"].endswith(
        f"was spent after 1 of {n} finalists; the rest were not judged"
    )
    assert pressed["id"] == min(ordinary["finalists"], key=lambda f: (f["fitness"], f["id"]))["id"]
    # with room to spare the budget changes nothing
    roomy, _ = run(SelectionConfig(final_time_factor=1e6), "roomy")
    assert roomy == ordinary


def test_rank_finalists_stops_when_its_time_budget_is_spent(train):
    folds = rehearsal_folds(train, 3)
    var = np.var(train.y, axis=0)
    seen = []
    with Parallel(n_jobs=2, return_as="generator") as parallel:
        ranked = rank_finalists(
            _records(), folds, folds[0], train, var, SelectionConfig(), parallel,
            time_budget=0.0, on_judged=lambda k, n, s: seen.append((k, n)),
        )  # fmt: skip
        assert len(list(parallel(delayed(abs)(-i) for i in range(3)))) == 3  # still usable
    assert [r.id for r in ranked] == [0] and seen == [(1, 2)]
