"""Custom tasks from your own runs: one CSV -> a Task, its train/test rows and its TOML.

The rows the extrapolate rule selects (e.g. `N >= 1e9`) are the test rows: sealed, the search
receives only the others. The default validation rule rehearses the same extrapolation inside
the training rows: the top (or, for `<` rules, bottom) fraction along the rule's columns.
Reading checks every cell of the file, so a bad held-out cell is reported before a long search,
but only the training rows are handed to the search.
"""

from __future__ import annotations

import csv
import io
import json
import keyword
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sldagent.extrapolate import Extrapolation, parse_extrapolation
from sldagent.task import (
    _NUMBER,
    FUNCTIONS,
    SINGLE_GROUP,
    ColumnInfo,
    CsvSource,
    DataError,
    Dataset,
    DataWarning,
    Task,
    ValidationRule,
    _canonical,
    check_target_scale,
    check_targets_vary,
    load_task,
    single_group_column,
    split_validation,
    underflows,
    usable_column_name,
)

VALIDATION_FRACTION = 0.2  # share of training rows (per group) the default rule rehearses on
MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})
SHOWN_ROWS = 5  # rows named in an error message


def default_param_budget(n_features: int) -> int:
    """An offset, plus an amplitude and an exponent per feature, plus one spare constant."""
    return 2 + 2 * n_features


def task_from_csv(
    path: str | os.PathLike[str],
    features: Sequence[str] | str,
    targets: Sequence[str] | str,
    group: str | None = None,
    extrapolate: str | None = None,
    param_budget: int | None = None,
    name: str | None = None,
) -> Task:
    """Build (and check) a custom task over one CSV; raises a one-line DataError on bad input."""
    path = Path(path)
    features, targets = column_names(features, "--features"), column_names(targets, "--target")
    check_column_names(features, targets, group, str(path))
    raw = read_raw(path)
    extra = split_columns(extrapolate, raw, features, targets, group)
    frame = numeric_frame(raw, features, targets, group, str(path), extra=extra)
    return task_from_frame(frame, path, features, targets, group, extrapolate, param_budget, name)


def split_columns(
    extrapolate: str | None,
    raw: pd.DataFrame,
    features: Sequence[str],
    targets: Sequence[str],
    group: str | None,
) -> tuple[str, ...]:
    """The columns of `raw` the extrapolate rule compares beyond features and targets: any
    column but the group's may hold the rows out (e.g. compute C for a law in N and D)."""
    if extrapolate is None:
        return ()
    columns = [str(c) for c in raw.columns if c != group]
    rule = parse_extrapolation(extrapolate, columns)
    return tuple(c for c in rule.columns if c not in (*features, *targets))


def task_from_frame(
    frame: pd.DataFrame,
    path: Path,
    features: tuple[str, ...],
    targets: tuple[str, ...],
    group: str | None,
    extrapolate: str | None,
    param_budget: int | None,
    name: str | None = None,
    where: str | None = None,
) -> Task:
    """The custom task over `frame` (numeric_frame's output; `path` holds the same rows as CSV),
    checked: the rule holds out some rows but not all, and each group can fit the budget."""
    where = where or str(path)
    if param_budget is not None and (isinstance(param_budget, bool) or param_budget < 1):
        raise DataError(f"--param-budget {param_budget}: must be an integer >= 1")
    group_column = group or single_group_column(features, targets)
    numeric = [str(c) for c in frame.columns if c != group_column]
    rule = None if extrapolate is None else parse_extrapolation(extrapolate, numeric)
    positive = tuple(c for c in (*features, *targets) if bool(np.all(frame[c] > 0)))
    for column in features:
        if column not in positive:
            _warn_not_positive(frame, column, where)
    description = f"Custom task from {path.name}: {', '.join(targets)} from {', '.join(features)}"
    task = Task(
        name=name or _task_name(path),
        description=description + (f"; test rows: {rule.text}" if rule else "; no test rows"),
        features=features,
        targets=targets,
        group=group_column,
        param_budget=param_budget or default_param_budget(len(features)),
        validation=default_validation(rule, features, grouped=group is not None),
        human=None,
        feature_info={
            c: ColumnInfo(c, positive=c in positive) for c in (group_column, *features, *targets)
        },
        positive=positive,
        path=None,
        source=CsvSource(path.resolve(), rule, grouped=group is not None),
    )
    split_rows(task, frame, where)
    return task


