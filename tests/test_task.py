"""Tests of sldagent.task: task files, data checks, the sealed test split, the validation rules."""

from __future__ import annotations

import ast
import dataclasses
import keyword
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sldagent.task import (
    FUNCTIONS,
    DataError,
    Dataset,
    HumanLaw,
    Task,
    ValidationRule,
    list_tasks,
    load_task,
    load_test,
    load_train,
    read_table,
    resolve_data_root,
    split_validation,
)

SLDBENCH = {
    "parallel_scaling_law",
    "vocab_scaling_law",
    "sft_scaling_law",
    "domain_mixture_scaling_law",
    "moe_scaling_law",
    "data_constrained_scaling_law",
    "lr_bsz_scaling_law",
    "easy_question_scaling_law",
}
HEADER = "group,size,mix,loss\n"


def _error(call, *args) -> str:
    """Run call, expect a DataError, return its (one-line) message."""
    with pytest.raises(DataError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


def _formula_names(text: str) -> set[str]:
    names = {
        n.id for n in ast.walk(ast.parse(text.strip(), mode="eval")) if isinstance(n, ast.Name)
    }
    return names - FUNCTIONS


def _formulas(human: HumanLaw) -> list[str]:
    return list(human.formula.values()) if isinstance(human.formula, dict) else [human.formula]


def _evaluate(text: str, env: dict[str, np.ndarray | float]) -> np.ndarray:
    """Evaluate a law-language formula with numpy by walking its syntax tree (no eval)."""
    ops = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
    ops[ast.Pow] = np.power
    funcs = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "tanh": np.tanh}
    funcs |= {"min": np.minimum, "max": np.maximum}

    def walk(node: ast.AST):
        if isinstance(node, ast.BinOp):
            return ops[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Call):
            return funcs[node.func.id](*[walk(a) for a in node.args])
        raise AssertionError(f"unexpected syntax {ast.dump(node)}")

    return walk(ast.parse(text.strip(), mode="eval").body)


# ---------------------------------------------------------------- the 8 shipped tasks


def test_list_tasks_are_the_eight_sldbench_tasks():
    assert set(list_tasks()) == SLDBENCH
    assert list_tasks() == sorted(list_tasks())


@pytest.mark.parametrize("name", sorted(SLDBENCH))
def test_shipped_task_loads_and_is_consistent(name):
    task = load_task(name)
    assert task.name == name and task.description and task.group == "group"
    assert task.columns == (task.group, *task.features, *task.targets)
    assert set(task.feature_info) == set(task.columns)
    for column in (*task.features, *task.targets):
        info = task.feature_info[column]
        assert info.unit and info.description, column
    assert set(task.positive) <= set(task.features) | set(task.targets)
    assert set(task.validation.columns) <= set(task.features)
    human = task.human
    assert human is not None and human.citation and human.published_r2 is not None
    if task.param_budget is not None:
        assert len(human.params) <= task.param_budget
    for p in human.params:
        assert p.isidentifier() and not keyword.iskeyword(p) and p not in task.features
        lo, hi = human.bounds[p]
        ilo, ihi = human.init[p]
        assert np.isfinite([lo, hi]).all() and lo <= ilo <= ihi <= hi
    for group, constants in (human.constants or {}).items():
        assert list(constants) == list(human.params), group
        for p, value in constants.items():
            lo, hi = human.bounds[p]
            assert lo <= value <= hi, (group, p, value)


@pytest.mark.parametrize("name", sorted(SLDBENCH))
def test_human_formula_uses_only_features_and_declared_params(name):
    task = load_task(name)
    used: set[str] = set()
    for text in _formulas(task.human):
        names = _formula_names(text)
        assert names <= set(task.features) | set(task.human.params), names
        assert re.fullmatch(r"[\w\s+\-*/().,]+", text.strip()), text
        used |= names & set(task.human.params)
    assert used == set(task.human.params)


