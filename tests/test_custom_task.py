"""Tests of sldagent.custom_task: a task from your own CSV, its sealed test rows, its TOML, and
the one-line errors of `discover --csv` / `init-task`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from cli_errors import assert_user_error

from sldagent.cli import main
from sldagent.custom_task import load_rows, run_task, task_from_csv, task_toml
from sldagent.task import DataError, load_task, load_test, load_train, split_validation


def write_runs(path: Path, groups=("a", "b"), n: int = 30, seed: int = 0) -> Path:
    """A small grouped CSV: loss = 2 + 50 N^-0.3 + 30 D^-0.25 (+ noise), an extra column."""
    rng = np.random.default_rng(seed)
    lines = ["model,N,D,loss,note"]
    for g in groups:
        for _ in range(n):
            N, D = 10 ** rng.uniform(6, 9), 10 ** rng.uniform(8, 11)
            loss = 2 + 50 * N**-0.3 + 30 * D**-0.25 + rng.normal(0, 0.01)
            lines.append(f"{g},{N:.4g},{D:.4g},{loss:.5f},x")
    path.write_text("\n".join(lines) + "\n")
    return path


def edit_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (row 1 = first data row) of a CSV written by write_runs."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def runs_csv(tmp_path: Path) -> Path:
    return write_runs(tmp_path / "my runs.csv")


# ----------------------------------------------------------------- building the task


def test_task_from_csv_holds_out_the_extrapolate_rows(runs_csv: Path):
    task = task_from_csv(runs_csv, "N,D", "loss", "model", "N>=1e8")
    assert task.name == "my_runs" and task.group == "model"
    assert task.features == ("N", "D") and task.targets == ("loss",)
    assert task.param_budget == 6 and task.human is None
    assert set(task.positive) == {"N", "D", "loss"}
    train, test = load_rows(task, "train"), load_rows(task, "test")
    assert len(train) + len(test) == 60
    assert (train.frame["N"] < 1e8).all() and (test.frame["N"] >= 1e8).all()
    assert list(train.frame.columns) == ["model", "N", "D", "loss"]  # the note column is dropped
    # load_train / load_test dispatch to the CSV (no data root needed)
    assert load_train(task, None).frame.equals(train.frame)
    assert load_test(task, None).frame.equals(test.frame)


def test_default_validation_rehearses_along_the_same_axis_per_group(runs_csv: Path):
    task = task_from_csv(runs_csv, "N,D", "loss", "model", "N>=1e8")
    rule = task.validation
    assert (rule.kind, rule.columns, rule.fraction, rule.per_group) == (
        "top_fraction",
        ("N",),
        0.2,
        True,
    )
    fit, val = split_validation(load_train(task, None))
    for g in ("a", "b"):
        f = fit.frame[fit.frame.model == g]
        v = val.frame[val.frame.model == g]
        assert len(v) > 0 and f["N"].max() < v["N"].min()  # validation = the largest N in train


def test_a_downward_rule_rehearses_at_the_bottom(runs_csv: Path):
    task = task_from_csv(runs_csv, "N,D", "loss", "model", "D < 1e9")
    assert task.validation.kind == "bottom_fraction"
    fit, val = split_validation(load_train(task, None))
    assert val.frame["D"].max() <= fit.frame["D"].max()
    for g in ("a", "b"):
        assert (
            fit.frame[fit.frame.model == g]["D"].min() > val.frame[val.frame.model == g]["D"].min()
        )


def test_without_group_all_rows_are_one_group_and_without_rule_no_test_rows(runs_csv: Path):
    task = task_from_csv(runs_csv, ["N", "D"], ["loss"])
    assert task.group == "group" and task.source.grouped is False
    train = load_train(task, None)
    assert len(train) == 60 and set(train.group_labels) == {"all"}
    assert task.validation.columns == ("N", "D") and task.validation.per_group is False
    with pytest.raises(DataError, match="no extrapolate rule, so no test rows"):
        load_test(task, None)


def test_toml_round_trip(runs_csv: Path, tmp_path: Path):
    for args in (("model", "N >= 1e8 and D >= 1e9", 5), (None, None, None)):
        task = task_from_csv(runs_csv, "N,D", "loss", *args)
        path = tmp_path / "mine.toml"
        path.write_text(task_toml(task))
        loaded = load_task(path)
        assert dataclasses.replace(loaded, path=None) == task
        assert load_train(loaded, None).frame.equals(load_train(task, None).frame)


def test_a_relative_csv_path_in_a_toml_is_relative_to_the_toml(runs_csv: Path, tmp_path: Path):
    text = task_toml(task_from_csv(runs_csv, "N,D", "loss", "model", "N>=1e8"))
    text = text.replace(json.dumps(runs_csv.resolve().as_posix()), json.dumps(runs_csv.name))
    (tmp_path / "t.toml").write_text(text)
    assert load_task(tmp_path / "t.toml").source.csv == tmp_path / runs_csv.name


def test_a_bad_extrapolate_in_a_toml_names_the_key(runs_csv: Path, tmp_path: Path):
    text = task_toml(task_from_csv(runs_csv, "N,D", "loss", "model", "N>=1e8"))
    (tmp_path / "t.toml").write_text(text.replace('"N >= 1e8"', '"Q >= 1e8"'))
    with pytest.raises(DataError, match=r"key 'data.extrapolate'.*unknown column 'Q'"):
        load_task(tmp_path / "t.toml")


def test_the_shipped_tasks_have_no_csv_source():
    from sldagent.task import list_tasks

    assert all(load_task(name).source is None for name in list_tasks())


# ----------------------------------------------------------------- the command line


def test_init_task_prints_a_toml_that_discover_runs(capsys, runs_csv: Path, tmp_path: Path):
    code, out, err = run(
        capsys, "init-task", "--csv", str(runs_csv), "--features", "N,D", "--target", "loss",
        "--group", "model", "--extrapolate", "N>=1e8",
    )  # fmt: skip
    assert code == 0 and err == ""
    toml = tmp_path / "mine.toml"
    toml.write_text(out)
    assert dataclasses.replace(load_task(toml), path=None) == task_from_csv(
        runs_csv, "N,D", "loss", "model", "N>=1e8"
    )
    run_dir = tmp_path / "run"
    code, out, err = run(
        capsys, "discover", str(toml), "--budget", "8", "--jobs", "1", "--quiet", "--json",
        "--run-dir", str(run_dir),
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["task"] == "my_runs" and summary["human_published_r2"] is None
    assert summary["test_r2"] is not None and summary["true_law_test_r2"] is None


def test_discover_csv_run_is_self_describing_resumable_and_rehearsable(
    capsys, runs_csv: Path, tmp_path: Path
):
    run_dir = tmp_path / "run"
    argv = ["discover", "--csv", str(runs_csv), "--features", "N,D", "--target", "loss"]
    argv += ["--group", "model", "--extrapolate", "N>=1e8", "--budget", "8", "--jobs", "1"]
    code, out, err = run(capsys, *argv, "--quiet", "--run-dir", str(run_dir))
    assert code == 0, err
    assert "(held-out rows N >= 1e8; no human law)" in out
    assert run_task(run_dir) == load_task(run_dir / "task.toml")
    assert run_task(run_dir).source.csv == runs_csv.resolve()
    best = (run_dir / "best.json").read_text()
    code, out, err = run(capsys, "discover", "--resume", str(run_dir), "--quiet", "--jobs", "1")
    assert code == 0, err
    assert (run_dir / "best.json").read_text() == best
    code, out, err = run(capsys, "rehearse", str(run_dir), "--laws", "4", "--json")
    assert code == 0, err
    assert json.loads(out)["task"] == "my_runs"


def test_discover_csv_without_extrapolate_reports_no_test(capsys, runs_csv: Path, tmp_path):
    code, out, err = run(
        capsys, "discover", "--csv", str(runs_csv), "--features", "N,D", "--target", "loss",
        "--budget", "4", "--jobs", "1", "--quiet", "--json", "--run-dir", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 0, err
    assert "no held-out rows" in out
    assert json.loads(out.splitlines()[-1])["test_r2"] is None


def test_the_search_never_sees_the_extrapolate_rows(runs_csv: Path, tmp_path: Path, capsys):
    """Two CSVs that differ only in the held-out rows' targets give the same search."""
    other = tmp_path / "other" / runs_csv.name  # same file name: same task name
    other.parent.mkdir()
    lines = runs_csv.read_text().splitlines()
    header = lines[0].split(",")
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(",")
        if float(cells[header.index("N")]) >= 1e8:
            cells[header.index("loss")] = f"{float(cells[header.index('loss')]) * 3 + 1:.5f}"
            lines[i] = ",".join(cells)
    other.write_text("\n".join(lines) + "\n")
    histories, tests = [], []
    for k, path in enumerate((runs_csv, other)):
        run_dir = tmp_path / f"run{k}"
        argv = ["discover", "--csv", str(path), "--features", "N,D", "--target", "loss"]
        argv += ["--group", "model", "--extrapolate", "N>=1e8", "--budget", "16", "--jobs", "1"]
        code, out, err = run(capsys, *argv, "--quiet", "--json", "--run-dir", str(run_dir))
        assert code == 0, err
        records = [json.loads(x) for x in (run_dir / "candidates.jsonl").read_text().splitlines()]
        histories.append([{k: v for k, v in r.items() if k != "seconds"} for r in records])
        best = json.loads((run_dir / "best.json").read_text())
        histories.append(best)
        tests.append(json.loads(out.splitlines()[-1])["test_r2"])
    assert len(histories[0]) == 16
    assert histories[0] == histories[2] and histories[1] == histories[3]
    assert tests[0] != tests[1]  # the held-out rows did differ, and evaluation saw it