def _warn_not_positive(frame: pd.DataFrame, column: str, where: str) -> None:
    """Say which rows keep a feature from being positive: laws then never take its log or a
    power of it, and may fit far worse (one 0 in N turned test R² 0.995 into 0.50)."""
    at = [label for label, v in frame[column].items() if v <= 0]
    shown = ", ".join(str(label) for label in at[:SHOWN_ROWS]) + (
        ", ..." if len(at) > SHOWN_ROWS else ""
    )
    noun, rows = ("value", "row") if len(at) == 1 else ("values", "rows")
    warnings.warn(
        DataWarning(
            f"{where}: feature column '{column}' has {len(at)} non-positive {noun} ({rows} "
            f"{shown}), so no law will take its log or a power of it; if those rows are "
            "mistakes, fix or remove them"
        ),
        stacklevel=2,
    )


def check_column_names(features, targets, group: str | None, where: str) -> None:
    columns = [*([group] if group else []), *features, *targets]
    if len(set(columns)) != len(columns):
        raise DataError(f"{where}: group, features and targets must be distinct columns")
    for column in columns:
        if not usable_column_name(column):
            raise DataError(
                f"{where}: column '{column}' cannot be used: laws name columns, so each must be "
                "an ASCII name (a letter, then letters, digits or _), not a keyword nor "
                f"{', '.join(sorted(FUNCTIONS))}; rename it"
            )


def default_validation(
    rule: Extrapolation | None, features: tuple[str, ...], grouped: bool
) -> ValidationRule:
    """Rehearse the test split inside train: the far end along the same column(s)."""
    if rule is None:
        kind, columns = "top_fraction", features
    else:
        directions = {c.upward for c in rule.clauses}
        if len(directions) > 1:
            raise DataError(
                f"--extrapolate '{rule.text}' mixes > and < clauses, so no single validation "
                "rule rehearses it; use one direction, or write the task TOML by hand "
                "(sldagent init-task, then edit [validation])"
            )
        kind = "top_fraction" if directions == {True} else "bottom_fraction"
        columns = rule.columns
    return ValidationRule(
        kind=kind, columns=columns, fraction=VALIDATION_FRACTION, per_group=grouped
    )


# ---------------------------------------------------------------- reading and checking rows