def test_budgets_and_notable_translations():
    budgets = {n: load_task(n).param_budget for n in SLDBENCH}
    assert budgets == {
        "parallel_scaling_law": 4,
        "vocab_scaling_law": 7,
        "sft_scaling_law": 4,
        "domain_mixture_scaling_law": 35,
        "moe_scaling_law": 6,
        "data_constrained_scaling_law": 7,
        "lr_bsz_scaling_law": None,
        "easy_question_scaling_law": 6,
    }
    mix = load_task("domain_mixture_scaling_law").human
    assert isinstance(mix.formula, dict) and len(mix.formula) == 5 and len(mix.params) == 35
    assert "0.051" in load_task("data_constrained_scaling_law").human.formula
    easy = load_task("easy_question_scaling_law").human
    assert len(easy.params) == 6 and "log_flops**5" in easy.formula


@pytest.mark.parametrize("name", sorted(SLDBENCH))
def test_human_law_parses_with_declared_params_and_budget(name):
    import sldagent.law as law_module

    task = load_task(name)
    law = law_module.parse_law(
        task.human.formula,
        task.features,
        task.targets,
        params=task.human.params,
        max_params=task.param_budget,
    )
    assert set(law.params) == set(task.human.params)


@pytest.mark.parametrize("name", sorted(SLDBENCH))
def test_published_constants_reproduce_published_r2(name, data_root):
    task = load_task(name)
    if not task.human.constants:
        pytest.skip("no published constants for this task")
    test = load_test(task, data_root)
    y, pred = test.y[:, 0], np.empty(len(test))
    labels = test.group_labels
    for group, constants in task.human.constants.items():
        rows = labels == group
        env = {f: test.frame.loc[rows, f].to_numpy() for f in task.features} | constants
        pred[rows] = _evaluate(task.human.formula, env)
    r2 = 1.0 - np.mean((y - pred) ** 2) / np.var(y)
    assert r2 == pytest.approx(task.human.published_r2, abs=6e-4)


@pytest.mark.parametrize("name", sorted(SLDBENCH))
def test_validation_split_of_real_task(name, data_root):
    task = load_task(name)
    train = load_train(task, data_root)
    fit, val = split_validation(train)
    assert len(val) > 0 and len(fit) > 0
    assert (fit.split, val.split) == ("fit", "validation")

    def rows(d: Dataset, columns) -> list[tuple]:
        return sorted(map(tuple, d.frame[list(columns)].to_numpy(dtype=object).tolist()))

    assert sorted(rows(fit, task.columns) + rows(val, task.columns)) == rows(train, task.columns)
    points = (task.group, *task.features)  # no (group, features) point on both sides
    assert not set(rows(fit, points)) & set(rows(val, points))
    need = task.param_budget or len(task.human.params)
    per_target = len(task.human.params) // len(task.targets)
    for group, X, _ in fit.groups():
        assert len(X) * len(task.targets) >= need and len(X) > per_target, group


def test_validation_rules_mirror_the_test_split(data_root):
    """Spot checks that each rule holds out what MANIFEST says the test split is."""

    def split(name):
        return split_validation(load_train(name, data_root))

    fit, val = split("parallel_scaling_law")
    assert set(val.frame.parallel_size) == {4.0} and set(fit.frame.parallel_size) == {1.0, 2.0}
    fit, val = split("vocab_scaling_law")
    assert val.frame.vocab_size.min() > fit.frame.vocab_size.max()
    fit, val = split("moe_scaling_law")
    assert val.frame.dense_parameter_count.min() > fit.frame.dense_parameter_count.max()
    fit, val = split("sft_scaling_law")
    assert val.frame.groupby("group").size().eq(1).all() and val.frame.group.nunique() == 42
    fit, val = split("lr_bsz_scaling_law")
    assert val.frame[["non_embedding_param_size", "data_size"]].drop_duplicates().shape[0] == 1
    big = fit.frame.non_embedding_param_size == val.frame.non_embedding_param_size.iloc[0]
    assert big.any() and fit.frame.data_size[big].max() < val.frame.data_size.iloc[0]
    fit, val = split("data_constrained_scaling_law")
    top_params = sorted(set(fit.frame.params) | set(val.frame.params))[-2:]
    top_tokens = sorted(set(fit.frame.tokens) | set(val.frame.tokens))[-2:]
    chosen = val.frame.params.isin(top_params) | val.frame.tokens.isin(top_tokens)
    assert chosen.all() and not fit.frame.params.isin(top_params).any()
    fit, val = split("domain_mixture_scaling_law")
    mixes = {g: set(map(tuple, X)) for g, X, _ in val.groups()}
    assert len({frozenset(m) for m in mixes.values()}) == 1  # same held-out mixtures everywhere
    fit, val = split("easy_question_scaling_law")
    for (g, Xf, _), (g2, Xv, _) in zip(fit.groups(), val.groups(), strict=True):
        assert g == g2 and Xv.min() > Xf.max()


