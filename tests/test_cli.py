"""End-to-end tests of the command line: `sldagent.cli.main([...])` in-process, plus one real
subprocess run to prove the `python -m sldagent` entry point."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_errors import assert_user_error

from sldagent.cli import main
from sldagent.task import list_tasks

REPO = Path(__file__).resolve().parents[1]
BASELINE_KEYS = {"task", "published_r2", "constants_r2", "refit_r2", "fit_seconds"}


def run(capture, *argv: str) -> tuple[int, str, str]:
    """main(argv) in-process; capture is pytest's capsys or capfd."""
    code = main(list(argv))
    out, err = capture.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _no_env_data_root(monkeypatch):
    """Commands see only the --data-dir each test gives (or none)."""
    monkeypatch.delenv("SLDAGENT_DATA", raising=False)


# ----------------------------------------------------------------- tasks


def test_tasks_lists_the_eight_tasks(capsys, data_root: Path):
    code, out, err = run(capsys, "tasks", "--data-dir", str(data_root))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["task", "features"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == list_tasks() and len(names) == 8
    parallel = next(line for line in lines if line.startswith("parallel_scaling_law"))
    assert parallel.split()[1:] == ["2", "1", "4", "36", "12", "2"]


def test_tasks_without_data_still_lists_the_tasks(capsys, tmp_path: Path):
    code, out, _ = run(capsys, "tasks", "--data-dir", str(tmp_path))
    assert code == 0
    assert len(out.splitlines()) == 9 and "?" in out


def test_python_dash_m_entry_point_runs_in_a_subprocess():
    env = {k: v for k, v in os.environ.items() if k != "SLDAGENT_DATA"}
    proc = subprocess.run(
        [sys.executable, "-m", "sldagent", "tasks"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()[1:]] == list_tasks()


# ----------------------------------------------------------------- baseline


def test_baseline_json_for_two_tasks(capsys, data_root: Path):
    code, out, err = run(
        capsys,
        "baseline",
        "parallel_scaling_law",
        "vocab_scaling_law",
        "--json",
        "--data-dir",
        str(data_root),
    )
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 2
    assert [r["task"] for r in rows] == ["parallel_scaling_law", "vocab_scaling_law"]
    for r in rows:
        assert BASELINE_KEYS <= set(r)
        for key in ("published_r2", "constants_r2", "refit_r2", "fit_seconds"):
            assert isinstance(r[key], float) and math.isfinite(r[key])
    assert rows[0]["constants_r2"] == pytest.approx(1.0, abs=0.002)
    assert rows[1]["constants_r2"] == pytest.approx(0.966, abs=0.002)
    assert rows[0]["refit_r2"] >= 0.999 and rows[1]["refit_r2"] >= 0.966


def test_baseline_json_without_published_constants_has_null(capsys, data_root: Path):
    code, out, _ = run(
        capsys, "baseline", "sft_scaling_law", "--json", "--data-dir", str(data_root)
    )
    assert code == 0
    (row,) = json.loads(out)
    assert row["task"] == "sft_scaling_law"
    assert row["constants_r2"] is None
    assert row["published_r2"] == pytest.approx(0.957) and row["refit_r2"] >= 0.99
    assert "null" in out


def test_baseline_text_table(capsys, data_root: Path):
    code, out, _ = run(capsys, "baseline", "parallel_scaling_law", "--data-dir", str(data_root))
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["task", "published", "constants", "refit", "fit", "s"]
    assert row.split()[0] == "parallel_scaling_law" and row.split()[1] == "1.000"


# ----------------------------------------------------------------- evaluate

VOCAB_LAW = "E + A*non_vocab_parameters**(-alpha) + B*num_characters**(-beta)"


def test_evaluate_prints_validation_and_test_r2(capsys, data_root: Path):
    code, out, err = run(
        capsys, "evaluate", "vocab_scaling_law", "--law", VOCAB_LAW, "--data-dir", str(data_root)
    )
    assert code == 0 and err == ""
    words = out.split()
    assert words[:2] == ["validation", "R²"] and words[3:5] == ["test", "R²"]
    val, test = float(words[2]), float(words[5])
    assert 0.5 < val <= 1.0 and 0.5 < test <= 1.0


def test_evaluate_json(capsys, data_root: Path):
    code, out, _ = run(
        capsys,
        "evaluate",
        "vocab_scaling_law",
        "--law",
        VOCAB_LAW,
        "--json",
        "--data-dir",
        str(data_root),
    )
    assert code == 0
    result = json.loads(out)
    assert result["task"] == "vocab_scaling_law" and result["law"] == VOCAB_LAW
    assert 0.5 < result["validation_r2"] <= 1.0 and 0.5 < result["test_r2"] <= 1.0


def test_evaluate_a_multi_target_law_given_as_json(capsys, tiny_root: Path, tmp_path: Path):
    # the tiny task has one target; a two-target copy of it exercises the JSON path offline
    toml = (REPO / "tests" / "fixtures" / "tiny" / "tiny_task.toml").read_text()
    toml = toml.replace('targets = ["loss"]', 'targets = ["loss", "loss2"]')
    toml = toml.replace('name = "tiny_task"', 'name = "tiny_two"')
    toml = toml.replace("[validation]", '[columns.loss2]\nunit = "1"\n\n[validation]')
    toml = toml.split("[human]")[0]
    task_file = tmp_path / "tiny_two.toml"
    task_file.write_text(toml)
    for split in ("train", "test"):
        src = (tiny_root / "tiny_task" / f"{split}.csv").read_text().splitlines()
        rows = [src[0] + ",loss2"] + [f"{line},{1.5 + 0.1 * i:g}" for i, line in enumerate(src[1:])]
        (tiny_root / "tiny_two").mkdir(exist_ok=True)
        (tiny_root / "tiny_two" / f"{split}.csv").write_text("\n".join(rows) + "\n")
    law = json.dumps({"loss": "E + A*size**(-0.5)", "loss2": "c"})
    code, out, err = run(
        capsys, "evaluate", str(task_file), "--law", law, "--json", "--data-dir", str(tiny_root)
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["law"] == {"loss": "E + A*size**(-0.5)", "loss2": "c"}
    code, _, err = run(
        capsys, "evaluate", str(task_file), "--law", "E + c", "--data-dir", str(tiny_root)
    )
    assert_user_error(code, err, "JSON")


# ----------------------------------------------------------------- data check


def test_data_check_on_the_tiny_root_passes(capsys, tiny_root: Path, tiny_toml: Path):
    code, out, err = run(capsys, "data", "check", str(tiny_toml), "--data-dir", str(tiny_root))
    assert code == 0 and err == ""
    assert "ok    tiny_task" in out and "all tasks valid" in out


def test_data_check_on_a_broken_root_names_the_problem(capsys, tiny_root: Path, tiny_toml: Path):
    train = tiny_root / "tiny_task" / "train.csv"
    lines = train.read_text().splitlines()
    lines[2] = lines[2].replace("2.5", "oops")
    train.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "data", "check", str(tiny_toml), "--data-dir", str(tiny_root))
    assert code != 0
    assert "error tiny_task" in out
    assert "train.csv" in out and "'oops'" in out and "row 2" in out
    assert "1 task(s) with errors" in out


def test_data_check_on_a_missing_root_fails(capsys, tmp_path: Path):
    code, out, _ = run(capsys, "data", "check", "--data-dir", str(tmp_path / "nowhere"))
    assert code != 0
    assert "data root not found" in out


# ----------------------------------------------------------------- bad input: one line, exit 2


def test_unknown_task(capsys, data_root: Path):
    code, _, err = run(capsys, "baseline", "no_such_task", "--data-dir", str(data_root))
    assert_user_error(code, err, "unknown task 'no_such_task'")
    code, _, err = run(capsys, "evaluate", "no_such_task", "--law", "a", "--data-dir", ".")
    assert_user_error(code, err, "unknown task")


def test_missing_data_root_or_file(capsys, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "baseline", "parallel_scaling_law", "--data-dir", str(empty))
    assert_user_error(code, err, "train.csv", "file not found", "--data-dir")
    code, _, err = run(
        capsys, "evaluate", "vocab_scaling_law", "--law", VOCAB_LAW, "--data-dir", str(empty)
    )
    assert_user_error(code, err, "file not found")
    code, _, err = run(
        capsys, "baseline", "vocab_scaling_law", "--data-dir", str(tmp_path / "nowhere")
    )
    assert_user_error(code, err, "not found")


def test_hostile_law_text_is_refused_and_not_run(capfd, data_root: Path, tmp_path: Path):
    """capfd, not capsys: a shell command would write to file descriptor 1 directly."""
    marker = tmp_path / "pwned"
    hostile = [
        "__import__('os').system('echo hi')",
        f"__import__('os').system('touch {marker}')",
        "().__class__.__bases__[0].__subclasses__()",
        "exec('1')",
        "lambda: 1",
        "[x for x in (1,)]",
    ]
    for text in hostile:
        code, out, err = run(
            capfd, "evaluate", "vocab_scaling_law", "--law", text, "--data-dir", str(data_root)
        )
        assert_user_error(code, err)
        assert out == ""  # in particular no "hi" from echo
    assert not marker.exists()


def test_law_with_an_unknown_function(capsys, data_root: Path):
    code, _, err = run(
        capsys,
        "evaluate",
        "vocab_scaling_law",
        "--law",
        "A * gamma_fn(non_vocab_parameters) + E",
        "--data-dir",
        str(data_root),
    )
    assert_user_error(code, err, "'gamma_fn'", "not allowed")


@pytest.mark.parametrize(
    ("law", "needle"),
    [
        ("c1 + k1 * proportion_domain_1", "JSON"),  # not JSON at all
        ('{"loss_domain_1": "c1"', "JSON"),  # broken JSON
        ('{"loss_domain_1": "c1"}', "missing"),  # JSON, but not every target
        ('["c1"]', "mapping"),  # JSON, but not an object
    ],
)
def test_multi_target_task_needs_a_json_object(capsys, data_root: Path, law: str, needle: str):
    code, _, err = run(
        capsys,
        "evaluate",
        "domain_mixture_scaling_law",
        "--law",
        law,
        "--data-dir",
        str(data_root),
    )
    assert_user_error(code, err, needle)


def test_too_many_parameters_for_the_budget(capsys, data_root: Path):
    law = "+".join(f"p{i}*num_characters**(-q{i})" for i in range(4))  # 8 > budget 7
    code, _, err = run(
        capsys, "evaluate", "vocab_scaling_law", "--law", law, "--data-dir", str(data_root)
    )
    assert_user_error(code, err, "8 parameters", "budget is 7")


def test_evaluate_log_of_a_non_positive_column_names_the_column(capsys, data_root: Path):
    code, _, err = run(
        capsys,
        "evaluate",
        "easy_question_scaling_law",
        "--law",
        "a + b*log(log_flops)",
        "--data-dir",
        str(data_root),
    )
    assert_user_error(code, err, "log_flops", "non-positive")


def test_evaluate_reports_why_a_fit_failed(capsys, data_root: Path):
    # the vocab target is negative: a log-space fit cannot run, and the user is told so
    code, _, err = run(
        capsys,
        "evaluate",
        "vocab_scaling_law",
        "--law",
        "a + b/vocab_size**c",
        "--log-target",
        "--data-dir",
        str(data_root),
    )
    assert_user_error(code, err, "could not be fitted", "positive target")


def test_baseline_of_a_task_without_a_human_law_is_a_user_error(
    capsys, tiny_root: Path, tiny_toml: Path, tmp_path: Path
):
    text = tiny_toml.read_text()
    no_human = tmp_path / "tiny_task.toml"
    no_human.write_text(text[: text.index("[human]")])
    code, _, err = run(capsys, "baseline", str(no_human), "--data-dir", str(tiny_root))
    assert_user_error(code, err, "no [human] law")


def test_an_unwritable_output_path_is_a_user_error(capsys, tmp_path: Path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(
        json.dumps({"task": "x", "features": ["x"], "targets": ["y"]})
    )
    (run_dir / "best.json").write_text(json.dumps({"law": "a*x", "params": {"g": {"a": 1.0}}}))
    code, _, err = run(
        capsys,
        "export",
        str(run_dir),
        "--format",
        "json",
        "--out",
        str(tmp_path / "missing" / "dir" / "law.json"),
    )
    assert_user_error(code, err, "No such file")