def read_raw(path: Path) -> pd.DataFrame:
    """All cells of a CSV as stripped strings, with one-line errors for unusable files."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; give the path of your runs CSV") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror}); check the file") from exc
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        lines = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from exc
    if len(lines) < 2:
        raise DataError(f"{path}: needs a header line and at least one row of runs")
    header = [name.strip() for name in lines[0][1]]
    for i, name in enumerate(header):
        if name in header[:i]:
            raise DataError(f"{path}: header: column '{name}' appears twice; rename one")
    for row_no, (line_no, row) in enumerate(lines[1:], start=1):
        if len(row) != len(header):
            raise DataError(
                f"{path}: row {row_no} (line {line_no}): {len(row)} fields but the header has "
                f"{len(header)}; fix the commas or quoting of that row"
            )
    cells = [[cell.strip() for cell in row] for _, row in lines[1:]]
    frame = pd.DataFrame(cells, columns=header, dtype=object)
    frame.index = pd.RangeIndex(1, len(frame) + 1)  # row numbers as in the messages
    return frame


def numeric_frame(
    raw: pd.DataFrame,
    features: Sequence[str],
    targets: Sequence[str],
    group: str | None,
    where: str,
    rows: str = "rows",
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """The task's columns (and `extra`, the columns only the split reads) as numbers (group as
    names); unknown columns, missing and non-numeric cells are one DataError naming how many
    and the first rows (by raw's index labels)."""
    known = [str(c) for c in raw.columns]
    for column in [*([group] if group else []), *features, *targets, *extra]:
        if column not in known:
            raise DataError(
                f"{where}: unknown column '{column}'; the columns are {', '.join(known)}"
            )
    problems, out = [], {}
    if group:
        names = [_name(v) for v in raw[group]]
        problems += _report(group, raw.index, {"missing": [n is None for n in names]}, rows)
        out[group] = names
    for column in [*features, *targets, *extra]:
        values, masks = _numbers(raw[column])
        problems += _report(column, raw.index, masks, rows, raw[column])
        out[column] = values
    if problems:
        raise DataError(f"{where}: {'; '.join(problems)}; fill them in or remove those rows")
    frame = pd.DataFrame(out, index=raw.index)  # rows keep the labels the messages use
    check_target_scale(frame, targets, where, list(raw.index))
    group_column = group or single_group_column(tuple(features), tuple(targets))
    if not group:
        frame.insert(0, group_column, SINGLE_GROUP)
    frame[group_column] = frame[group_column].astype(object)
    return frame[[group_column, *features, *targets, *extra]]


def _name(value: object) -> str | None:
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    text = text.strip()
    return None if text.lower() in MISSING else text


def _numbers(values: pd.Series) -> tuple[np.ndarray, dict[str, list[bool]]]:
    """float64 values, and masks of missing, non-numeric (or infinite) cells, and of numbers
    float64 cannot hold: 1e400 (overflow) and 1e-400 (underflow, read as 0)."""
    out = np.full(len(values), np.nan)
    missing, bad = [False] * len(values), [False] * len(values)
    outside = [False] * len(values)
    for i, v in enumerate(values.to_numpy(dtype=object)):
        if isinstance(v, str):
            text = v.strip()
            if text.lower() in MISSING:
                missing[i] = True
                continue
            if not _NUMBER.fullmatch(text):
                bad[i] = True
                continue
            v = float(text)
            if math.isinf(v) or underflows(text, v):
                outside[i] = True
                continue
        elif v is None or v is pd.NA or v is pd.NaT:
            missing[i] = True
            continue
        elif isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number):
            bad[i] = True
            continue
        v = float(v)
        if math.isnan(v):
            missing[i] = True
        elif math.isinf(v):
            bad[i] = True
        else:
            out[i] = v
    return out, {"missing": missing, "non-numeric": bad, "out-of-float64-range": outside}


def _report(column, index, masks: dict[str, list[bool]], rows, values=None) -> list[str]:
    """'column X: 2 missing values (rows 4, 9)' and the like; [] when the column is clean."""
    labels = list(index)
    parts = []
    for kind, mask in masks.items():
        at = [i for i, m in enumerate(mask) if m]
        if not at:
            continue
        shown = []
        for i in at[:SHOWN_ROWS]:
            cell = f": {str(values.iloc[i])[:20]!r}" if kind != "missing" else ""
            shown.append(f"{labels[i]}{cell}")
        more = ", ..." if len(at) > SHOWN_ROWS else ""
        noun = "value" if len(at) == 1 else "values"
        parts.append(f"{len(at)} {kind} {noun} ({rows} {', '.join(shown)}{more})")
    return [f"column '{column}' has {' and '.join(parts)}"] if parts else []


# ---------------------------------------------------------------- train / test rows