# ---------------------------------------------------------------- datasets and the sealed test


def test_load_train_reads_groups_as_strings_in_sorted_order(tiny_toml, tiny_root):
    train = load_train(load_task(tiny_toml), tiny_root)
    assert isinstance(train, Dataset) and train.split == "train" and len(train) == 7
    groups = list(train.groups())
    assert [g for g, _, _ in groups] == sorted(["('m', 'd')", "b"])
    assert all(X.shape[1] == 2 and y.shape[1] == 1 for _, X, y in groups)
    assert train.X.dtype == np.float64 and train.y.shape == (7, 1)
    assert set(train.group_labels) == {"('m', 'd')", "b"}
    assert train.path == tiny_root / "tiny_task" / "train.csv"


def test_load_train_never_opens_test_csv(tiny_toml, tiny_root):
    task = load_task(tiny_toml)
    clean = load_train(task, tiny_root)
    test_csv = tiny_root / "tiny_task" / "test.csv"
    test_csv.write_bytes(b'\xff\xfe garbage,"unterminated\n\x00')
    garbage = load_train(task, tiny_root)
    pd.testing.assert_frame_equal(clean.frame, garbage.frame)
    fit, val = split_validation(garbage)
    assert len(fit) + len(val) == 7
    test_csv.unlink()
    assert len(load_train(task, tiny_root)) == 7
    _error(load_test, task, tiny_root)  # only the evaluation side notices


def test_load_test_is_separate_and_checked(tiny_toml, tiny_root):
    test = load_test(load_task(tiny_toml), tiny_root)
    assert test.split == "test" and len(test) == 2
    assert _error(split_validation, test).endswith("not test")


def test_row_order_does_not_matter(tiny_toml, tiny_root):
    task = load_task(tiny_toml)
    before = load_train(task, tiny_root)
    path = tiny_root / "tiny_task" / "train.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    after = load_train(task, tiny_root)
    pd.testing.assert_frame_equal(before.frame, after.frame)
    for a, b in zip(split_validation(before), split_validation(after), strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame)


def test_resolve_data_root(monkeypatch):
    monkeypatch.setenv("SLDAGENT_DATA", "/from/env")
    assert resolve_data_root("/from/cli") == Path("/from/cli")
    assert resolve_data_root(None) == Path("/from/env")
    monkeypatch.delenv("SLDAGENT_DATA")
    assert resolve_data_root(None) == Path.cwd() / "data" / "experiments"


def test_a_relative_data_root_is_made_absolute_where_it_is_read(monkeypatch, tmp_path):
    """`SLDAGENT_DATA=../shared/sldbench` (the README's test command) and a relative --data-dir
    name the folder beside the cwd they were typed in, even for a child process in another cwd."""
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setenv("SLDAGENT_DATA", "../shared/sldbench")
    assert resolve_data_root(None) == tmp_path / "shared" / "sldbench"
    assert resolve_data_root("../other") == tmp_path / "other"
    assert resolve_data_root("~/d") == Path.home() / "d"


# ---------------------------------------------------------------- every data error


def test_missing_file_says_where_and_how_to_get_it(tiny_toml, tiny_root):
    (tiny_root / "tiny_task" / "train.csv").unlink()
    message = _error(load_train, load_task(tiny_toml), tiny_root)
    assert str(tiny_root / "tiny_task" / "train.csv") in message
    for hint in ("--data-dir", "SLDAGENT_DATA", "sldagent data pull"):
        assert hint in message


