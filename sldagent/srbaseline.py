"""Symbolic-regression baseline for the benchmark report: a generic SR tool on the same rows.

PySR when it can run (it needs Julia: offline its import fails, often with a non-ImportError,
so any failure means "unavailable"), else pyoperon (runs offline), else none, and the report
says which. One model per group and target, fitted on all training rows of that group (the
same rows our laws are refit on; test rows are never seen here), features declared positive
enter as log(feature). Per-group models are *more* flexible than our one-formula-per-task laws;
that favours the baseline, and the report says so. Each model is written in the law language
(numbers only, no free parameters) and predicts through `sldagent.law`, so what is scored is
exactly the formula the report prints.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from sldagent.law import LawError, parse_law
from sldagent.task import Dataset, Task

METHODS = ("auto", "pysr", "pyoperon", "none")


@dataclass(frozen=True)
class SRConfig:
    """Budget and search space of the baseline, the same for every task."""

    method: str = "auto"  # auto: PySR if it runs, else pyoperon; none: skip the baseline
    seconds: float = 30.0  # wall-time cap per task, split over its group x target fits
    evaluations: int = 200_000  # per task, split over fits: the bound that keeps runs seeded
    max_length: int = 20  # expression nodes
    population: int = 500
    seed: int = 0
    probe_timeout: float = 120.0  # seconds allowed for `import pysr` in a subprocess

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown SR method {self.method!r}; choose {', '.join(METHODS)}")
        if not (self.seconds > 0 and self.evaluations > 0 and self.max_length > 0):
            raise ValueError("SR seconds, evaluations and max length must be > 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SRModel:
    """The fitted baseline: formula per group and target (law language), or why there is none."""

    method: str | None  # "pysr" | "pyoperon" | None when neither could run
    note: str  # what was tried and why it was skipped
    formulas: dict[str, dict[str, str]] = field(default_factory=dict)
    nodes: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SRModel:
        return cls(**d)


def sr_inputs(task: Task) -> list[str]:
    """The SR variables: log(feature) for features declared positive, else the feature."""
    return [f"log({f})" if f in task.positive else f for f in task.features]


def _transform(task: Task, X: np.ndarray) -> np.ndarray:
    cols = [np.log(X[:, j]) if f in task.positive else X[:, j] for j, f in enumerate(task.features)]
    return np.column_stack(cols)


def predictor(task: Task, model: SRModel) -> Callable[[str, np.ndarray], np.ndarray]:
    """predict(group, X) -> (n, n_targets) from the model's formulas (NaN where none parses)."""
    laws = {}
    for group, by_target in model.formulas.items():
        for target, text in by_target.items():
            try:
                laws[group, target] = parse_law(text, task.features, [target], max_nodes=2000)
            except LawError:
                continue

    def predict(group: str, X: np.ndarray) -> np.ndarray:
        cols = []
        for target in task.targets:
            law = laws.get((group, target))
            if law is None:
                cols.append(np.full(len(X), np.nan))
                continue
            with np.errstate(all="ignore"):
                cols.append(law.predict(X, np.zeros(0))[:, 0])
        return np.column_stack(cols)

    return predict


def pysr_problem(timeout: float) -> str | None:
    """None if PySR imports here, else why not (checked in a subprocess: its first import may
    try to download Julia, which must not hang or crash the benchmark)."""
    if importlib.util.find_spec("pysr") is None:
        return "PySR is not installed"
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import pysr"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (subprocess.TimeoutExpired, OSError) as err:
        return f"PySR import did not finish ({type(err).__name__})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"PySR failed to import: {last[:200]}"
    return None


def fit_sr(train: Dataset, config: SRConfig = SRConfig()) -> SRModel:
    """Fit the baseline on training rows: PySR, else pyoperon, else an empty model with a note."""
    if config.method == "none":
        return SRModel(method=None, note="SR baseline skipped (--sr none)")
    notes = []
    order = ["pysr", "pyoperon"] if config.method == "auto" else [config.method]
    for method in order:
        if method == "pysr":
            problem = pysr_problem(config.probe_timeout)
            if problem:
                notes.append(problem)
                continue
        try:
            model = _fit_all(train, config, method)
        except Exception as err:  # noqa: BLE001 - any failure of a third-party SR tool
            notes.append(f"{method} failed: {type(err).__name__}: {str(err)[:200]}")
            continue
        return SRModel(
            method=method,
            note="; ".join(notes),
            formulas=model[0],
            nodes=model[1],
            seconds=model[2],
        )
    return SRModel(method=None, note="; ".join(notes) or "no SR method available")


def _fit_all(train: Dataset, config: SRConfig, method: str):
    task = train.task
    groups = list(train.groups())
    n_fits = len(groups) * len(task.targets)
    per_fit = {
        "evaluations": max(1000, config.evaluations // n_fits),
        "seconds": max(1.0, config.seconds / n_fits),
    }
    fit_one = _operon_fit if method == "pyoperon" else _pysr_fit
    formulas: dict[str, dict[str, str]] = {}
    nodes: dict[str, dict[str, int]] = {}
    start = time.perf_counter()
    names = sr_inputs(task)
    for group, X, y in groups:
        A = _transform(task, X)
        formulas[group], nodes[group] = {}, {}
        for j, target in enumerate(task.targets):
            text, size = fit_one(A, y[:, j], names, config, per_fit)
            formulas[group][target] = text
            nodes[group][target] = size
    return formulas, nodes, time.perf_counter() - start


def _operon_fit(A, y, names, config: SRConfig, per_fit: dict) -> tuple[str, int]:
    from pyoperon.sklearn import SymbolicRegressor

    model = SymbolicRegressor(
        allowed_symbols="add,sub,mul,div,constant,variable,exp,log",
        objectives=["r2"],
        population_size=config.population,
        generations=10**6,
        max_evaluations=per_fit["evaluations"],
        max_length=config.max_length,
        max_time=max(1, math.ceil(per_fit["seconds"])),
        optimizer_iterations=10,  # local least-squares steps on the constants
        n_threads=1,
        random_state=config.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(A, y)
    text = model.get_model_string(model.model_, 12, names)
    return text, int(model.model_.Length)


def _pysr_fit(A, y, names, config: SRConfig, per_fit: dict) -> tuple[str, int]:
    import sympy
    from pysr import PySRRegressor

    model = PySRRegressor(
        binary_operators=["+", "-", "*", "/"],
        unary_operators=["exp", "log"],
        maxsize=config.max_length,
        niterations=1000,
        max_evals=per_fit["evaluations"],
        timeout_in_seconds=per_fit["seconds"],
        random_state=config.seed,
        deterministic=True,
        parallelism="serial",
        progress=False,
        verbosity=0,
        temp_equation_file=True,
    )
    xs = [f"x{j}" for j in range(A.shape[1])]
    model.fit(A, y, variable_names=xs)
    expr = model.sympy()
    subs = {}
    for x, name in zip(xs, names, strict=True):
        feature = name[4:-1] if name.startswith("log(") else name
        sym = sympy.Symbol(feature)
        subs[sympy.Symbol(x)] = sympy.log(sym) if name.startswith("log(") else sym
    expr = expr.xreplace(subs)
    return str(expr), int(sympy.count_ops(expr, visual=False)) + 1
