"""Tasks described by a `task.json` beside their data (the development corpus's layout).

<root>/<name>/task.json names the features, the target, the group column, the split (in words,
and as `extrapolate`: the column the test rows lie beyond, `per_group` when that holds within
each group), units, a per-group parameter budget (null: the default) and the source paper's
baselines. The validation rule rehearses the split inside train: the top (or bottom) fraction
along the same column, per group when the split is per group. The baselines are never search
seeds: the Task carries no human law; `paper_baselines` parses them for reports only.
"""

from __future__ import annotations

import json
import keyword
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sldagent.custom_task import VALIDATION_FRACTION, default_param_budget
from sldagent.task import FUNCTIONS, ColumnInfo, DataError, Task, ValidationRule, read_table

TASK_JSON = "task.json"
DIRECTIONS = {"above": "top_fraction", "below": "bottom_fraction"}


def task_json_names(root: str | Path) -> list[str]:
    """Names of the task folders under root that hold a task.json, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob(f"*/{TASK_JSON}"))


class _Fields:
    """Typed access to a parsed task.json with one-line errors naming the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, problem: str) -> DataError:
        return DataError(f"{self.path}: field '{field}': {problem}")

    def get(self, table: dict, key: str, where: str, kind: type | tuple, default: Any = ...):
        field = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                raise self.fail(field, "missing; add it (see sldagent/task_json.py)")
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if value is None and type(None) in kinds:
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds if k is not type(None))
            raise self.fail(field, f"expected {names}, got {json.dumps(value)[:40]}")
        return value

    def column(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value):
            raise self.fail(field, f"{json.dumps(value)[:40]} is not a plain identifier")
        if value in FUNCTIONS:
            raise self.fail(field, f"'{value}' is a function name of the law language; rename it")
        return value

    def columns(self, data: dict, key: str) -> tuple[str, ...]:
        value = self.get(data, key, "", (list, str))
        items = [value] if isinstance(value, str) else value
        if not items:
            raise self.fail(key, "give at least one column name")
        names = tuple(self.column(v, f"{key}[{i}]") for i, v in enumerate(items))
        if len(set(names)) != len(names):
            raise self.fail(key, "a column name is repeated")
        return names


def load_task_json(path: str | Path) -> Task:
    """The Task a task.json describes; its data is train.csv / test.csv in the same folder.
    Columns whose training values are all > 0 are declared positive (test rows are not read)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: task file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: malformed JSON ({exc}); fix the syntax") from None
    f = _Fields(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object with the task's fields")
    name = f.get(data, "name", "", str)
    if name != path.parent.name:
        raise f.fail("name", f"'{name}' differs from the task's folder '{path.parent.name}'")
    features, targets = f.columns(data, "features"), f.columns(data, "target")
    group = f.column(f.get(data, "group", "", str), "group")
    if len({group, *features, *targets}) != 1 + len(features) + len(targets):
        raise f.fail("group", "group, features and target must be distinct columns")
    budget = f.get(data, "param_budget", "", (int, type(None)), None)
    if budget is not None and budget < 1:
        raise f.fail("param_budget", f"must be an integer >= 1 or null (got {budget})")
    units = f.get(data, "units", "", dict, {})
    for column, text in units.items():
        if not isinstance(text, str):
            raise f.fail(f"units.{column}", "expected a string")
    validation = _validation(f, data, features)
    f.get(data, "baselines", "", list, [])  # checked here; parsed by paper_baselines
    info = {c: ColumnInfo(c, unit=units.get(c, "")) for c in (group, *features, *targets)}
    task = Task(
        name=name,
        description=_description(path, f.get(data, "split", "", str, "")),
        features=features,
        targets=targets,
        group=group,
        param_budget=budget if budget is not None else default_param_budget(len(features)),
        validation=validation,
        human=None,
        feature_info=info,
        positive=(),
        path=path,
    )
    frame = read_table(task, path.parent / "train.csv")
    positive = tuple(c for c in (*features, *targets) if bool(np.all(frame[c].to_numpy() > 0)))
    info = {c: ColumnInfo(c, i.unit, i.description, c in positive) for c, i in info.items()}
    return replace(task, positive=positive, feature_info=info)


def _validation(f: _Fields, data: dict, features: tuple[str, ...]) -> ValidationRule:
    """The split's own kind of rule inside train: the far end along `extrapolate.column`."""
    rule = f.get(data, "extrapolate", "", dict)
    column = f.get(rule, "column", "extrapolate", str)
    if column not in features:
        raise f.fail("extrapolate.column", f"'{column}' is not one of the features")
    direction = f.get(rule, "direction", "extrapolate", str, "above")
    if direction not in DIRECTIONS:
        raise f.fail("extrapolate.direction", f"'{direction}': expected 'above' or 'below'")
    return ValidationRule(
        kind=DIRECTIONS[direction],
        columns=(column,),
        fraction=VALIDATION_FRACTION,
        per_group=f.get(rule, "per_group", "extrapolate", bool),
    )


def _description(path: Path, split: str) -> str:
    """The first paragraph of description.md (what the data is; not its baselines), and the
    split in words."""
    md = path.parent / "description.md"
    first = ""
    if md.is_file():
        paragraphs = md.read_text(encoding="utf-8").split("\n\n")
        body = [p for p in paragraphs if p.strip() and not p.lstrip().startswith("#")]
        first = " ".join(body[0].split()) if body else ""
    parts = [p for p in (first, f"Split: {split}" if split else "") if p]
    return " ".join(parts) or path.parent.name


@dataclass(frozen=True)
class PaperBaseline:
    """A law from task.json's baselines: its published train-only test R², and its text
    parsed (law) when the whitelist parser accepts it with the declared constant count; else
    law is None and note says why."""

    name: str
    text: str
    params_per_group: int | None
    published_r2: float | None
    law: str | None
    note: str = ""


def paper_baselines(task: Task) -> list[PaperBaseline]:
    """The task.json's baselines (empty for other tasks); for reports, never for the search."""
    from sldagent.law import LawError, parse_law

    if task.path is None or task.path.name != TASK_JSON:
        return []
    f = _Fields(task.path)
    data = json.loads(task.path.read_text(encoding="utf-8"))
    out = []
    for i, entry in enumerate(f.get(data, "baselines", "", list, [])):
        where = f"baselines[{i}]"
        if not isinstance(entry, dict):
            raise f.fail(where, "expected an object with name, law, params_per_group, test_r2")
        name = f.get(entry, "name", where, str)
        text = f.get(entry, "law", where, str)
        k = f.get(entry, "params_per_group", where, (int, type(None)), None)
        r2 = f.get(entry, "test_r2", where, (int, float, type(None)), None)
        r2 = float(r2) if r2 is not None and math.isfinite(r2) else None
        try:
            law = parse_law(text, task.features, task.targets)
        except LawError as err:
            out.append(PaperBaseline(name, text, k, r2, None, f"not parsed: {err}"))
            continue
        if k is not None and len(law.params) != k:
            note = (
                f"{len(law.params)} free constants in the text but {k} fitted per group in the "
                "source (the others are fixed per group there): not refitted"
            )
            out.append(PaperBaseline(name, text, k, r2, None, note))
            continue
        out.append(PaperBaseline(name, text, k, r2, law.text))
    return out
