"""Check a data root (every task's files) and fetch the official SLDBench dataset into one."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sldagent.task import (
    DATA_HINT,
    DataError,
    Task,
    list_tasks,
    load_task,
    load_test,
    load_train,
    read_table,
    split_validation,
)

HUB_REPO = "pkuHaowei/sldbench"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class TaskDataCheck:
    """What check_data_root found for one task: row/group counts, or the first error."""

    task: str
    train_rows: int = 0
    test_rows: int = 0
    train_groups: int = 0
    test_groups: int = 0
    fit_rows: int = 0
    validation_rows: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def groups(self) -> int:
        """Number of groups (in train; every test group must be one of them)."""
        return self.train_groups


def check_data_root(
    root: str | os.PathLike[str],
    tasks: Sequence[str | Task] | None = None,
    strict: bool = False,
) -> list[TaskDataCheck]:
    """Check every task's train/test files under root (all shipped tasks by default).

    strict=False collects one error per task; strict=True raises the first DataError.
    """
    root = Path(root)
    missing = None if root.is_dir() else f"{root}: data root not found; {DATA_HINT}"
    if missing and strict:
        raise DataError(missing)
    checks = []
    for task in _tasks(tasks, root):
        try:
            if missing:
                raise DataError(missing)
            train = load_train(task, root)
            fit, val = split_validation(train)
            test = load_test(task, root)
        except DataError as exc:
            if strict:
                raise
            checks.append(TaskDataCheck(task.name, error=str(exc)))
            continue
        checks.append(
            TaskDataCheck(
                task=task.name,
                train_rows=len(train),
                test_rows=len(test),
                train_groups=train.frame[task.group].nunique(),
                test_groups=test.frame[task.group].nunique(),
                fit_rows=len(fit),
                validation_rows=len(val),
            )
        )
    return checks


def pull_dataset(
    to: str | os.PathLike[str],
    tasks: Sequence[str | Task] | None = None,
    load_dataset: Callable[..., Any] | None = None,
    repo: str = HUB_REPO,
) -> list[Path]:
    """Download SLDBench from the Hugging Face Hub into <to>/<task>/{train,test}.csv."""
    if load_dataset is None:
        load_dataset = _hub_loader()
    written = []
    for task in _tasks(tasks):
        for split in SPLITS:
            where = f"{repo} (config {task.name}, split {split})"
            try:
                rows = load_dataset(repo, name=task.name, split=split)
            except Exception as exc:  # any hub/network failure becomes one line
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                raise DataError(
                    f"could not download {where}: {type(exc).__name__}: {first}; "
                    f"check the network, or use local files with --data-dir"
                ) from exc
            written.append(_write_split(task, split, _to_frame(rows, where), Path(to), where))
    return written


def _tasks(tasks: Sequence[str | Task] | None, root: Path | None = None) -> list[Task]:
    """The named tasks (default: the data root's tasks, see task.list_tasks)."""
    names: Iterable[str | Task] = list_tasks(root) if tasks is None else tasks
    return [t if isinstance(t, Task) else load_task(t, root) for t in names]


def _hub_loader() -> Callable[..., Any]:
    try:
        import datasets
    except ImportError as exc:
        raise DataError(
            "pulling SLDBench needs the 'datasets' package: pip install 'sldagent[datasets]'"
        ) from exc
    return datasets.load_dataset


def _to_frame(rows: Any, where: str) -> pd.DataFrame:
    """A pandas frame from what load_dataset returned (a Dataset, a frame, dicts, columns)."""
    if isinstance(rows, pd.DataFrame):
        frame = rows
    elif hasattr(rows, "to_pandas"):
        frame = rows.to_pandas()
    elif isinstance(rows, Mapping):
        frame = pd.DataFrame(dict(rows))
    else:
        try:
            frame = pd.DataFrame(list(rows))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: unexpected data ({type(rows).__name__})") from exc
    if frame.empty:
        raise DataError(f"{where}: no rows; the hub dataset is empty or changed")
    return frame


def _write_split(task: Task, split: str, frame: pd.DataFrame, to: Path, where: str) -> Path:
    """Write one split in task column order, check it like a local file, then move it in place."""
    missing = [c for c in task.columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column '{missing[0]}'; the hub data does not match task "
            f"file {task.path}"
        )
    frame = frame[list(task.columns)].copy()
    frame[task.group] = frame[task.group].astype(str)
    dest = to / task.name / f"{split}.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f"{split}.csv.partial")
    frame.to_csv(partial, index=False)
    try:
        read_table(task, partial)
    except DataError as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"downloaded {where} is invalid: {exc}") from exc
    os.replace(partial, dest)
    return dest