def split_rows(task: Task, frame: pd.DataFrame, where: str) -> tuple[Dataset, Dataset]:
    """(train, test) Datasets of a custom task's rows, checked: the rule selects some rows but
    not all, every group keeps training rows, enough to fit the parameter budget."""
    source = task.source
    rule = source.extrapolate
    frame = _canonical(task, frame.reset_index(drop=True))  # labels may repeat (a DataFrame's)
    mask = np.zeros(len(frame), dtype=bool) if rule is None else rule.mask(frame)
    if rule is not None and not mask.any():
        ranges = ", ".join(
            f"{c} spans {frame[c].min():g} to {frame[c].max():g}" for c in rule.columns
        )
        raise DataError(
            f"{where}: --extrapolate '{rule.text}' selects no rows ({ranges}); choose a "
            "threshold inside the data so some runs are held out"
        )
    if mask.all():
        raise DataError(
            f"{where}: --extrapolate '{rule.text}' selects all {len(frame)} rows, leaving none "
            "to fit; choose a threshold that keeps the smaller runs for training"
        )
    path = source.csv
    train = check_targets_vary(Dataset(task, frame[~mask].reset_index(drop=True), path, "train"))
    test = Dataset(task, frame[mask].reset_index(drop=True), path, "test")
    _check_groups(train, test, where)
    return train, test


def _check_groups(train: Dataset, test: Dataset, where: str) -> None:
    task = train.task
    counts = train.frame[task.group].value_counts()
    for name in sorted(set(test.frame[task.group])):
        if name not in counts:
            raise DataError(
                f"{where}: group '{name}' has no training rows (all its rows match "
                f"--extrapolate '{task.source.extrapolate.text}'); lower the threshold or drop "
                "the group"
            )
    budget = task.param_budget
    if budget is None:
        return
    advice = "add runs, lower --param-budget, or drop the group"
    for name, n in sorted(counts.items()):
        if n <= budget:
            raise DataError(
                f"{where}: group '{name}' has {n} training rows; a law with up to {budget} "
                f"constants per group (--param-budget) needs more than {budget}; {advice}"
            )
    fit, _ = split_validation(train)
    fit_counts = fit.frame[task.group].value_counts()
    for name, n in sorted(counts.items()):
        left = int(fit_counts.get(name, 0))
        if left < budget:
            raise DataError(
                f"{where}: group '{name}' has {n} training rows but only {left} left to fit "
                f"after the validation slice, fewer than the {budget} constants per group of "
                f"--param-budget; {advice}"
            )


def load_rows(task: Task, split: str) -> Dataset:
    """The train or test rows of a custom task (load_train/load_test call this)."""
    path = task.source.csv
    frame = numeric_frame(
        read_raw(path),
        task.features,
        task.targets,
        task.group if task.source.grouped else None,
        str(path),
        extra=task.split_columns,
    )
    train, test = split_rows(task, frame, str(path))
    if split == "test" and task.source.extrapolate is None:
        raise DataError(
            f"task {task.name}: no extrapolate rule, so no test rows; add "
            "[data] extrapolate to the task file"
        )
    return train if split == "train" else test


# ---------------------------------------------------------------- TOML and run directories


def task_toml(task: Task) -> str:
    """The task as a TOML file that load_task reads back to the same Task."""
    q = _quote
    source = task.source
    lines = [
        "# Custom task written by `sldagent init-task`; schema: sldagent/task.py (docstring).",
        f"name = {q(task.name)}",
        f"description = {q(task.description)}",
    ]
    if source is None or source.grouped:
        lines.append(f"group = {q(task.group)}")
    lines += [
        f"features = [{', '.join(map(q, task.features))}]",
        f"targets = [{', '.join(map(q, task.targets))}]",
    ]
    if task.param_budget is not None:
        lines.append(f"param_budget = {task.param_budget}")
    shown = [*([task.group] if source is None or source.grouped else []), *task.features]
    for column in [*shown, *task.targets]:
        info = task.feature_info[column]
        lines += ["", f"[columns.{column}]"]
        lines += [f"unit = {q(info.unit)}", f"description = {q(info.description)}"]
        if column != task.group:
            lines.append(f"positive = {str(info.positive).lower()}")
    rule = task.validation
    lines += ["", "[validation]", f"kind = {q(rule.kind)}"]
    lines.append(f"column = [{', '.join(map(q, rule.columns))}]")
    if rule.count is not None:
        lines.append(f"count = {rule.count}")
    if rule.fraction is not None:
        lines.append(f"fraction = {rule.fraction!r}")
    lines.append(f"per_group = {str(rule.per_group).lower()}")
    if rule.combine != "union":
        lines.append(f"combine = {q(rule.combine)}")
    if rule.kind == "random":
        lines.append(f"seed = {rule.seed}")
    if source is not None:
        lines += ["", "[data]", f"csv = {q(source.csv.as_posix())}"]
        if source.extrapolate is not None:
            lines.append(f"extrapolate = {q(source.extrapolate.text)}")
    return "\n".join(lines) + "\n"


