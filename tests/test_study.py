"""Tests of sldagent.study (`sldagent study`): the table against a direct computation, reuse of
finished runs, test rows opened only after every run has ended (garbage in test.csv leaves the
runs byte-identical), the paired bootstrap, and the command's one-line errors."""

from __future__ import annotations

import json
import math
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_errors import assert_user_error
from conftest import BENCH, BENCH_TASKS, run_cli
from json_tasks import write_task

import sldagent.evaluation
from sldagent.fitters import FitRecipe, fit_groups
from sldagent.law import parse_law
from sldagent.metrics import clip_r2, r2
from sldagent.search.runlog import RunLog
from sldagent.study import ALL_RULES, StudyConfig, paired_interval, study, suite_tasks
from sldagent.task import Dataset, load_task, load_test, load_train, split_validation

BUDGET = "16"


@pytest.fixture(autouse=True)
def _no_env_data_root(monkeypatch):
    monkeypatch.delenv("SLDAGENT_DATA", raising=False)


@dataclass(frozen=True)
class Study:
    base: Path
    dev: Path
    data: Path
    out: Path
    argv: tuple[str, ...]
    stdout: str


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Study:
    """A study over one task.json task and one SLDBench-like TOML task, 2 seeds."""
    base = tmp_path_factory.mktemp("study")
    dev, data, out = base / "dev", base / "data", base / "out"
    write_task(dev)
    shutil.copytree(BENCH / "data", data)
    argv = (
        "study",
        "--suite",
        f"toy_power,{BENCH_TASKS[0]}",
        "--devbench",
        str(dev),
        "--data-dir",
        str(data),
        "--seeds",
        "2",
        "--budget",
        BUDGET,
        "--out",
        str(out),
        "--markdown",
        str(out / "SELECTION.md"),
        "--quiet",
    )
    code, stdout, err = run_cli(*argv)
    assert code == 0, err
    return Study(base, dev, data, out, argv, stdout)


def _result(s: Study) -> dict:
    return json.loads((s.out / "study.json").read_text())


def _tasks(s: Study):
    return [(load_task("toy_power", s.dev), s.dev), (load_task(BENCH_TASKS[0]), s.data)]


def test_table_matches_a_direct_computation(done):
    result = _result(done)
    cells = result["summary"]["tasks"]
    for task, root in _tasks(done):
        test, train = load_test(task, root), load_train(task, root)
        per_rule = {rule: [] for rule in ALL_RULES}
        for seed in (0, 1):
            run = done.out / "runs" / task.name / f"seed{seed}"
            best = json.loads((run / "best.json").read_text())
            records = RunLog(run / "candidates.jsonl").read()
            (rec,) = [r for r in result["runs"] if r["task"] == task.name and r["seed"] == seed]
            law = parse_law(best["law"], task.features, task.targets)
            trues, preds = [], []
            for g, X, y in test.groups():
                trues.append(y)
                preds.append(law.predict(X, np.array([best["params"][g][p] for p in law.params])))
            shipped = r2(np.concatenate(trues), np.concatenate(preds))
            assert rec["rules"]["shipped"]["id"] == best["id"]
            assert rec["rules"]["shipped"]["test_r2"] == pytest.approx(shipped, abs=1e-12)
            ok = [r for r in records if r["ok"] and math.isfinite(r["fitness"])]
            top = min(ok, key=lambda r: (r["fitness"], r["id"]))
            assert rec["rules"]["fitness"]["id"] == top["id"]
            law = parse_law(top["law"], task.features, task.targets)
            fits = fit_groups(law, train.groups(), FitRecipe.from_dict(top["recipe"]))
            trues, preds = [], []
            for g, X, y in test.groups():
                trues.append(y)
                preds.append(law.predict(X, fits[g].theta))
            refit = r2(np.concatenate(trues), np.concatenate(preds))
            assert rec["rules"]["fitness"]["test_r2"] == pytest.approx(refit, abs=1e-9)
            # weighted_x2: the shipped law refit with the validation slice's rows twice
            law = parse_law(best["law"], task.features, task.targets)
            shipped_rec = next(r for r in records if r["id"] == best["id"])
            _, val = split_validation(train)
            doubled = pd.concat([train.frame, val.frame], ignore_index=True)
            fits = fit_groups(
                law,
                Dataset(task, doubled, train.path, "w").groups(),
                FitRecipe.from_dict(shipped_rec["recipe"]),
            )
            trues, preds = [], []
            for g, X, y in test.groups():
                trues.append(y)
                preds.append(law.predict(X, fits[g].theta))
            weighted = r2(np.concatenate(trues), np.concatenate(preds))
            assert rec["rules"]["weighted_x2"]["id"] == best["id"]
            assert rec["rules"]["weighted_x2"]["refit"] is True
            assert rec["rules"]["weighted_x2"]["test_r2"] == pytest.approx(weighted, abs=1e-9)
            for rule in ALL_RULES:
                per_rule[rule].append(clip_r2(rec["rules"][rule]["test_r2"]))
        for rule in ALL_RULES:
            assert cells[task.name][rule]["mean"] == pytest.approx(statistics.fmean(per_rule[rule]))
    names = [t.name for t, _ in _tasks(done)]
    for rule, s in result["summary"]["rules"].items():
        diffs = [cells[t][rule]["mean"] - cells[t]["shipped"]["mean"] for t in names]
        assert s["mean"] == pytest.approx(statistics.fmean(cells[t][rule]["mean"] for t in names))
        assert s["diff"] == pytest.approx(statistics.fmean(diffs))
        assert s["wins"] + s["ties"] + s["losses"] == len(names)
        assert s["wins"] == sum(d > 1e-6 for d in diffs)
        lo, hi = s["interval"]
        assert lo <= s["diff"] + 1e-12 and s["diff"] - 1e-12 <= hi
    assert result["summary"]["rules"]["shipped"]["ties"] == len(names)


