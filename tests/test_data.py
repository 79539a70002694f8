"""Tests of sldagent.data: checking a data root, pulling SLDBench from a fake hub (no network)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from sldagent.data import HUB_REPO, TaskDataCheck, check_data_root, pull_dataset
from sldagent.task import DataError, list_tasks, load_task, load_test, load_train

GROUPS = {
    "parallel_scaling_law": 2,
    "vocab_scaling_law": 1,
    "sft_scaling_law": 42,
    "domain_mixture_scaling_law": 4,
    "moe_scaling_law": 1,
    "data_constrained_scaling_law": 1,
    "lr_bsz_scaling_law": 1,
    "easy_question_scaling_law": 9,
}


def _message(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


class FakeHub:
    """Stands in for datasets.load_dataset: serves frames per (config, split), records calls."""

    def __init__(self, tables: dict[tuple[str, str], object], wrap=lambda frame: frame):
        self.tables, self.wrap, self.calls = tables, wrap, []

    def __call__(self, repo: str, name: str, split: str):
        self.calls.append((repo, name, split))
        return self.wrap(self.tables[(name, split)])


class PandasBacked:
    """Mimics a datasets.Dataset: only to_pandas()."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def to_pandas(self) -> pd.DataFrame:
        return self.frame.copy()


def _tiny_tables(tiny_root: Path) -> dict[tuple[str, str], pd.DataFrame]:
    tables = {}
    for split in ("train", "test"):
        frame = pd.read_csv(tiny_root / "tiny_task" / f"{split}.csv", dtype={"group": str})
        frame["noise"] = 1.0  # an extra hub column, dropped on write
        tables[("tiny_task", split)] = frame[["loss", "noise", "mix", "group", "size"]]
    return tables


# ---------------------------------------------------------------- check_data_root


def test_check_real_data_root(data_root):
    checks = check_data_root(data_root)
    assert [c.task for c in checks] == list_tasks()
    for check in checks:
        assert check.ok, check.error
        assert check.train_groups == GROUPS[check.task] == check.test_groups
        assert check.fit_rows + check.validation_rows == check.train_rows
        assert check.validation_rows > 0 and check.test_rows > 0
    assert sum(c.test_rows for c in checks) == 491


def test_check_tiny_root(tiny_toml, tiny_root):
    (check,) = check_data_root(tiny_root, [load_task(tiny_toml)])
    assert check == TaskDataCheck("tiny_task", 7, 2, 2, 2, 4, 3)
    assert check.ok and check.groups == 2


def test_check_collects_errors_per_task(tiny_toml, tiny_root):
    (tiny_root / "tiny_task" / "test.csv").write_text("group,size,mix,loss\nb,1,0,x\n")
    (check,) = check_data_root(tiny_root, [load_task(tiny_toml)])
    assert not check.ok and "test.csv" in check.error and "column 'loss'" in check.error
    (missing,) = check_data_root(tiny_root, ["parallel_scaling_law"])
    assert "file not found" in missing.error and "sldagent data pull" in missing.error


def test_check_missing_root(tmp_path):
    with pytest.raises(DataError) as info:
        check_data_root(tmp_path / "nowhere", strict=True)
    assert "data root not found" in _message(info) and "--data-dir" in _message(info)
    checks = check_data_root(tmp_path / "nowhere")
    assert len(checks) == 8 and all("data root not found" in c.error for c in checks)


def test_check_strict_raises_first_error(tiny_toml, tiny_root):
    (tiny_root / "tiny_task" / "train.csv").write_text("group,size,mix,loss\nb,0,0,1\n")
    with pytest.raises(DataError) as info:
        check_data_root(tiny_root, [load_task(tiny_toml)], strict=True)
    assert "must be > 0" in _message(info)


# ---------------------------------------------------------------- pull_dataset


@pytest.mark.parametrize(
    "wrap",
    [
        lambda frame: frame.to_dict("records"),  # a list of dicts
        PandasBacked,  # a datasets.Dataset-like object
        lambda frame: {c: frame[c].tolist() for c in frame.columns},  # columns
    ],
    ids=["records", "to_pandas", "columns"],
)
def test_pull_writes_local_layout(wrap, tiny_toml, tiny_root, tmp_path):
    task = load_task(tiny_toml)
    hub = FakeHub(_tiny_tables(tiny_root), wrap)
    out = tmp_path / "pulled"
    written = pull_dataset(out, [task], load_dataset=hub)
    assert written == [out / "tiny_task" / "train.csv", out / "tiny_task" / "test.csv"]
    assert hub.calls == [(HUB_REPO, "tiny_task", "train"), (HUB_REPO, "tiny_task", "test")]
    assert written[0].read_text().splitlines()[0] == "group,size,mix,loss"
    for load in (load_train, load_test):
        pd.testing.assert_frame_equal(load(task, out).frame, load(task, tiny_root).frame)
    assert not list(out.rglob("*.partial"))


def test_pull_round_trips_real_data_exactly(data_root, tmp_path):
    task = load_task("sft_scaling_law")
    tables = {
        (task.name, "train"): load_train(task, data_root).frame.sample(frac=1.0, random_state=0),
        (task.name, "test"): load_test(task, data_root).frame,
    }
    pull_dataset(tmp_path, [task.name], load_dataset=FakeHub(tables, PandasBacked))
    for load in (load_train, load_test):
        pd.testing.assert_frame_equal(load(task, tmp_path).frame, load(task, data_root).frame)


def test_pull_without_datasets_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(DataError) as info:
        pull_dataset(tmp_path, ["parallel_scaling_law"])
    assert "pip install 'sldagent[datasets]'" in _message(info)


def test_pull_network_failure_is_one_line(tiny_toml, tmp_path):
    def offline(repo, name, split):
        raise ConnectionError("Max retries exceeded\nwith url: https://huggingface.co/...")

    with pytest.raises(DataError) as info:
        pull_dataset(tmp_path, [load_task(tiny_toml)], load_dataset=offline)
    message = _message(info)
    assert "could not download" in message and HUB_REPO in message
    assert "config tiny_task, split train" in message and "ConnectionError" in message
    assert not (tmp_path / "tiny_task" / "train.csv").exists()


def test_pull_hub_missing_column(tiny_toml, tiny_root, tmp_path):
    tables = _tiny_tables(tiny_root)
    tables[("tiny_task", "train")] = tables[("tiny_task", "train")].drop(columns="mix")
    with pytest.raises(DataError) as info:
        pull_dataset(tmp_path, [load_task(tiny_toml)], load_dataset=FakeHub(tables))
    assert "missing column 'mix'" in _message(info)


def test_pull_invalid_hub_data_leaves_nothing(tiny_toml, tiny_root, tmp_path):
    tables = _tiny_tables(tiny_root)
    bad = tables[("tiny_task", "train")].copy()
    bad.loc[0, "size"] = float("nan")
    tables[("tiny_task", "train")] = bad
    with pytest.raises(DataError) as info:
        pull_dataset(tmp_path, [load_task(tiny_toml)], load_dataset=FakeHub(tables))
    assert "is invalid" in _message(info) and "column 'size'" in _message(info)
    assert not list((tmp_path / "tiny_task").iterdir())


def test_pull_empty_hub_split(tiny_toml, tmp_path):
    hub = FakeHub({("tiny_task", "train"): []})
    with pytest.raises(DataError) as info:
        pull_dataset(tmp_path, [load_task(tiny_toml)], load_dataset=hub)
    assert "no rows" in _message(info)