BAD_CSV = [
    ("empty", "", ["empty file", "group,size,mix,loss"]),
    ("blank", "\n \n", ["empty file"]),
    ("header_only", HEADER, ["no data rows"]),
    ("missing_column", "group,size,loss\nb,1,2\n", ["missing column 'mix'"]),
    ("extra_column", "group,size,mix,loss,seed\nb,1,0,2,7\n", ["unexpected column 'seed'"]),
    ("duplicate_column", "group,size,mix,loss,size\nb,1,0,2,1\n", ["'size' appears twice"]),
    ("ragged_row", HEADER + "b,1,0,2\nb,2,0\n", ["row 2 (line 3)", "3 fields"]),
    ("bad_quoting", HEADER + 'b,1,0,2\n"b"x,1,0,2\n', ["line 3", "malformed CSV"]),
    ("non_numeric", HEADER + "b,1,0,2\nb,abc,0,2\n", ["row 2", "column 'size'", "'abc'"]),
    ("underscore", HEADER + "b,1_000,0,2\n", ["row 1", "column 'size'", "non-numeric"]),
    ("nan", HEADER + "b,1,nan,2\n", ["row 1", "column 'mix'", "not a finite number"]),
    ("NaN", HEADER + "b,1,0,NaN\n", ["column 'loss'", "not a finite number"]),
    ("inf", HEADER + "b,1,-inf,2\n", ["column 'mix'", "not a finite number"]),
    ("overflow", HEADER + "b,1e999,0,2\n", ["column 'size'", "overflows"]),
    ("empty_cell", HEADER + "b,1,,2\n", ["row 1", "column 'mix'", "empty cell"]),
    ("empty_group", HEADER + ",1,0,2\n", ["column 'group'", "empty group name"]),
    ("zero_positive", HEADER + "b,1,0,2\nb,0,0,2\n", ["row 2", "column 'size'", "> 0"]),
    ("negative_target", HEADER + "b,1,0,-2\n", ["row 1", "column 'loss'", "> 0"]),
    ("blank_lines", HEADER + "b,1,0,2\n\nb,x,0,2\n", ["row 2 (line 4)", "column 'size'"]),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD_CSV, ids=[c[0] for c in BAD_CSV])
def test_malformed_train_csv(case, text, expected, tiny_toml, tiny_root):
    path = tiny_root / "tiny_task" / "train.csv"
    path.write_text(text, encoding="utf-8")
    message = _error(load_train, load_task(tiny_toml), tiny_root)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, (part, message)


def test_not_utf8(tiny_toml, tiny_root):
    path = tiny_root / "tiny_task" / "train.csv"
    path.write_bytes(HEADER.encode() + b"b,1,0,2\n\xff\xfe,1,0,2\n")
    assert "not UTF-8" in _error(load_train, load_task(tiny_toml), tiny_root)


def test_negative_value_allowed_in_non_positive_column(tiny_toml, tiny_root):
    train = load_train(load_task(tiny_toml), tiny_root)
    assert (train.frame["mix"] < 0).any()


def test_test_group_without_train_rows(tiny_toml, tiny_root):
    path = tiny_root / "tiny_task" / "test.csv"
    path.write_text(HEADER + "b,5,0,2\nzzz,5,0,2\n")
    message = _error(load_test, load_task(tiny_toml), tiny_root)
    assert "row 2" in message and "group 'zzz' has no rows in train.csv" in message


def test_test_csv_gets_the_same_checks(tiny_toml, tiny_root):
    path = tiny_root / "tiny_task" / "test.csv"
    path.write_text(HEADER + "b,5,0,oops\n")
    message = _error(load_test, load_task(tiny_toml), tiny_root)
    assert message.startswith(str(path)) and "column 'loss'" in message


