"""Tasks and their data: load a task TOML, read and check its CSVs, carve the validation slice.

A task file (sldagent/tasks/<name>.toml, or any path) holds:
  name, description, group (column), features [..], targets [..],
  param_budget (int, fitted constants per group; omit the key for "no limit");
  [columns.<column>] unit, description, positive (true: values must be > 0, a law may take
      a log or a power of the column);
  [validation] the rule carving validation rows out of TRAIN rows (a rehearsal of the test
      split's extrapolation): kind = "largest" (count largest distinct values of column; a list
      of columns unites the selections, or with combine = "lexicographic" ranks the value
      tuples), "top_fraction" (column >= its (1 - fraction) quantile) or "random" (a seeded
      fraction of the distinct feature tuples, chosen by hash), "bottom_fraction" (column <= its
      fraction quantile: for tasks extrapolating downward); per_group = true applies the rule
      inside every group;
  [human] formula (law language; one per target as a table target -> formula for several
      targets), citation, published_r2; [human.params] name = {bounds = [lo, hi],
      init = [lo, hi]}; [human.constants.<group>] published constants;
  [data] (a custom task: one CSV of your own runs, see sldagent/custom_task.py) csv = path
      (relative to the TOML's folder), extrapolate = "N >= 1e9" (the held-out test rows; omit
      for none); with [data], group may be omitted (all rows form one group, "all").
The search API (load_train, split_validation) never opens test.csv; load_test is for evaluation.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import keyword
import math
import os
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sldagent.extrapolate import Extrapolation, parse_extrapolation

FUNCTIONS = frozenset({"exp", "log", "sqrt", "abs", "tanh", "min", "max"})
RULE_KINDS = ("largest", "top_fraction", "bottom_fraction", "random")
SINGLE_GROUP = "all"  # the group name of every row when a custom task has no group column
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
DEFAULT_DATA_ROOT = Path("data") / "experiments"
DATA_HINT = "pass --data-dir, set SLDAGENT_DATA, or run `sldagent data pull`"
_COLUMN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # what a law can name: ASCII, no leading _
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def usable_column_name(column: str) -> bool:
    """Whether a law can name the column: an ASCII letter, then ASCII letters, digits or _
    (Python would fold a fullwidth 'Ｎ' into 'N'; '_x' is not a law name), no keyword and no
    law function."""
    return (
        bool(_COLUMN_NAME.fullmatch(column))
        and not keyword.iskeyword(column)
        and (column not in FUNCTIONS)
    )


class DataWarning(UserWarning):
    """Data the search can use, though not as the user may expect; one line saying where, what
    and what to do (the CLI prints it as `sldagent: warning: ...`)."""


class DataError(ValueError):
    """A task file or data file is unusable; the message is one line saying where and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class ColumnInfo:
    """Unit and meaning of one column, for prompts and reports."""

    name: str
    unit: str = ""
    description: str = ""
    positive: bool = False


@dataclass(frozen=True)
class ValidationRule:
    """How validation rows are carved from train rows (see the module docstring)."""

    kind: str
    columns: tuple[str, ...] = ()
    count: int | None = None
    fraction: float | None = None
    per_group: bool = False
    combine: str = "union"
    seed: int = 0


@dataclass(frozen=True)
class HumanLaw:
    """A published law: the baseline the report compares against (never a search seed)."""

    formula: str | dict[str, str]
    params: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    init: dict[str, tuple[float, float]]
    constants: dict[str, dict[str, float]] | None
    citation: str
    published_r2: float | None


@dataclass(frozen=True)
class CsvSource:
    """Where a custom task's rows live: one CSV; the rows the rule selects are the test rows."""

    csv: Path
    extrapolate: Extrapolation | None
    grouped: bool = True  # False: the file has no group column; every row is in group "all"