# ----------------------------------------------------------------- one-line errors


def csv_args(path: Path, *extra: str) -> list[str]:
    return ["discover", "--csv", str(path), "--features", "N,D", "--target", "loss", *extra]


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--group", "family"], ["unknown column 'family'", "the columns are model, N, D, loss"]),
        (
            ["--extrapolate", "Q >= 1"],
            ["unknown column 'Q'", "the columns are model, N, D, loss, note"],
        ),
        (["--extrapolate", "note >= 1"], ["column 'note' has 60 non-numeric values"]),
        (["--group", "model", "--extrapolate", "model >= 1"], ["unknown column 'model'"]),
        (["--extrapolate", "N >= 1e12"], ["selects no rows", "N spans"]),
        (["--extrapolate", "N > 0"], ["selects all 60 rows", "leaving none to fit"]),
        (["--extrapolate", "N >= 1e7 or D > 1"], ["expected 'and' and another clause"]),
        (["--extrapolate", "N >= 1e7 and D < 1e10"], ["mixes > and < clauses"]),
        (["--group", "model", "--param-budget", "0"], ["--param-budget 0: must be"]),
    ],
)
def test_discover_csv_errors(capsys, runs_csv: Path, extra: list[str], needles: list[str]):
    code, _, err = run(capsys, *csv_args(runs_csv, *extra))
    assert_user_error(code, err, *needles)