def test_read_table_sorts_canonically(tiny_toml, tiny_root):
    frame = read_table(load_task(tiny_toml), tiny_root / "tiny_task" / "train.csv")
    assert list(frame.columns) == ["group", "size", "mix", "loss"]
    assert frame.equals(frame.sort_values(list(frame.columns), kind="mergesort"))


# ---------------------------------------------------------------- task file errors


def test_unknown_task_lists_known_tasks():
    message = _error(load_task, "no_such_task")
    assert "unknown task 'no_such_task'" in message
    assert all(name in message for name in SLDBENCH)


def test_missing_task_path(tmp_path):
    assert "task file not found" in _error(load_task, tmp_path / "nope.toml")


BAD_TOML = [
    ("syntax", ("name = ", "name = = "), ["malformed TOML"]),
    ("missing_key", ('targets = ["loss"]\n', ""), ["'targets'", "missing"]),
    ("wrong_type", ("param_budget = 4", 'param_budget = "4"'), ["'param_budget'", "integer"]),
    ("zero_budget", ("param_budget = 4", "param_budget = 0"), ["'param_budget'", "omit"]),
    ("unknown_key", ("param_budget = 4", "param_budget = 4\nbudjet = 3"), ["'budjet'"]),
    ("bad_kind", ('kind = "largest"', 'kind = "biggest"'), ["'validation.kind'"]),
    ("no_count", ("count = 1\n", ""), ["'validation.count'"]),
    ("rule_column", ('column = "size"', 'column = "loss"'), ["'validation.column'"]),
    ("unknown_name", ("+ B * mix", "+ B * mixx"), ["'human.formula'", "unknown name 'mixx'"]),
    ("unused_param", ("+ B * mix", ""), ["'human.params.B'", "not used"]),
    ("bad_syntax", ("+ B * mix", "+ B * mix)"), ["'human.formula'", "not a valid expression"]),
    ("bad_function", ("E + A", "E + sin(A)"), ["'human.formula'", "only functions"]),
    ("init_outside", ("init = [0.1, 1.0]", "init = [0.1, 5.0]"), ["'human.params.alpha'"]),
    ("constants_gap", ("B = 0.1\n", ""), ["'human.constants.b'"]),
    ("undeclared_column_info", ("[columns.size]", "[columns.sise]"), ["'columns.sise'"]),
    (
        "group_positive",
        ("[columns.size]", "[columns.group]\npositive = true\n[columns.size]"),
        ["'columns.group.positive'"],
    ),
]


@pytest.mark.parametrize(("case", "edit", "expected"), BAD_TOML, ids=[c[0] for c in BAD_TOML])
def test_malformed_task_toml(case, edit, expected, tiny_toml, tmp_path):
    text = tiny_toml.read_text()
    assert edit[0] in text, case
    path = tmp_path / "task.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    message = _error(load_task, path)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, (part, message)


def test_python_keyword_param_is_refused(tiny_toml, tmp_path):
    text = tiny_toml.read_text().replace("B * mix", "lam * mix").replace("\nB = {", "\nlambda = {")
    path = tmp_path / "task.toml"
    path.write_text(text)
    assert "'human.params.lambda'" in _error(load_task, path)


def test_task_without_human_law_and_budget(tiny_toml, tmp_path):
    text = tiny_toml.read_text()
    path = tmp_path / "bare.toml"
    path.write_text(text[: text.index("[human]")].replace("param_budget = 4\n", ""))
    task = load_task(path)
    assert task.human is None and task.param_budget is None and task.path == path


# ---------------------------------------------------------------- validation rule kinds


def _dataset(tiny_toml: Path, rule: ValidationRule, rows: list[tuple]) -> Dataset:
    task: Task = dataclasses.replace(load_task(tiny_toml), validation=rule)
    frame = pd.DataFrame(rows, columns=["group", "size", "mix", "loss"])
    frame["group"] = frame["group"].astype(object)
    return Dataset(task, frame, Path("train.csv"))


ROWS = [
    ("a", 1.0, 0.0, 3.0),
    ("a", 2.0, 5.0, 2.0),
    ("a", 4.0, 1.0, 1.0),
    ("a", 4.0, 2.0, 1.5),
    ("b", 10.0, 0.0, 3.0),
    ("b", 20.0, 1.0, 2.0),
    ("b", 40.0, 3.0, 1.0),
]


