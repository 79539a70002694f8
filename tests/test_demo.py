"""The generated example (sldagent/demo.py, examples/): reproducible bytes, shipped with the
package, and the acceptance check of issue 6: `discover --csv` on it recovers a law whose test R²
is within 0.01 of the true law's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from sldagent import demo
from sldagent.cli import main
from sldagent.task import load_test, load_train

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "chinchilla_like.csv"


def test_the_generator_reproduces_both_committed_copies_byte_for_byte():
    data = demo.generate().encode()
    assert EXAMPLE.read_bytes() == data
    assert demo.CSV.read_bytes() == data
    assert data.count(b"\n") == 1 + 3 * demo.RUNS_PER_GROUP
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "make_demo.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_make_demo_check_fails_on_a_changed_file(tmp_path: Path, monkeypatch):
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import make_demo
    finally:
        sys.path.remove(str(REPO / "examples"))
    changed = tmp_path / "x.csv"
    changed.write_bytes(EXAMPLE.read_bytes().replace(b"arch_a", b"arch_z", 1))
    monkeypatch.setattr(make_demo, "TARGETS", (changed,))
    assert make_demo.main(["--check"]) == 1
    assert make_demo.main([]) == 0 and make_demo.main(["--check"]) == 0
    assert changed.read_bytes() == EXAMPLE.read_bytes()


def test_the_demo_csv_is_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["sldagent"]
    package = REPO / "sldagent"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert demo.CSV in shipped


def test_the_true_law_fits_the_generated_rows_to_the_noise():
    task = demo.demo_task()
    train, test = load_train(task, None), load_test(task, None)
    assert len(train) + len(test) == 300 and (test.frame["N"] >= 1e9).all()
    assert demo.true_law_r2(train) > 0.999
    assert 0.99 < demo.true_law_r2(test) < 1.0  # the noise is real


def test_discover_csv_recovers_a_law_as_good_as_the_true_one(capsys, tmp_path: Path):
    start = time.perf_counter()
    code = main(
        [
            "discover",
            "--csv",
            str(EXAMPLE),
            "--features",
            "N,D",
            "--target",
            "loss",
            "--group",
            "model",
            "--extrapolate",
            "N>=1e9",
            "--budget",
            "30",
            "--jobs",
            "1",
            "--quiet",
            "--json",
            "--run-dir",
            str(tmp_path / "run"),
        ]
    )
    seconds = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    task = demo.demo_task()
    truth = demo.true_law_r2(load_test(task, None))
    print(f"example: test R² {summary['test_r2']:.4f}, true law {truth:.4f}, {seconds:.1f} s")
    assert summary["test_r2"] == pytest.approx(truth, abs=0.01)
    assert summary["n_params"] <= task.param_budget
    assert summary["true_law_test_r2"] is None  # only --demo knows the truth


def test_discover_demo_prints_the_true_law_r2(capsys, tmp_path: Path):
    argv = ["discover", "--demo", "--budget", "12", "--jobs", "1", "--quiet", "--json"]
    code = main([*argv, "--run-dir", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["task"] == "chinchilla_like" and summary["human_published_r2"] is None
    assert summary["true_law_test_r2"] == pytest.approx(
        demo.true_law_r2(load_test(demo.demo_task(), None))
    )
    assert "true law    R² " in out and "(held-out rows N >= 1e9; no human law)" in out
    assert (tmp_path / "run" / "task.toml").is_file()