def test_unknown_feature_or_target_column(capsys, runs_csv: Path):
    code, _, err = run(
        capsys, "discover", "--csv", str(runs_csv), "--features", "N,tokens", "--target", "loss"
    )
    assert_user_error(code, err, f"{runs_csv}: unknown column 'tokens'")
    code, _, err = run(
        capsys, "init-task", "--csv", str(runs_csv), "--features", "N", "--target", "L"
    )
    assert_user_error(code, err, "unknown column 'L'")


def test_missing_and_non_numeric_values_say_how_many_and_where(capsys, runs_csv: Path):
    for row in (3, 8, 9, 10, 11, 12, 13):
        edit_cell(runs_csv, row, "loss", "" if row != 8 else "NaN")
    edit_cell(runs_csv, 5, "D", "1e9 tokens")
    edit_cell(runs_csv, 6, "N", "inf")
    edit_cell(runs_csv, 7, "model", "  ")
    code, _, err = run(capsys, *csv_args(runs_csv, "--group", "model"))
    assert_user_error(
        code,
        err,
        str(runs_csv),
        "column 'model' has 1 missing value (rows 7)",
        "column 'N' has 1 non-numeric value (rows 6: 'inf')",
        "column 'D' has 1 non-numeric value (rows 5: '1e9 tokens')",
        "column 'loss' has 7 missing values (rows 3, 8, 9, 10, 11, ...)",
        "fill them in or remove those rows",
    )