def test_markdown_has_a_row_per_task_and_rule_and_the_command(done):
    text = (done.out / "SELECTION.md").read_text()
    assert "sldagent study --suite toy_power," in text and " --devbench " in text
    for task, _ in _tasks(done):
        for rule in ALL_RULES:
            assert sum(line.startswith(f"| {task.name} | {rule} |") for line in text.splitlines())
    assert "| toy_power | unsafe |" in text and "not parsed" in text  # the paper baselines
    for rule in ALL_RULES:
        assert f"\n{rule} " in "\n" + done.stdout


def test_second_invocation_reuses_every_run(done):
    logs = sorted(done.out.glob("runs/*/seed*/candidates.jsonl"))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in logs}
    first = _result(done)["summary"]
    code, _, err = run_cli(*done.argv)
    assert code == 0, err
    assert all(r["reused"] for r in _result(done)["runs"])
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in logs} == before
    assert _result(done)["summary"] == first


def _history(run: Path) -> tuple[list[dict], bytes]:
    """The run's log without timings, and its best.json."""
    records = [{k: v for k, v in r.items() if k != "seconds"} for r in RunLog(run).read()]
    return records, (run.parent / "best.json").read_bytes()


def test_test_rows_are_opened_only_after_the_runs_ended(done, tmp_path, monkeypatch):
    opened = []
    real = sldagent.evaluation.load_test

    def spy(task, root):
        runs = list((tmp_path / "out" / "runs" / task.name).glob("seed*"))
        opened.append(bool(runs) and all((r / "best.json").is_file() for r in runs))
        return real(task, root)

    monkeypatch.setattr(sldagent.evaluation, "load_test", spy)
    tasks = suite_tasks(f"toy_power,{BENCH_TASKS[0]}", done.dev, done.data)
    study(StudyConfig(tasks, tmp_path / "out", seeds=2, budget=int(BUDGET)), stream=None)
    assert opened and all(opened)


def test_garbage_in_test_csv_leaves_the_runs_unchanged(done, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(done.data, data)
    (data / "bench_power" / "test.csv").write_text("group,size\nnot a,number,at all\n")
    out = tmp_path / "out"
    argv = ["study", "--suite", str(BENCH_TASKS[0]), "--data-dir", str(data), "--seeds", "2"]
    argv += ["--budget", BUDGET, "--out", str(out), "--markdown", str(out / "S.md"), "--quiet"]
    code, _, err = run_cli(*argv)
    assert_user_error(code, err, "test.csv")  # scoring fails, after the runs ended
    for seed in (0, 1):
        clean = done.out / "runs" / "bench_power" / f"seed{seed}" / "candidates.jsonl"
        dirty = out / "runs" / "bench_power" / f"seed{seed}" / "candidates.jsonl"
        assert _history(dirty) == _history(clean)
    assert not (out / "S.md").exists()


def test_paired_interval():
    assert paired_interval([0.5, 0.5, 0.5], seed=0) == (0.5, 0.5)
    a, b = paired_interval([0.0, 0.1, -0.2, 0.4], seed=3), paired_interval([0.0, 0.1, -0.2, 0.4], 3)
    assert a == b and -0.2 <= a[0] < 0.075 < a[1] <= 0.4
    assert paired_interval([1.0, 2.0] * 20, seed=0)[0] > 1.2  # many tasks: a narrow interval


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--suite", "devbench"], "--devbench DIR"),
        (["--suite", "toy_power", "--rules", "shipped,nope"], "unknown rule 'nope'"),
        (["--suite", "toy_power", "--rules", "fitness"], "must include 'shipped'"),
        (["--suite", "toy_power,toy_power"], "names a task twice"),
        (["--suite", "toy_power", "--seeds", "0"], "--seeds"),
    ],
)
def test_errors_are_one_line(tmp_path, extra, needle):
    write_task(tmp_path / "dev")
    argv = ["study", "--out", str(tmp_path / "o"), "--markdown", str(tmp_path / "S.md")]
    if "--suite" in extra and extra[1] != "devbench":
        argv += ["--devbench", str(tmp_path / "dev")]
    code, _, err = run_cli(*argv, *extra, "--quiet")
    assert_user_error(code, err, needle)
