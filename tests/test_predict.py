"""Tests of `sldagent predict` (sldagent/predict.py): the value, the bootstrap interval, the
out-of-range warning in decades, and the one-line errors."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from cli_errors import assert_user_error

from sldagent import demo
from sldagent.cli import main
from sldagent.predict import parse_point
from sldagent.task import DataError, load_train


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One finished demo run shared by these tests."""
    path = tmp_path_factory.mktemp("predict") / "run"
    argv = ["discover", "--demo", "--budget", "12", "--jobs", "1", "--quiet"]
    assert main([*argv, "--run-dir", str(path)]) == 0
    return path


def test_parse_point():
    assert parse_point(" N = 7e10 , D=1.4E12", ("N", "D")) == {"N": 7e10, "D": 1.4e12}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("N=1e9,tokens=2", "unknown feature 'tokens'; the law's features are N, D"),
        ("N=1e9", "missing feature(s) D"),
        ("N=big,D=1", "N='big' is not a number"),
        ("N=nan,D=1", "N='nan' is not a number"),
        ("N=1e9,D", "'D' is not NAME=VALUE"),
        ("N=1,N=2,D=3", "feature 'N' is given twice"),
    ],
)
def test_parse_point_errors(text: str, needle: str):
    with pytest.raises(DataError) as err:
        parse_point(text, ("N", "D"))
    assert needle in str(err.value)


def test_predict_prints_value_and_interval_for_every_group(capsys, run_dir: Path):
    code, out, err = run(
        capsys, "predict", str(run_dir), "--at", "N=5e8,D=1e10", "--resamples", "8"
    )
    assert code == 0 and err == ""  # inside the training range: no warning
    lines = out.splitlines()
    assert lines[0].startswith("law    ") and lines[1] == "at     N=5e+08, D=1e+10"
    assert lines[2].split()[:4] == ["group", "target", "predicted", "90%"]
    rows = [line.split() for line in lines[3:]]
    assert [r[0] for r in rows] == ["arch_a", "arch_b", "arch_c"]
    for r in rows:
        value, low, high = float(r[2]), float(r[3].strip("[,")), float(r[4].strip("]"))
        assert low <= value <= high and r[5] == "8/8"


def test_the_interval_is_seeded_and_the_value_is_the_runs_law(capsys, run_dir: Path):
    argv = ["predict", str(run_dir), "--at", "N=7e10,D=1.4e12", "--group", "arch_a", "--json"]
    outs = [run(capsys, *argv, "--resamples", "20", *seed)[1] for seed in ([], [], ["--seed", "1"])]
    assert outs[0] == outs[1] and outs[0] != outs[2]
    row = json.loads(outs[0])["predictions"][0]
    assert row["group"] == "arch_a" and row["refits"] == row["resamples"] == 20
    best = json.loads((run_dir / "best.json").read_text())
    from sldagent.fitted import FittedLaw

    law = FittedLaw.from_best(best, ("N", "D"), ("loss",), "model")
    expected = law.predict({"model": ["arch_a"], "N": [7e10], "D": [1.4e12]})[0]
    assert row["value"]["loss"] == pytest.approx(expected, rel=1e-12)
    low, high = row["interval"]["loss"]
    assert low < expected < high and high - low < 0.2


def test_a_point_outside_the_training_range_warns_in_decades(capsys, run_dir: Path):
    code, out, err = run(
        capsys, "predict", str(run_dir), "--at", "N=7e10,D=1e10", "--group", "arch_b",
        "--resamples", "4", "--json",
    )  # fmt: skip
    assert code == 0
    train = load_train(demo.demo_task(), None).frame
    n_max = train[train.model == "arch_b"]["N"].max()
    decades = math.log10(7e10 / n_max)
    (warning,) = err.splitlines()  # D=1e10 is inside the range: one warning, for N
    assert warning.startswith("sldagent: warning: group arch_b: N=7e+10 is ")
    assert f"{decades:.2f} decades above the training range" in warning
    outside = json.loads(out)["predictions"][0]["outside_decades"]
    assert outside == {"N": pytest.approx(decades)}


def test_no_refit_within_the_time_limit_gives_no_interval(capsys, run_dir: Path):
    argv = ["predict", str(run_dir), "--at", "N=5e8,D=1e10", "--group", "arch_c"]
    code, out, _ = run(capsys, *argv, "--time-limit", "1e-9", "--json")
    assert code == 0
    row = json.loads(out)["predictions"][0]
    assert row["refits"] == 0 and row["interval"]["loss"] == [None, None]
    assert row["value"]["loss"] > 0
    code, out, _ = run(capsys, *argv, "--time-limit", "1e-9")
    assert code == 0 and "[nan, nan]" in out and "0/50" in out


def test_help_states_the_interval_method_and_its_defaults(capsys):
    from sldagent import predict
    from sldagent.cli import build_parser

    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("bootstrap", "resampled with replacement", "default 50", "5th to 95th"):
        assert needle in text
    args = build_parser().parse_args(["predict", "RUN", "--at", "N=1"])
    assert (args.resamples, args.level, args.time_limit) == (
        predict.RESAMPLES,
        predict.LEVEL,
        predict.TIME_LIMIT,
    )
    assert f"default {predict.RESAMPLES};" in text and f"default {predict.LEVEL:g}:" in text


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--at", "N=1e9,tokens=1"], "--at: unknown feature 'tokens'"),
        (["--at", "N=1e9"], "--at: missing feature(s) D"),
        (["--at", "N=1e9,D=lots"], "--at: D='lots' is not a number"),
        (["--at", "N=1e9,D=1e10", "--group", "arch_z"], "unknown group 'arch_z'; the run's"),
        (["--at", "N=0,D=1e10"], "N=0 must be > 0: the law takes a log or a fractional power"),
        (["--at", "N=1e9,D=1e10", "--level", "1.5"], "0 < --level < 1"),
        (["--at", "N=1e9,D=1e10", "--resamples", "0"], "--resamples >= 1"),
    ],
)
def test_predict_errors(capsys, run_dir: Path, argv: list[str], needle: str):
    code, _, err = run(capsys, "predict", str(run_dir), *argv)
    assert_user_error(code, err, needle)


def test_predict_on_a_directory_that_is_not_a_finished_run(capsys, run_dir: Path, tmp_path):
    code, _, err = run(capsys, "predict", str(tmp_path), "--at", "N=1,D=1")
    assert_user_error(code, err, "config.json not found")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run_dir, unfinished)
    (unfinished / "best.json").unlink()
    code, _, err = run(capsys, "predict", str(unfinished), "--at", "N=1,D=1")
    assert_user_error(code, err, "best.json not found: the run has not finished")