def test_too_few_rows_per_group_for_the_parameter_budget(capsys, tmp_path: Path):
    small = write_runs(tmp_path / "small.csv", groups=("big", "tiny"), n=40)
    lines = small.read_text().splitlines()
    keep = [lines[0], *lines[1:41], *[x for x in lines[41:] if float(x.split(",")[1]) < 1e8][:6]]
    small.write_text("\n".join(keep) + "\n")
    code, _, err = run(capsys, *csv_args(small, "--group", "model", "--extrapolate", "N>=1e8"))
    assert_user_error(
        code, err, "group 'tiny' has 6 training rows", "up to 6 constants per group",
        "lower --param-budget",
    )  # fmt: skip
    # enough rows in all, but too few left once the validation slice is carved out
    code, _, err = run(
        capsys,
        *csv_args(small, "--group", "model", "--extrapolate", "N>=1e8", "--param-budget", "5"),
    )
    assert_user_error(code, err, "group 'tiny' has 6 training rows but only 4 left to fit")
    # a smaller budget fits
    task = task_from_csv(small, "N,D", "loss", "model", "N>=1e8", param_budget=4)
    assert task.param_budget == 4


def test_a_group_with_only_held_out_rows(capsys, tmp_path: Path):
    path = write_runs(tmp_path / "r.csv", groups=("a",), n=30)
    with path.open("a") as f:
        f.write("b,2e9,1e10,2.1,x\nb,3e9,1e10,2.0,x\n")
    code, _, err = run(capsys, *csv_args(path, "--group", "model", "--extrapolate", "N>=1e9"))
    assert_user_error(code, err, "group 'b' has no training rows")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("model,N,N,loss\na,1,2,3\n", "column 'N' appears twice"),
        ("model,N,D,loss\n", "needs a header line and at least one row"),
        ("model,N,D,loss\na,1,2\n", "row 1 (line 2): 3 fields but the header has 4"),
        ('model,N,D,loss\n"a,1,2,3\n', "malformed CSV"),
    ],
)
def test_unusable_files(capsys, tmp_path: Path, content: str, needle: str):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, _, err = run(capsys, *csv_args(path))
    assert_user_error(code, err, str(path), needle)


def test_flag_combinations(capsys, runs_csv: Path, tmp_path: Path):
    code, _, err = run(capsys, *csv_args(tmp_path / "none.csv"))
    assert_user_error(code, err, "none.csv: file not found")
    code, _, err = run(capsys, "discover", "--csv", str(runs_csv), "--target", "loss")
    assert_user_error(code, err, "--csv needs --features")
    code, _, err = run(capsys, "discover", "--features", "N,D")
    assert_user_error(code, err, "--features describe a custom task: give --csv FILE too")
    code, _, err = run(capsys, "discover", "--demo", "--csv", str(runs_csv))
    assert_user_error(code, err, "--demo runs the built-in example; drop --csv")
    code, _, err = run(capsys, "discover", "vocab_scaling_law", "--csv", str(runs_csv))
    assert_user_error(code, err, "give a TASK or --csv, not both")
    code, _, err = run(capsys, "init-task", "--features", "N")
    assert_user_error(code, err, "init-task needs --csv FILE")
    code, _, err = run(capsys, *csv_args(runs_csv, "--group", "N"))
    assert_user_error(code, err, "must be distinct columns")
    code, _, err = run(
        capsys, "discover", "--csv", str(runs_csv), "--features", "N,", "--target", "x"
    )
    assert_user_error(code, err, "--features: give column names separated by commas")