@dataclass(frozen=True)
class Task:
    """Everything the engine knows about one task; task knowledge enters only through here."""

    name: str
    description: str
    features: tuple[str, ...]
    targets: tuple[str, ...]
    group: str
    param_budget: int | None
    validation: ValidationRule
    human: HumanLaw | None
    feature_info: dict[str, ColumnInfo]
    positive: tuple[str, ...]
    path: Path | None = None
    source: CsvSource | None = None  # a custom task's CSV; None: <data root>/<name>/*.csv

    @property
    def columns(self) -> tuple[str, ...]:
        """CSV columns in task order: group, features, targets."""
        return (self.group, *self.features, *self.targets)

    @property
    def split_columns(self) -> tuple[str, ...]:
        """Columns a custom task's extrapolate rule compares that are neither features nor
        targets (e.g. compute C beside N, D): read to split the rows, never seen by a law."""
        rule = None if self.source is None else self.source.extrapolate
        if rule is None:
            return ()
        return tuple(c for c in rule.columns if c not in self.columns)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows of one split, sorted canonically (group, features, targets) so file order is moot."""

    task: Task
    frame: pd.DataFrame
    path: Path
    split: str = "train"

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def X(self) -> np.ndarray:  # noqa: N802 - the conventional name
        """Features, (n, n_features) float64, columns in task order."""
        return self.frame[list(self.task.features)].to_numpy(dtype=np.float64, copy=True)

    @property
    def y(self) -> np.ndarray:
        """Targets, (n, n_targets) float64."""
        return self.frame[list(self.task.targets)].to_numpy(dtype=np.float64, copy=True)

    @property
    def group_labels(self) -> np.ndarray:
        """Group name of every row (str, object array)."""
        return self.frame[self.task.group].to_numpy(dtype=object, copy=True)

    def groups(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield (group, X, y) per group, groups in sorted order."""
        labels = self.frame[self.task.group].to_numpy(dtype=object)
        X, y = self.X, self.y
        for name in sorted(set(labels)):
            rows = labels == name
            yield name, X[rows], y[rows]


# ---------------------------------------------------------------- task files