def write_run_task(task: Task, run_dir: Path) -> None:
    """Make a custom task's run self-describing: run_dir/task.toml (resume and predict use it)."""
    if task.source is None:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "task.toml").write_text(task_toml(task), encoding="utf-8")


def run_config(run_dir: Path) -> dict:
    """A finished discover run's config.json, or a one-line error saying what a run directory is
    (a `holdout` run is refused: its law never saw the validation slice)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ValueError(f"{path} not found: give a run directory made by `sldagent discover`")
    config = read_run_file(path, ("task",))
    if config.get("holdout"):
        raise ValueError(
            f"{run_dir} is a `sldagent holdout` run (fitted without the validation slice): "
            "use a `sldagent discover` run"
        )
    return config


def read_run_file(path: Path, required: tuple[str, ...]) -> dict:
    """A run directory's JSON file (config.json, best.json) holding the `required` keys; a
    damaged one is a one-line error naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise ValueError(f"{path}: damaged, not valid JSON ({why}); start a new run") from None
    missing = [k for k in required if not isinstance(data, dict) or k not in data]
    if missing:
        raise ValueError(f"{path}: damaged, no '{missing[0]}' entry; start a new run")
    return data


def run_task(run_dir: Path, root: Path | None = None) -> Task:
    """The task of a run: its task.toml (custom tasks), else the task it names (the data
    root's task.json task of that name, else the shipped one)."""
    saved = run_config(run_dir)
    own = Path(run_dir) / "task.toml"
    return load_task(own) if own.is_file() else load_task(saved["task"], root)


def _quote(text: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def column_names(values: Sequence[str] | str, flag: str) -> tuple[str, ...]:
    items = [values] if isinstance(values, str) else list(values)
    names = tuple(n.strip() for item in items for n in str(item).split(","))
    if not names or not all(names):
        raise DataError(f"{flag}: give column names separated by commas, e.g. N,D")
    return names


def _task_name(path: Path) -> str:
    """A task name from the file name: an identifier."""
    name = re.sub(r"\W", "_", path.stem) or "custom"
    if not name[0].isalpha():
        name = "task_" + name
    return name + "_" if keyword.iskeyword(name) else name


def task_from_options(
    task: str | None = None,
    csv: str | None = None,
    features: str | None = None,
    target: str | None = None,
    group: str | None = None,
    extrapolate: str | None = None,
    param_budget: int | None = None,
    demo: bool = False,
) -> Task | None:
    """The custom task the command-line flags describe (--csv or --demo), or None for TASK."""
    given = {
        "TASK": task,
        "--csv": csv,
        "--features": features,
        "--target": target,
        "--group": group,
        "--extrapolate": extrapolate,
    }
    if demo:
        extra = [flag for flag, value in given.items() if value is not None]
        if extra:
            raise DataError(f"--demo runs the built-in example; drop {', '.join(extra)}")
        from sldagent.demo import demo_task

        return demo_task(param_budget)
    if csv is None:
        extra = [f for f, v in given.items() if v is not None and f != "TASK"]
        if param_budget is not None:
            extra.append("--param-budget")
        if extra:
            raise DataError(f"{', '.join(extra)} describe a custom task: give --csv FILE too")
        return None
    if task is not None:
        raise DataError(f"give a TASK or --csv, not both (got {task!r} and --csv {csv})")
    if features is None or target is None:
        raise DataError("--csv needs --features (e.g. N,D) and --target (e.g. loss)")
    return task_from_csv(csv, features, target, group, extrapolate, param_budget)
