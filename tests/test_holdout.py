"""`sldagent holdout`: a whole search rehearsed inside train, scored on the held-out validation
slice (no test rows), checked against a direct computation with metrics.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_errors import assert_user_error
from test_search import call

from sldagent.fitters import FitRecipe, fit_groups, predict_groups
from sldagent.law import parse_law
from sldagent.metrics import r2
from sldagent.task import Dataset, load_task, load_train, split_validation

TASK = "parallel_scaling_law"


def test_holdout_scores_the_chosen_law_on_the_held_slice(data_root: Path, tmp_path: Path):
    root = tmp_path / "data"
    shutil.copytree(data_root / TASK, root / TASK)
    (root / TASK / "test.csv").write_text("garbage, the search must not open this\n")
    run = tmp_path / "run"
    code, out, err = call(
        "holdout", TASK, "--budget", "12", "--jobs", "1", "--json",
        "--run-dir", str(run), "--data-dir", str(root),
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert res["candidates"] == 12 and res["run_dir"] == str(run)

    task = load_task(TASK)
    rest, held = split_validation(load_train(task, root))
    inner = Dataset(task, rest.frame, rest.path, "train")
    best = json.loads((run / "best.json").read_text())
    law = parse_law(best["law"], task.features, task.targets)
    fits = fit_groups(law, inner.groups(), FitRecipe.from_dict(best["recipe"]))
    assert res["chosen_r2"] == r2(*predict_groups(law, held.groups(), fits))
    # the search never saw the held-out rows
    seen = {round(v, 9) for v in inner.frame["parallel_size"]}
    assert not seen & {round(v, 9) for v in held.frame["parallel_size"]}


def test_holdout_unknown_task_is_a_one_line_error(tmp_path: Path):
    code, out, err = call("holdout", "no_such_task", "--data-dir", str(tmp_path))
    assert_user_error(code, err, "no_such_task")


def test_holdout_runs_are_refused_where_a_discover_run_is_expected(data_root: Path, tmp_path: Path):
    run = tmp_path / "run"
    code, _, err = call(
        "holdout", TASK, "--budget", "4", "--jobs", "1",
        "--run-dir", str(run), "--data-dir", str(data_root),
    )  # fmt: skip
    assert code == 0, err
    for argv in (
        ("export", str(run), "--format", "latex"),
        ("predict", str(run), "--at", "num_params=1e9,parallel_size=8"),
        ("rehearse", str(run)),
    ):
        code, out, err = (
            call(*argv, "--data-dir", str(data_root)) if argv[0] != "export" else call(*argv)
        )
        assert_user_error(code, err, "holdout")


def test_budget_below_one_is_a_one_line_error(data_root: Path, tmp_path: Path):
    code, out, err = call(
        "discover", TASK, "--budget", "0", "--run-dir", str(tmp_path / "r"),
        "--data-dir", str(data_root),
    )  # fmt: skip
    assert_user_error(code, err, "--budget")
    assert not (tmp_path / "r").exists()