def _val_keys(dataset: Dataset) -> set[tuple]:
    _, val = split_validation(dataset)
    return set(map(tuple, val.frame[["group", "size", "mix"]].to_numpy().tolist()))


def test_rule_largest_per_group_and_global(tiny_toml):
    per = ValidationRule("largest", ("size",), count=1, per_group=True)
    assert _val_keys(_dataset(tiny_toml, per, ROWS)) == {
        ("a", 4.0, 1.0),
        ("a", 4.0, 2.0),
        ("b", 40.0, 3.0),
    }
    glob = ValidationRule("largest", ("size",), count=2)
    assert _val_keys(_dataset(tiny_toml, glob, ROWS)) == {("b", 20.0, 1.0), ("b", 40.0, 3.0)}


def test_rule_largest_union_and_lexicographic(tiny_toml):
    union = ValidationRule("largest", ("size", "mix"), count=1, per_group=True)
    assert _val_keys(_dataset(tiny_toml, union, ROWS)) == {
        ("a", 4.0, 1.0),
        ("a", 4.0, 2.0),
        ("a", 2.0, 5.0),
        ("b", 40.0, 3.0),
    }
    lex = ValidationRule(
        "largest", ("size", "mix"), count=1, per_group=True, combine="lexicographic"
    )
    assert _val_keys(_dataset(tiny_toml, lex, ROWS)) == {("a", 4.0, 2.0), ("b", 40.0, 3.0)}


def test_rule_top_fraction(tiny_toml):
    rule = ValidationRule("top_fraction", ("size",), fraction=0.5, per_group=True)
    keys = _val_keys(_dataset(tiny_toml, rule, ROWS))
    assert keys == {("a", 4.0, 1.0), ("a", 4.0, 2.0), ("b", 20.0, 1.0), ("b", 40.0, 3.0)}


def test_rule_random_is_seeded_order_free_and_shared_across_groups(tiny_toml):
    points = [(float(i), float(i % 3)) for i in range(1, 21)]
    rows = [(g, s, m, 1.0 + s) for g in ("a", "b") for s, m in points]
    rule = ValidationRule("random", ("size", "mix"), fraction=0.25, per_group=True, seed=3)
    keys = _val_keys(_dataset(tiny_toml, rule, rows))
    assert len(keys) == 10
    assert {k[1:] for k in keys if k[0] == "a"} == {k[1:] for k in keys if k[0] == "b"}
    assert _val_keys(_dataset(tiny_toml, rule, rows[::-1])) == keys
    others = [dataclasses.replace(rule, seed=s) for s in range(4, 8)]
    assert any(_val_keys(_dataset(tiny_toml, r, rows)) != keys for r in others)


def test_rule_random_keeps_duplicate_points_together(tiny_toml):
    rows = [("a", float(s), 0.0, 1.0) for s in (1, 1, 2, 2, 3, 3, 4, 4)]
    rule = ValidationRule("random", ("size", "mix"), fraction=0.5, seed=0)
    _, val = split_validation(_dataset(tiny_toml, rule, rows))
    assert len(val) == 4 and val.frame["size"].value_counts().eq(2).all()


def test_rule_leaving_a_group_without_fit_rows_is_an_error(tiny_toml):
    rows = [*ROWS, ("c", 99.0, 0.0, 1.0)]
    rule = ValidationRule("largest", ("size",), count=1)
    message = _error(split_validation, _dataset(tiny_toml, rule, rows))
    assert "group 'c'" in message and "per_group" in message


