"""`sldagent benchmark` end to end on two tiny synthetic tasks: the table's numbers against a
direct computation with sldagent.metrics, reuse of finished runs, interruption and restart,
and the command's one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_errors import assert_user_error
from conftest import BENCH, BENCH_TASKS, REPO, run_cli

from sldagent.evaluation import human_law, human_recipe
from sldagent.fitters import fit_groups
from sldagent.law import parse_law
from sldagent.metrics import clip_r2, r2
from sldagent.search.runlog import RunLog
from sldagent.task import load_task, load_test, load_train


@pytest.fixture(autouse=True)
def _no_env_data_root(monkeypatch):
    monkeypatch.delenv("SLDAGENT_DATA", raising=False)


def results_of(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["results"]


def pooled_r2(task, rows, predict) -> float:
    """R² over all test rows of the groups, computed here with sldagent.metrics only."""
    trues, preds = [], []
    for group, X, y in rows.groups():
        trues.append(y)
        preds.append(predict(group, X))
    return r2(np.concatenate(trues), np.concatenate(preds))


def with_constants(law, constants):
    return lambda g, X: law.predict(X, np.array([constants[g][p] for p in law.params]))


def cell(value: float) -> str:
    return f"{value:.3f}".replace("-", "−")


def table_row(stdout: str, first: str) -> list[str]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith(f"| {first} |")]
    assert len(lines) == 1, stdout
    return [c.strip() for c in lines[0].strip("|").split("|")]


def test_table_numbers_match_a_direct_computation(bench_report):
    out, data = bench_report.out, bench_report.data
    records = results_of(out)
    means = {"human": [], "refit": [], "sr": [], "ours": [], "best": [], "worst": []}
    for path in BENCH_TASKS:
        task = load_task(path)
        test, train = load_test(task, data), load_train(task, data)
        ours, n_params = [], []
        for seed in (0, 1):
            best = json.loads((out / "runs" / task.name / f"seed{seed}" / "best.json").read_text())
            law = parse_law(best["law"], task.features, task.targets)
            value = pooled_r2(task, test, with_constants(law, best["params"]))
            (rec,) = [
                r
                for r in records
                if r["kind"] == "sldagent" and r["task"] == task.name and r["seed"] == seed
            ]
            assert rec["test_r2"] == pytest.approx(value, abs=1e-12)
            assert rec["law"] == best["law"] and rec["n_params"] == len(law.params)
            ours.append(value)
            n_params.append(len(law.params))
        # the human law refit per group on all train rows, scored directly
        law = human_law(task)
        fits = fit_groups(law, train.groups(), human_recipe(task))
        consts = {g: dict(zip(law.params, f.theta, strict=True)) for g, f in fits.items()}
        refit = pooled_r2(task, test, with_constants(law, consts))
        # the SR baseline's printed formulas, parsed and scored directly
        (sr,) = [r for r in records if r["kind"] == "sr" and r["task"] == task.name]
        assert sr["method"] == "pyoperon"
        sr_laws = {
            (g, t): parse_law(text, task.features, [t], max_nodes=2000)
            for g, by_target in sr["formulas"].items()
            for t, text in by_target.items()
        }

        def sr_predict(g, X, laws=sr_laws, targets=task.targets):
            return np.column_stack([laws[g, t].predict(X, np.zeros(0))[:, 0] for t in targets])

        sr_value = pooled_r2(task, test, sr_predict)
        clipped = [clip_r2(v) for v in ours]
        row = table_row(bench_report.stdout, task.name)
        assert row[1] == cell(task.human.published_r2)
        assert row[2] == cell(refit)
        assert row[3] == cell(sr_value)
        assert row[4] == row[5] == "—"  # no published SLDAgent numbers for a custom task
        assert row[6] == f"{cell(np.mean(clipped))} ± {cell(np.std(clipped, ddof=1))}"
        assert row[7] == cell(max(ours)) and row[8] == cell(min(ours))
        lo, hi = min(n_params), max(n_params)
        ours_params = str(lo) if lo == hi else f"{lo}–{hi}"
        assert row[9] == f"{ours_params} / {len(task.human.params)} / {task.param_budget}"
        for key, value in zip(
            means,
            (task.human.published_r2, refit, sr_value, np.mean(clipped), max(ours), min(ours)),
            strict=True,
        ):
            means[key].append(clip_r2(value))
    last = table_row(bench_report.stdout, "**clipped mean (2 tasks)**")
    expected = [cell(np.mean(means[k])) for k in ("human", "refit", "sr")]
    expected += ["—", "—"] + [cell(np.mean(means[k])) for k in ("ours", "best", "worst")]
    assert last[1:9] == expected
    # the report's README holds exactly the table the command printed
    table = "".join(ln + "\n" for ln in bench_report.stdout.splitlines() if ln.startswith("|"))
    assert table in (out / "README.md").read_text()


def test_finished_runs_are_reused_untouched(bench_report):
    run = bench_report.reused_run
    now = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()}
    assert now == bench_report.snapshot
    reused = {
        (r["task"], r["seed"]): r["reused"]
        for r in results_of(bench_report.out)
        if r["kind"] == "sldagent"
    }
    assert reused == {
        ("bench_power", 0): True,
        ("bench_mix", 0): False,
        ("bench_power", 1): False,
        ("bench_mix", 1): False,
    }


def test_every_run_spent_its_budget_once(bench_report):
    for task in ("bench_power", "bench_mix"):
        for seed in (0, 1):
            run = bench_report.out / "runs" / task / f"seed{seed}"
            ids = [r["id"] for r in RunLog(run / "candidates.jsonl").read()]
            assert ids == list(range(bench_report.budget))
            config = json.loads((run / "config.json").read_text())
            assert (
                config["search"]["seed"] == seed
                and config["search"]["budget"] == bench_report.budget
            )


def lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_interrupted_benchmark_resumes_and_keeps_finished_runs(tmp_path: Path):
    out, budget = tmp_path / "report", 24
    argv = ["benchmark", "--tasks", ",".join(map(str, BENCH_TASKS)), "--seeds", "1"]
    argv += ["--budget", str(budget), "--data-dir", str(BENCH / "data"), "--out", str(out)]
    argv += ["--sr", "none", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k != "SLDAGENT_DATA"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    first = out / "runs" / "bench_power" / "seed0"
    second = out / "runs" / "bench_mix" / "seed0"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sldagent", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        # a suite started in the background (`... &` without job control) ignores SIGINT, and a
        # child inherits that, so Ctrl-C would do nothing: the child gets the default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    try:
        while not ((first / "best.json").exists() and lines(second / "candidates.jsonl") >= 3):
            assert proc.poll() is None, "the benchmark ended before it could be interrupted"
            assert time.monotonic() < deadline, "no progress in 120 s"
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)  # Ctrl-C
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode()
    assert not (second / "best.json").exists()
    logged = lines(second / "candidates.jsonl")
    assert 3 <= logged < budget
    assert json.loads((second / "wall_time.json").read_text())["segments"] == 1
    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in first.rglob("*") if p.is_file()}

    code, stdout, err = run_cli(*argv)
    assert code == 0, err
    now = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in first.rglob("*") if p.is_file()}
    assert {p: now[p] for p in kept} == kept  # untouched; its run report is added
    added = {p.relative_to(first).parts[0] for p in set(now) - set(kept)}
    assert added <= {"report.html", "report_figures"}
    ids = [r["id"] for r in RunLog(second / "candidates.jsonl").read()]
    assert ids == list(range(budget))  # resumed: nothing evaluated twice, nothing lost
    assert json.loads((second / "wall_time.json").read_text())["segments"] == 2
    assert "| bench_mix |" in stdout


def test_benchmark_user_errors(bench_report, tmp_path: Path):
    data = str(BENCH / "data")
    code, _, err = run_cli("benchmark", "--tasks", "no_such_task", "--data-dir", data)
    assert_user_error(code, err, "unknown task 'no_such_task'")
    code, _, err = run_cli("benchmark", "--tasks", str(BENCH_TASKS[0]), "--seeds", "0")
    assert_user_error(code, err, "--seeds")
    both = f"{BENCH_TASKS[0]},{BENCH_TASKS[0]}"
    code, _, err = run_cli("benchmark", "--tasks", both, "--data-dir", data, "--out", str(tmp_path))
    assert_user_error(code, err, "twice")
    # finished runs made with another budget are not mixed into this benchmark
    before = {p: p.stat().st_mtime_ns for p in bench_report.out.rglob("*")}
    code, _, err = run_cli(
        "benchmark",
        "--tasks",
        str(BENCH_TASKS[0]),
        "--seeds",
        "1",
        "--budget",
        "21",
        "--data-dir",
        str(bench_report.data),
        "--out",
        str(bench_report.out),
        "--quiet",
    )
    assert_user_error(code, err, "config.json", "other search settings", "--out")
    assert {p: p.stat().st_mtime_ns for p in bench_report.out.rglob("*")} == before