def test_a_column_named_like_a_law_function_is_refused(capsys, tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text("exp,loss\n1,2\n2,3\n")
    code, _, err = run(
        capsys, "discover", "--csv", str(path), "--features", "exp", "--target", "loss"
    )
    assert_user_error(code, err, "column 'exp' cannot be used")


# ----------------------------------------------------------------- a split on a non-feature column


def write_isoflop(path: Path, seed: int = 0) -> Path:
    """An isoFLOP sweep: 7 compute budgets C x 8 model sizes N, D = C / 6N, loss from N and D."""
    rng = np.random.default_rng(seed)
    lines = ["N,D,C,loss"]
    for C in (1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21):
        for N in np.geomspace(1e7, 1e10, 8):
            D = C / (6 * N)
            loss = 1.7 + 400 * N**-0.34 + 410 * D**-0.28 + rng.normal(0, 0.003)
            lines.append(f"{N:.4g},{D:.4g},{C:.4g},{loss:.5f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_extrapolate_on_a_column_that_is_not_a_feature(capsys, tmp_path: Path):
    """`--features N,D --extrapolate "C>=5e20"`: the largest compute budgets are held out, the
    validation rule rehearses along C inside train, no law sees C, and the run directory is
    enough for --resume, predict and rehearse."""
    csv = write_isoflop(tmp_path / "isoflop.csv")
    task = task_from_csv(csv, "N,D", "loss", extrapolate="C>=5e20")
    assert task.features == ("N", "D") and task.split_columns == ("C",)
    assert task.validation.columns == ("C",) and task.validation.kind == "top_fraction"
    train, test = load_rows(task, "train"), load_rows(task, "test")
    assert (train.frame["C"] < 5e20).all() and (test.frame["C"] >= 5e20).all()
    assert len(test) == 8 and len(train) == 48
    fit, val = split_validation(train)
    assert val.frame["C"].min() > fit.frame["C"].max()  # the rehearsal steps along C too
    loaded = load_task_toml(task, tmp_path)
    assert dataclasses.replace(loaded, path=None) == task
    assert load_train(loaded, None).frame.equals(train.frame)

    run_dir = tmp_path / "run"
    argv = ["discover", "--csv", str(csv), "--features", "N,D", "--target", "loss"]
    argv += ["--extrapolate", "C>=5e20", "--budget", "12", "--jobs", "1", "--quiet", "--json"]
    code, out, err = run(capsys, *argv, "--run-dir", str(run_dir))
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["test_r2"] > 0.9
    assert "C" not in summary["law"]
    assert dataclasses.replace(run_task(run_dir), path=None) == task
    best = (run_dir / "best.json").read_text()
    code, _, err = run(capsys, "discover", "--resume", str(run_dir), "--quiet", "--jobs", "1")
    assert code == 0, err
    assert (run_dir / "best.json").read_text() == best
    code, out, err = run(capsys, "predict", str(run_dir), "--at", "N=1e10,D=1e11", "--json")
    assert code == 0, err
    assert json.loads(out)
    code, out, err = run(capsys, "rehearse", str(run_dir), "--laws", "4", "--json")
    assert code == 0, err
    assert json.loads(out)["task"] == "isoflop"


def load_task_toml(task, folder: Path):
    path = folder / "task.toml"
    path.write_text(task_toml(task))
    return load_task(path)


# ----------------------------------------------------------------- issue 15 findings


@pytest.mark.parametrize("name", ["_N", "Ｎ2", "Né"])
def test_finding09_finding13_csv_columns_a_law_cannot_name_are_refused(capsys, tmp_path, name):
    """'_N' can never appear in a law; Python would fold a fullwidth 'Ｎ2' into 'N2'."""
    path = write_runs(tmp_path / "r.csv")
    path.write_text(path.read_text().replace("model,N,", f"model,{name},", 1))
    code, _, err = run(
        capsys, "init-task", "--csv", str(path), "--features", f"{name},D", "--target", "loss"
    )
    assert_user_error(code, err, str(path), f"column '{name}' cannot be used", "ASCII")


def _scaled_runs(path: Path, factor: float) -> Path:
    """write_runs with the loss multiplied by factor (constant 2.5 when factor is 0)."""
    write_runs(path)
    lines = path.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        cells[3] = "2.5" if factor == 0 else f"{float(cells[3]) * factor:.6g}"
        out.append(",".join(cells))
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.parametrize("factor", [1e160, 1e300, 1e-160])
def test_finding05_a_target_out_of_float_range_is_refused(capsys, tmp_path: Path, factor):
    """Targets near 1e160 used to give law c0 = 0, R² nan and numpy warnings, silently."""
    path = _scaled_runs(tmp_path / "r.csv", factor)
    code, _, err = run(capsys, *csv_args(path, "--budget", "4", "--run-dir", str(tmp_path / "r")))
    assert_user_error(code, err, str(path), "target column 'loss'", "1e-150 and 1e+150", "rescale")
    assert task_from_csv(_scaled_runs(tmp_path / "ok.csv", 1e140), "N,D", "loss", "model")


def test_finding10_a_constant_target_is_refused(capsys, tmp_path: Path):
    """A constant target used to give law c0, validation R² -inf and test R² 1.0."""
    path = _scaled_runs(tmp_path / "r.csv", 0)
    code, _, err = run(capsys, *csv_args(path, "--budget", "4", "--run-dir", str(tmp_path / "r")))
    assert_user_error(code, err, str(path), "target column 'loss' is 2.5 in all 60 training rows")


def test_finding08_a_non_positive_feature_value_is_reported_at_load(capsys, runs_csv: Path):
    """One 0 in N silently dropped every log and power of N (test R² 0.995 became 0.50)."""
    edit_cell(runs_csv, 7, "N", "0")
    edit_cell(runs_csv, 9, "N", "-3")
    code, out, err = run(capsys, "init-task", *csv_args(runs_csv)[1:], "--group", "model")
    assert code == 0, err
    assert err.splitlines() == [
        f"sldagent: warning: {runs_csv}: feature column 'N' has 2 non-positive values (rows 7, "
        "9), so no law will take its log or a power of it; if those rows are mistakes, fix or "
        "remove them"
    ]
    assert "positive = false" in out.split("[columns.N]")[1].split("[columns.D]")[0]
    edit_cell(runs_csv, 7, "N", "1e6")
    edit_cell(runs_csv, 9, "N", "1e7")
    code, _, err = run(capsys, "init-task", *csv_args(runs_csv)[1:], "--group", "model")
    assert code == 0 and err == ""


@pytest.mark.parametrize("cell", ["1e-400", "-2e-330", "1e400"])
def test_finding08_a_number_float64_cannot_hold_is_refused(capsys, runs_csv: Path, cell):
    """1e-400 used to be read as 0 while 1e400 was refused."""
    edit_cell(runs_csv, 4, "D", cell)
    code, _, err = run(capsys, "init-task", *csv_args(runs_csv)[1:])
    assert_user_error(
        code, err, str(runs_csv), f"column 'D' has 1 out-of-float64-range value (rows 4: '{cell}')"
    )


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("config.json", "{ broken", "not valid JSON"),
        ("config.json", "[]", "no 'task' entry"),
        ("best.json", "", "not valid JSON"),
        ("best.json", '{"hello": 1}', "no 'law' entry"),
    ],
)
def test_finding13_a_damaged_run_file_is_named(capsys, tmp_path: Path, name, content, needle):
    """A damaged best.json or config.json used to give json's message without the file."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = {"task": "t", "search": {}, "features": ["N"], "targets": ["loss"]}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "best.json").write_text('{"law": "c0", "params": {}}')
    (run_dir / name).write_text(content)
    code, _, err = run(capsys, "export", str(run_dir), "--format", "json")
    assert_user_error(code, err, str(run_dir / name), "damaged", needle)
