"""Tests of sldagent.task_json: a task.json folder -> a Task (validation rule of the split's kind,
budget, units, positivity from train), listing and loading through a data root, one-line errors
for malformed files, and the paper baselines (parsed by the whitelist, never seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_errors import assert_user_error
from conftest import run_cli
from json_tasks import task_json, write_task

from sldagent.custom_task import VALIDATION_FRACTION, default_param_budget
from sldagent.task import DataError, list_tasks, load_task, load_train, split_validation
from sldagent.task_json import load_task_json, paper_baselines


def test_task_from_json_global_split(tmp_path):
    folder = write_task(tmp_path)
    task = load_task("toy_power", tmp_path)
    assert task.path == folder / "task.json"
    assert task.features == ("N", "x") and task.targets == ("loss",) and task.group == "group"
    assert task.param_budget == 4
    rule = task.validation
    assert (rule.kind, rule.columns, rule.per_group) == ("top_fraction", ("N",), False)
    assert rule.fraction == VALIDATION_FRACTION
    assert task.positive == ("N", "loss")  # x is signed in train
    assert task.feature_info["N"].unit == "parameters" and task.feature_info["x"].unit == ""
    assert task.human is None  # paper baselines are never search seeds
    assert "Synthetic losses" in task.description and "N >= 40" in task.description
    assert "E + A" not in task.description  # the baselines section stays out of prompts
    fit, val = split_validation(load_train(task, tmp_path))
    assert val.frame["N"].min() > fit.frame["N"].max()  # one global top slice along N


def test_per_group_split_and_default_budget(tmp_path):
    write_task(tmp_path, per_group=True, budget=None)
    task = load_task("toy_power", tmp_path)
    assert task.validation.per_group is True
    assert task.param_budget == default_param_budget(2)
    fit, val = split_validation(load_train(task, tmp_path))
    for g in ("a", "b"):
        f, v = fit.frame[fit.frame.group == g], val.frame[val.frame.group == g]
        assert len(v) and v["N"].min() > f["N"].max()  # the top slice of each group


def test_below_direction_is_a_bottom_fraction(tmp_path):
    data = task_json("toy_power")
    data["extrapolate"]["direction"] = "below"
    write_task(tmp_path, data=data)
    assert load_task("toy_power", tmp_path).validation.kind == "bottom_fraction"


def test_data_root_lists_its_task_json_tasks_else_the_shipped_ones(tmp_path):
    write_task(tmp_path, "toy_power")
    write_task(tmp_path, "toy_other")
    assert list_tasks(tmp_path) == ["toy_other", "toy_power"]
    assert "moe_scaling_law" in list_tasks(tmp_path / "nowhere")
    assert load_task("moe_scaling_law", tmp_path).name == "moe_scaling_law"  # shipped fallback
    path = tmp_path / "toy_power" / "task.json"
    assert load_task(str(path)) == load_task("toy_power", tmp_path)
    with pytest.raises(DataError, match="known tasks: toy_other, toy_power"):
        load_task("nope", tmp_path)


def _break(data: dict, field: str, value) -> dict:
    *head, last = field.split(".")
    table = data
    for key in head:
        table = table[key]
    if value is _DROP:
        del table[last]
    else:
        table[last] = value
    return data


_DROP = object()
MALFORMED = [
    ("target", _DROP, "field 'target': missing"),
    ("features", 3, "field 'features': expected list or str"),
    ("features", ["N", "N"], "field 'features': a column name is repeated"),
    ("features", ["N", "log"], "field 'features[1]'"),
    ("group", "x", "field 'group': group, features and target must be distinct"),
    ("name", "other", "field 'name': 'other' differs"),
    ("param_budget", 0, "field 'param_budget': must be an integer >= 1"),
    ("param_budget", "4", "field 'param_budget': expected int"),
    ("extrapolate", _DROP, "field 'extrapolate': missing"),
    ("extrapolate.column", "D", "field 'extrapolate.column': 'D' is not one of the features"),
    ("extrapolate.direction", "up", "field 'extrapolate.direction'"),
    ("extrapolate.per_group", "yes", "field 'extrapolate.per_group': expected bool"),
    ("units", [], "field 'units': expected dict"),
]


@pytest.mark.parametrize(("field", "value", "needle"), MALFORMED)
def test_malformed_task_json_is_one_line_naming_file_and_field(tmp_path, field, value, needle):
    data = _break(task_json("toy_power"), field, value)
    write_task(tmp_path, data=data)
    path = tmp_path / "toy_power" / "task.json"
    with pytest.raises(DataError) as info:
        load_task_json(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert needle in message


def test_broken_json_and_missing_train_csv(tmp_path):
    folder = write_task(tmp_path)
    (folder / "task.json").write_text('{"name": "toy_power",')
    with pytest.raises(DataError, match=r"task.json: malformed JSON"):
        load_task("toy_power", tmp_path)
    write_task(tmp_path)
    (folder / "train.csv").unlink()
    with pytest.raises(DataError, match=r"train.csv: file not found"):
        load_task("toy_power", tmp_path)


def test_paper_baselines_parse_or_say_why_not(tmp_path):
    write_task(tmp_path)
    got = {b.name: b for b in paper_baselines(load_task("toy_power", tmp_path))}
    assert got["power_law_plus_offset"].law is not None
    assert got["power_law_plus_offset"].published_r2 == 0.99
    assert got["fixed_floor"].law is None and "fixed per group" in got["fixed_floor"].note
    assert got["unsafe"].law is None and got["unsafe"].note.startswith("not parsed")
    assert paper_baselines(load_task("moe_scaling_law")) == []


def test_cli_tasks_and_discover_on_a_task_json_root(tmp_path):
    write_task(tmp_path / "data")
    code, out, err = run_cli("tasks", "--data-dir", str(tmp_path / "data"))
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if line.startswith("toy_power")]
    assert row.split()[1:] == ["2", "1", "4", "24", "6", "2"]
    run = tmp_path / "run"
    args = ["discover", "toy_power", "--data-dir", str(tmp_path / "data"), "--budget", "6"]
    code, out, err = run_cli(*args, "--jobs", "1", "--quiet", "--run-dir", str(run), "--json")
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["task"] == "toy_power" and summary["test_r2"] is not None
    assert json.loads((run / "best.json").read_text())["task"] == "toy_power"
    code, out, err = run_cli(
        "discover", "--resume", str(run), "--data-dir", str(tmp_path / "data"), "--quiet"
    )
    assert code == 0, err


def test_cli_malformed_task_json_is_a_user_error(tmp_path):
    data = _break(task_json("toy_power"), "extrapolate.column", "D")
    write_task(tmp_path, data=data)
    code, _, err = run_cli("tasks", "--data-dir", str(tmp_path))
    assert_user_error(code, err, str(Path(tmp_path) / "toy_power" / "task.json"), "extrapolate")
    code, _, err = run_cli("discover", "toy_power", "--data-dir", str(tmp_path), "--budget", "4")
    assert_user_error(code, err, "extrapolate.column")