def test_a_task_name_that_is_not_an_identifier_is_refused(tiny_toml, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(tiny_toml.read_text().replace('name = "tiny_task"', 'name = "../escape"'))
    with pytest.raises(DataError, match="identifier"):
        load_task(bad)


# ----------------------------------------------------------------- issue 15 findings


def _cli_error_on(path: Path, tiny_root: Path, *needles: str) -> None:
    """`sldagent evaluate` on the task file fails with one line holding the needles."""
    from cli_errors import assert_user_error
    from conftest import run_cli

    code, _, err = run_cli("evaluate", str(path), "--law", "E", "--data-dir", str(tiny_root))
    assert_user_error(code, err, *needles)


@pytest.mark.parametrize(
    ("tail", "needle"),
    [("(" * 250_000 + "E" + ")" * 250_000 + " + ", "characters (limit 4000)"), ("-" * 3900, "")],
)
def test_finding04_a_huge_human_formula_is_a_one_line_error(
    tail, needle, tiny_toml, tiny_root, tmp_path
):
    """A 1 MB formula used to reach ast.parse before the length limit (and 3,900 unary minus
    signs within it): RecursionError."""
    path = tmp_path / "task.toml"
    formula = "E + A * size**(-alpha) + B * mix"
    path.write_text(tiny_toml.read_text().replace(f'"{formula}"', f'"{formula} + {tail}E"'))
    assert "'human.formula'" in _error(load_task, path)
    _cli_error_on(path, tiny_root, str(path), "'human.formula'", needle)


@pytest.mark.parametrize("name", ["_mix", "ｍix", "mïx"])
def test_finding09_finding13_columns_a_law_cannot_name_are_refused(
    name, tiny_toml, tiny_root, tmp_path
):
    """'_mix' could never appear in a law; 'ｍix' would be folded to 'mix' by Python."""
    path = tmp_path / "task.toml"
    text = tiny_toml.read_text().replace("[columns.mix]", f'[columns."{name}"]')
    path.write_text(text.replace("mix", name))
    assert f"column '{name}'" in _error(load_task, path)
    _cli_error_on(path, tiny_root, str(path), f"column '{name}'", "ASCII")


@pytest.mark.parametrize(
    ("rows", "row"),
    [((2, 1e160, 5), 2), ((2, -1e300, 5), 2), ((2e-160, 3e-160, 1e-160), 2)],
)
def test_finding05_a_task_target_out_of_float_range_is_refused(rows, row, tiny_toml, tiny_root):
    """At |target| ~ 1e160 squared errors overflow: the search fitted c0 = 0 with R² nan."""
    lines = [f"b,{size},0.5,{loss:g}" for size, loss in zip((1, 2, 4), rows, strict=True)]
    (tiny_root / "tiny_task" / "train.csv").write_text(HEADER + "\n".join(lines) + "\n")
    toml = Path(str(tiny_root)) / "signed.toml"
    toml.write_text(tiny_toml.read_text().replace("positive = true", "positive = false"))
    message = _error(load_train, load_task(toml), tiny_root)
    assert "target column 'loss'" in message and f"(row {row})" in message, message
    _cli_error_on(toml, tiny_root, "train.csv", "target column 'loss'", "1e-150 and 1e+150")


def test_finding10_a_constant_task_target_is_refused(tiny_toml, tiny_root):
    """A constant target gave law c0, validation R² -inf, test R² 1.0."""
    (tiny_root / "tiny_task" / "train.csv").write_text(HEADER + "b,1,0,2\nb,2,1,2\nb,4,0,2\n")
    message = _error(load_train, load_task(tiny_toml), tiny_root)
    assert "target column 'loss' is 2 in all 3 training rows" in message
    _cli_error_on(tiny_toml, tiny_root, "train.csv", "is 2 in all 3 training rows")


@pytest.mark.parametrize("cell", ["1e-400", "-3e-320"])
def test_finding08_a_task_csv_number_that_underflows_is_refused(cell, tiny_toml, tiny_root):
    """1e-400 used to be read as 0 while 1e999 was refused as an overflow."""
    path = tiny_root / "tiny_task" / "train.csv"
    path.write_text(HEADER + f"b,1,0,2\nb,2,{cell},3\n")
    message = _error(load_train, load_task(tiny_toml), tiny_root)
    assert "row 2" in message and "column 'mix'" in message and "underflows" in message
    _cli_error_on(tiny_toml, tiny_root, str(path), "row 2", f"'{cell}' underflows")