def list_tasks(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of a data root's tasks: its folders with a task.json (sldagent/task_json.py) if it
    has any, else the tasks shipped in the package's tasks/ folder; sorted."""
    from sldagent.task_json import task_json_names  # imports this module

    own = task_json_names(root) if root is not None else []
    return own or sorted(p.stem for p in TASKS_DIR.glob("*.toml"))


def load_task(
    name_or_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> Task:
    """Load a task by name (the data root's <name>/task.json if root has one, else a shipped
    task), or any task TOML / task.json by path; checks every key."""
    from sldagent.task_json import TASK_JSON, load_task_json  # imports this module

    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or text.endswith((".toml", ".json")) or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise DataError(f"{path}: task file not found; give a task name or a .toml path")
        if path.suffix == ".json":
            return load_task_json(path)
    elif root is not None and (Path(root) / text / TASK_JSON).is_file():
        return load_task_json(Path(root) / text / TASK_JSON)
    else:
        path = TASKS_DIR / f"{text}.toml"
        if not path.is_file():
            known = ", ".join(list_tasks(root))
            raise DataError(f"unknown task '{text}'; known tasks: {known} (or a .toml path)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: malformed TOML: {exc}; fix the syntax") from exc
    return _TaskReader(path).task(data)


class _TaskReader:
    """Typed access to a parsed TOML with one-line errors naming the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> DataError:
        return DataError(f"{self.path}: key '{key}': {problem}")

    def get(self, table: Mapping[str, Any], key: str, where: str, types: Any, default: Any = ...):
        full = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                raise self.fail(full, "missing; add it (see the schema in sldagent/task.py)")
            return default
        value = table[key]
        if isinstance(value, bool) and bool not in _as_tuple(types):
            raise self.fail(full, f"expected {_type_names(types)}, got a boolean")
        if not isinstance(value, types):
            raise self.fail(full, f"expected {_type_names(types)}, got {type(value).__name__}")
        return value

    def only(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(table) - allowed)
        if extra:
            name = f"{where}.{extra[0]}" if where else extra[0]
            raise self.fail(name, f"unknown key; allowed here: {', '.join(sorted(allowed))}")

    def names(self, table: Mapping[str, Any], key: str, where: str = "") -> tuple[str, ...]:
        value = self.get(table, key, where, (list, str))
        items = [value] if isinstance(value, str) else value
        full = f"{where}.{key}" if where else key
        if not items or not all(isinstance(v, str) for v in items):
            raise self.fail(full, "expected a non-empty list of column names")
        if len(set(items)) != len(items):
            raise self.fail(full, "a name is repeated")
        return tuple(items)

    def task(self, data: Mapping[str, Any]) -> Task:
        keys = {"name", "description", "group", "features", "targets", "param_budget"}
        self.only(data, keys | {"columns", "validation", "human", "data"}, "")
        name = self.get(data, "name", "", str)
        if not name.isidentifier():
            raise self.fail("name", "must be a plain identifier (it names the data folder)")
        features, targets = self.names(data, "features"), self.names(data, "targets")
        grouped = "data" not in data or "group" in data
        group = (
            self.get(data, "group", "", str) if grouped else single_group_column(features, targets)
        )
        columns = (group, *features, *targets)
        if len(set(columns)) != len(columns):
            raise self.fail("features", "group, features and targets must be distinct columns")
        for column in columns:
            if not usable_column_name(column):
                raise self.fail(
                    "features",
                    f"column '{column}' must be an ASCII name a law can use (a letter, then "
                    "letters, digits or _; not a keyword or a law function); rename it",
                )
        budget = self.get(data, "param_budget", "", int, None)
        if budget is not None and budget < 1:
            raise self.fail("param_budget", "must be >= 1; omit the key for no limit")
        info = self.columns(data, features, targets, group)
        source = self.source(data, group, grouped)
        split = () if source is None or source.extrapolate is None else source.extrapolate.columns
        return Task(
            name=name,
            description=self.get(data, "description", "", str).strip(),
            features=features,
            targets=targets,
            group=group,
            param_budget=budget,
            validation=self.rule(self.get(data, "validation", "", dict), features, split),
            human=self.human(data, features, targets, group),
            feature_info=info,
            positive=tuple(c for c in (*features, *targets) if info[c].positive),
            path=self.path,
            source=source,
        )

    def source(self, data, group: str, grouped: bool) -> CsvSource | None:
        if "data" not in data:
            return None
        table = self.get(data, "data", "", dict)
        self.only(table, {"csv", "extrapolate"}, "data")
        csv_path = Path(self.get(table, "csv", "data", str)).expanduser()
        text = self.get(table, "extrapolate", "data", str, None)
        try:
            rule = None if text is None else parse_extrapolation(text, None, "extrapolate")
        except ValueError as exc:
            raise self.fail("data.extrapolate", str(exc)) from None
        path = self.path.parent / csv_path
        if rule is not None:
            columns = [c for c in _csv_header(path) if c != group]
            try:  # any column of the CSV but the group's (names) may hold rows out
                parse_extrapolation(text, columns or None, "extrapolate")
            except ValueError as exc:
                raise self.fail("data.extrapolate", str(exc)) from None
        return CsvSource(path, rule, grouped)

    def columns(self, data, features, targets, group) -> dict[str, ColumnInfo]:
        table = self.get(data, "columns", "", dict, {})
        self.only(table, {group, *features, *targets}, "columns")
        info = {}
        for column in (group, *features, *targets):
            where = f"columns.{column}"
            entry = self.get(table, column, "columns", dict, {} if column == group else ...)
            self.only(entry, {"unit", "description", "positive"}, where)
            positive = self.get(entry, "positive", where, bool, False)
            if positive and column == group:
                raise self.fail(f"{where}.positive", "the group column holds names, not numbers")
            info[column] = ColumnInfo(
                column,
                self.get(entry, "unit", where, str, ""),
                self.get(entry, "description", where, str, ""),
                positive,
            )
        return info

    def rule(
        self, table: Mapping[str, Any], features: tuple[str, ...], split: tuple[str, ...] = ()
    ) -> ValidationRule:
        """The [validation] rule; its columns are features, or columns [data] extrapolate
        splits on (the rule rehearses the same split inside train)."""
        w = "validation"
        self.only(table, {"kind", "column", "count", "fraction", "per_group", "combine", "seed"}, w)
        kind = self.get(table, "kind", w, str)
        if kind not in RULE_KINDS:
            raise self.fail(f"{w}.kind", f"'{kind}' is not one of {', '.join(RULE_KINDS)}")
        if kind == "random":
            columns = self.names(table, "column", w) if "column" in table else features
        else:
            columns = self.names(table, "column", w)
        for column in columns:
            if column not in features and column not in split:
                raise self.fail(
                    f"{w}.column", f"'{column}' is not a feature (or [data] extrapolate column)"
                )
        count = self.get(table, "count", w, int, None)
        fraction = self.get(table, "fraction", w, (int, float), None)
        combine = self.get(table, "combine", w, str, "union")
        if kind == "largest" and (count is None or count < 1 or fraction is not None):
            raise self.fail(f"{w}.count", "kind 'largest' needs count >= 1 (and no fraction)")
        if kind != "largest" and count is not None:
            raise self.fail(f"{w}.count", f"kind '{kind}' takes a fraction, not a count")
        if kind != "largest" and not (fraction is not None and 0 < fraction < 1):
            raise self.fail(f"{w}.fraction", f"kind '{kind}' needs 0 < fraction < 1")
        if combine not in ("union", "lexicographic") or (
            combine == "lexicographic" and kind != "largest"
        ):
            raise self.fail(f"{w}.combine", "use 'union', or 'lexicographic' with kind 'largest'")
        if "seed" in table and kind != "random":
            raise self.fail(f"{w}.seed", "only kind 'random' takes a seed")
        return ValidationRule(
            kind=kind,
            columns=columns,
            count=count,
            fraction=None if fraction is None else float(fraction),
            per_group=self.get(table, "per_group", w, bool, False),
            combine=combine,
            seed=self.get(table, "seed", w, int, 0),
        )

    def human(self, data, features, targets, group) -> HumanLaw | None:
        if "human" not in data:
            return None
        table = self.get(data, "human", "", dict)
        self.only(table, {"formula", "citation", "published_r2", "params", "constants"}, "human")
        formula = self.get(table, "formula", "human", (str, dict))
        if isinstance(formula, dict):
            texts_ok = all(isinstance(f, str) for f in formula.values())
            if set(formula) != set(targets) or not texts_ok:
                raise self.fail("human.formula", f"give one formula string per target: {targets}")
            formula = {t: formula[t] for t in targets}
        elif len(targets) > 1:
            raise self.fail("human.formula", "several targets: use a table target -> formula")
        params, bounds, init = self.params(self.get(table, "params", "human", dict), features)
        texts = formula.values() if isinstance(formula, dict) else [formula]
        used = set().union(*(self.formula_names(t, features, params) for t in texts))
        unused = [p for p in params if p not in used]
        if unused:
            raise self.fail(f"human.params.{unused[0]}", "declared but not used by the formula")
        constants = self.get(table, "constants", "human", dict, None)
        if constants is not None:
            constants = {g: self.constants(g, c, params) for g, c in constants.items()}
        r2 = self.get(table, "published_r2", "human", (int, float), None)
        return HumanLaw(
            formula=formula,
            params=params,
            bounds=bounds,
            init=init,
            constants=constants,
            citation=self.get(table, "citation", "human", str),
            published_r2=None if r2 is None else float(r2),
        )

    def params(self, table, features):
        bounds, init = {}, {}
        for name, entry in table.items():
            where = f"human.params.{name}"
            if not name.isidentifier() or keyword.iskeyword(name) or name in FUNCTIONS:
                raise self.fail(where, "a parameter name must be a plain, non-keyword identifier")
            if name in features:
                raise self.fail(where, "a parameter cannot share a feature's name")
            if not isinstance(entry, dict):
                raise self.fail(where, "expected {bounds = [lo, hi], init = [lo, hi]}")
            self.only(entry, {"bounds", "init"}, where)
            lo, hi = self.pair(entry, "bounds", where, finite=False)
            ilo, ihi = self.pair(entry, "init", where, finite=True)
            if not (lo < hi and lo <= ilo <= ihi <= hi):
                raise self.fail(where, "need bounds lo < hi and lo <= init lo <= init hi <= hi")
            bounds[name], init[name] = (lo, hi), (ilo, ihi)
        if not bounds:
            raise self.fail("human.params", "declare at least one parameter")
        return tuple(bounds), bounds, init

    def pair(self, entry, key, where, finite: bool) -> tuple[float, float]:
        value = self.get(entry, key, where, list)
        ok = len(value) == 2 and all(_is_number(v) for v in value)
        if not ok or (finite and not all(math.isfinite(v) for v in value)):
            kind = "finite numbers" if finite else "numbers"
            raise self.fail(f"{where}.{key}", f"expected [lo, hi], two {kind}")
        return float(value[0]), float(value[1])

    def formula_names(self, text: str, features, params) -> set[str]:
        from sldagent.law import LawError, check_text  # law.py pulls in sympy

        try:
            tree = ast.parse(check_text(text, "human.formula").strip(), mode="eval")
        except LawError as exc:
            raise self.fail("human.formula", str(exc)) from None
        except SyntaxError as exc:
            raise self.fail("human.formula", f"not a valid expression ({exc.msg})") from exc
        except (RecursionError, MemoryError, ValueError) as exc:
            raise self.fail("human.formula", f"cannot be parsed ({type(exc).__name__})") from None
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
                    raise self.fail("human.formula", f"only functions {sorted(FUNCTIONS)}")
            elif isinstance(node, ast.Name) and node.id not in FUNCTIONS:
                if node.id not in features and node.id not in params:
                    raise self.fail("human.formula", f"unknown name '{node.id}'; declare it")
                names.add(node.id)
        return names

    def constants(self, group: str, table: Any, params) -> dict[str, float]:
        where = f"human.constants.{group}"
        if not isinstance(table, dict) or set(table) != set(params):
            raise self.fail(where, f"give a value for each parameter: {', '.join(params)}")
        if not all(_is_number(v) and math.isfinite(v) for v in table.values()):
            raise self.fail(where, "values must be finite numbers")
        return {p: float(table[p]) for p in params}


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV's header line ([] if it cannot be read: reading the rows
    reports that, naming the file)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return [name.strip() for name in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def single_group_column(features: tuple[str, ...], targets: tuple[str, ...]) -> str:
    """Name of the constant group column of a custom task without groups."""
    name = "group"
    while name in features or name in targets:
        name += "_"
    return name


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_tuple(types: Any) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: Any) -> str:
    names = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true/false"}
    names |= {"list": "a list", "dict": "a table"}
    return " or ".join(names.get(t.__name__, t.__name__) for t in _as_tuple(types))


# ---------------------------------------------------------------- data files


def resolve_data_root(cli: str | os.PathLike[str] | None = None) -> Path:
    """Data root: --data-dir, else $SLDAGENT_DATA, else data/experiments; made absolute here,
    where it is read, so a relative root means the same folder to child processes in any cwd."""
    env = os.environ.get("SLDAGENT_DATA", "").strip()
    if cli is not None and os.fspath(cli):
        root = Path(cli)
    else:
        root = Path(env) if env else DEFAULT_DATA_ROOT
    return Path(os.path.abspath(root.expanduser()))


def load_train(task: Task | str, root: str | os.PathLike[str]) -> Dataset:
    """The training rows: all the search may see. Never opens test.csv."""
    task = task if isinstance(task, Task) else load_task(task)
    if task.source is not None:
        from sldagent.custom_task import load_rows  # imports this module

        return load_rows(task, "train")
    path = Path(root) / task.name / "train.csv"
    return check_targets_vary(Dataset(task, read_table(task, path), path, "train"))


def check_targets_vary(train: Dataset) -> Dataset:
    """The training rows, if every target varies over them: a constant target leaves nothing to
    fit (the law was `c0`, validation R² -inf). A target constant inside one group is allowed:
    scores are in units of the target's variance over all training rows."""
    for target in train.task.targets:
        values = train.frame[target].to_numpy(dtype=float)
        if len(values) and values.min() == values.max():
            raise DataError(
                f"{train.path}: target column '{target}' is {values[0]:g} in all {len(values)} "
                "training rows, so there is nothing to fit; choose a target that varies"
            )
    return train


def check_target_scale(frame: pd.DataFrame, targets, where: str, rows: Sequence) -> None:
    """Refuse a target whose largest magnitude is outside [1/TARGET_LIMIT, TARGET_LIMIT]:
    its squared errors overflow (or underflow) float64 and every fit silently fails. Rescaling
    inside would change the meaning of the law's constants, so the user rescales, knowingly."""
    from sldagent.metrics import TARGET_LIMIT

    for target in targets:
        values = frame[target].to_numpy(dtype=float)
        size = np.abs(values)
        top = float(size.max()) if len(size) else 0.0
        if top > TARGET_LIMIT or 0 < top < 1 / TARGET_LIMIT:
            at = int(size.argmax())
            raise DataError(
                f"{where}: target column '{target}' reaches {values[at]:g} (row {rows[at]}); "
                f"a target's largest magnitude must lie between {1 / TARGET_LIMIT:g} and "
                f"{TARGET_LIMIT:g} for its squared errors to stay finite: rescale the column "
                "(e.g. divide it by a power of 10) and read the law in those units"
            )


def load_test(task: Task | str, root: str | os.PathLike[str]) -> Dataset:
    """The sealed test rows, for evaluation and reports only; every test group needs train rows."""
    task = task if isinstance(task, Task) else load_task(task)
    if task.source is not None:
        from sldagent.custom_task import load_rows  # imports this module

        return load_rows(task, "test")
    path = Path(root) / task.name / "test.csv"
    frame = _read_rows(task, path)
    known = set(load_train(task, root).frame[task.group])
    for row, name in enumerate(frame[task.group], start=1):
        if name not in known:
            raise DataError(
                f"{path}: row {row}, column '{task.group}': group '{name}' has no rows in "
                f"train.csv; add its training rows or drop the group from test.csv"
            )
    return Dataset(task, _canonical(task, frame), path, "test")


def read_table(task: Task, path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check one CSV of a task; returns its rows sorted canonically."""
    return _canonical(task, _read_rows(task, Path(path)))


def _canonical(task: Task, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by (group, features, targets): nothing downstream depends on file order."""
    order = frame.sort_values([*task.columns, *task.split_columns], kind="mergesort").index
    return frame.loc[order].reset_index(drop=True)


def _read_rows(task: Task, path: Path) -> pd.DataFrame:
    """Read and check one CSV, rows in file order; every failure is a one-line DataError."""
    if not path.is_file():
        raise DataError(
            f"{path}: file not found; expected <data root>/{task.name}/{path.name}; {DATA_HINT}"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror}); check the file") from exc
    header_hint = f"expected the header '{','.join(task.columns)}' and data rows"
    if not text.strip():
        raise DataError(f"{path}: empty file; {header_hint}")
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        lines = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise DataError(
            f"{path}: line {reader.line_num}: malformed CSV ({exc}); fix the quoting"
        ) from exc
    header = [name.strip() for name in lines[0][1]]
    _check_header(task, path, header)
    if len(lines) == 1:
        raise DataError(f"{path}: no data rows, only a header; add rows or pull the data again")
    values: dict[str, list] = {name: [] for name in header}
    for row_no, (line_no, row) in enumerate(lines[1:], start=1):
        where = f"{path}: row {row_no} (line {line_no})"
        if len(row) != len(header):
            raise DataError(
                f"{where}: {len(row)} fields but the header has {len(header)}; "
                f"fix the commas or quoting of that row"
            )
        for name, cell in zip(header, row, strict=True):
            values[name].append(_cell(task, name, cell, f"{where}, column '{name}'"))
    frame = pd.DataFrame({c: values[c] for c in task.columns})
    frame[task.group] = frame[task.group].astype(object)
    numeric = [*task.features, *task.targets]
    frame[numeric] = frame[numeric].astype(np.float64)
    check_target_scale(frame, task.targets, str(path), range(1, len(frame) + 1))
    return frame


def _check_header(task: Task, path: Path, header: list[str]) -> None:
    expected = ",".join(task.columns)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: header: column '{name}' appears twice; expected {expected}")
        seen.add(name)
    for name in task.columns:
        if name not in seen:
            raise DataError(
                f"{path}: header: missing column '{name}'; expected {expected} "
                f"(task file {task.path})"
            )
    for name in header:
        if name not in task.columns:
            raise DataError(
                f"{path}: header: unexpected column '{name}'; expected exactly {expected}; "
                f"remove it or declare it in the task file {task.path}"
            )


def underflows(text: str, value: float) -> bool:
    """A nonzero number written in text that float64 reads as 0 or as a subnormal (below
    2.2e-308, where digits are lost): 1e-400 would silently become 0."""
    if value != 0 and abs(value) >= sys.float_info.min:
        return False
    mantissa = re.split(r"[eE]", text, maxsplit=1)[0]
    return any(c in "123456789" for c in mantissa)


def _cell(task: Task, column: str, cell: str, where: str) -> str | float:
    if column == task.group:
        if not cell.strip():
            raise DataError(f"{where}: empty group name; give every row its group")
        return cell.strip()
    text = cell.strip()
    if not text:
        raise DataError(f"{where}: empty cell; fill in the value or remove the row")
    if text.lower() in _NOT_FINITE:
        raise DataError(f"{where}: '{text}' is not a finite number; fix or remove the row")
    if not _NUMBER.fullmatch(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise DataError(f"{where}: non-numeric value '{shown}'; expected a number")
    value = float(text)
    if not math.isfinite(value):
        raise DataError(f"{where}: '{text}' overflows a float64; fix or remove the row")
    if underflows(text, value):
        raise DataError(
            f"{where}: '{text}' underflows a float64 (it would be read as {value:g}); "
            "fix or remove the row, or rescale the column"
        )
    if value <= 0 and column in task.positive:
        raise DataError(
            f"{where}: value {text} must be > 0 (declared positive: a law may take its log "
            f"or a power); fix or remove the row"
        )
    return value


# ---------------------------------------------------------------- validation split


def split_validation(train: Dataset) -> tuple[Dataset, Dataset]:
    """Split train rows into (fit rows, validation rows) by the task's validation rule."""
    task = train.task
    if train.split != "train":
        raise DataError(f"{train.path}: validation rows come from train rows, not {train.split}")
    frame = train.frame
    labels = frame[task.group].to_numpy(dtype=object)
    mask = np.zeros(len(frame), dtype=bool)
    if task.validation.per_group:
        for name in sorted(set(labels)):
            rows = labels == name
            mask[rows] = _rule_mask(task.validation, frame[rows])
    else:
        mask = _rule_mask(task.validation, frame)
    rule_at = f"{task.path or task.name}: [validation]"
    if not mask.any():
        raise DataError(f"{rule_at} selects no rows of {train.path}; loosen the rule")
    for name in sorted(set(labels)):
        if mask[labels == name].all():
            raise DataError(
                f"{rule_at} leaves group '{name}' of {train.path} without fit rows; "
                f"use per_group = true or a smaller count/fraction"
            )
    fit = Dataset(task, frame[~mask].reset_index(drop=True), train.path, "fit")
    val = Dataset(task, frame[mask].reset_index(drop=True), train.path, "validation")
    return fit, val


def _rule_mask(rule: ValidationRule, frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows the rule selects; independent of row order."""
    cols = [frame[c].to_numpy(dtype=np.float64) for c in rule.columns]
    if rule.kind == "random":
        return _random_mask(rule, np.column_stack(cols))
    if rule.kind == "largest" and rule.combine == "lexicographic":
        keys = list(zip(*cols, strict=True))
        top = set(sorted(set(keys))[-rule.count :])
        return np.array([k in top for k in keys], dtype=bool)
    mask = np.zeros(len(frame), dtype=bool)
    for values in cols:
        if rule.kind == "largest":
            mask |= np.isin(values, np.unique(values)[-rule.count :])
        elif rule.kind == "bottom_fraction":
            mask |= values <= np.quantile(values, rule.fraction)
        else:
            mask |= values >= np.quantile(values, 1.0 - rule.fraction)
    return mask


def _random_mask(rule: ValidationRule, points: np.ndarray) -> np.ndarray:
    """Select a seeded fraction of the distinct points, ranked by a hash of their values."""
    keys = [tuple(row) for row in (points + 0.0)]  # + 0.0 folds -0.0 into 0.0
    distinct = sorted(set(keys))
    n_pick = max(1, math.floor(rule.fraction * len(distinct) + 0.5))

    def rank(key: tuple[float, ...]) -> str:
        blob = str(rule.seed).encode() + np.asarray(key, dtype="<f8").tobytes()
        return hashlib.sha256(blob).hexdigest()

    picked = set(sorted(distinct, key=rank)[:n_pick])
    return np.array([k in picked for k in keys], dtype=bool)
