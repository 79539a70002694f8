"""The Python API, scikit-learn style: `ScalingLawSearch(...).fit(df)` on a DataFrame of runs.

    search = ScalingLawSearch(features=["N", "D"], target="loss", group="model",
                              extrapolate="N >= 1e9", budget=60).fit(df)
    search.best_.predict(new_runs); search.best_.latex(); search.pareto_

The same engine as `sldagent discover --csv`: the DataFrame's rows are written to a CSV in the
run directory (a temporary one unless run_dir is given) next to a task.toml, so a kept run
directory works with `sldagent predict` and `sldagent discover --resume`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sldagent.custom_task import (
    check_column_names,
    column_names,
    numeric_frame,
    split_columns,
    task_from_frame,
)
from sldagent.evaluation import test_rows
from sldagent.fitted import FittedLaw
from sldagent.metrics import r2
from sldagent.search.fitness import SelectionConfig
from sldagent.search.loop import Search, SearchConfig
from sldagent.search.runlog import RunLog
from sldagent.task import Task, load_train

PROPOSERS = ("symbolic",)
DATA_FILE = "runs.csv"


class ScalingLawSearch:
    """Search a scaling law that extrapolates; parameters are checked at fit, as in scikit-learn.

    features: input columns; target: column (or list of columns) to predict; group: column
    whose values get their own constants (None: one group); budget: candidate laws to evaluate;
    proposer: "symbolic" (no LLM); seed; extrapolate: rows held out as a sealed test
    (`"N >= 1e9"`), scored once after the search as test_r2_; param_budget: constants per group
    (default 2 + 2 per feature); jobs: parallel workers (-1: all cores); run_dir: keep the run
    there (default: a temporary directory, removed after fit); time_limit: seconds.

    After fit: best_ (FittedLaw), pareto_ (DataFrame: law, complexity, n_params,
    validation_error, validation_r2; by complexity), test_r2_ (None without extrapolate),
    task_ (the Task built from the DataFrame), run_dir_ (None for a temporary run).
    """

    def __init__(
        self,
        features: list[str] | tuple[str, ...],
        target: str | list[str],
        group: str | None = None,
        budget: int = 100,
        proposer: str = "symbolic",
        seed: int = 0,
        extrapolate: str | None = None,
        param_budget: int | None = None,
        jobs: int = 1,
        run_dir: str | os.PathLike[str] | None = None,
        time_limit: float | None = None,
    ) -> None:
        self.features = features
        self.target = target
        self.group = group
        self.budget = budget
        self.proposer = proposer
        self.seed = seed
        self.extrapolate = extrapolate
        self.param_budget = param_budget
        self.jobs = jobs
        self.run_dir = run_dir
        self.time_limit = time_limit

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments (scikit-learn's convention)."""
        names = ("features", "target", "group", "budget", "proposer", "seed", "extrapolate")
        names += ("param_budget", "jobs", "run_dir", "time_limit")
        return {name: getattr(self, name) for name in names}

    def _check(self, df: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"fit expects a pandas DataFrame of runs, got {type(df).__name__}")
        if isinstance(self.features, str) or not all(isinstance(f, str) for f in self.features):
            raise ValueError("features must be a list of column names, e.g. ['N', 'D']")
        targets = [self.target] if isinstance(self.target, str) else self.target
        if not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets):
            raise ValueError("target must be a column name (or a list of them)")
        if self.group is not None and not isinstance(self.group, str):
            raise ValueError("group must be a column name or None")
        for name, value, low in (("budget", self.budget, 1), ("seed", self.seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs == 0:
            raise ValueError(f"jobs must be a non-zero integer (-1: all cores), got {self.jobs!r}")
        if self.proposer not in PROPOSERS:
            raise ValueError(
                f"unknown proposer {self.proposer!r}; available: {', '.join(PROPOSERS)}"
            )
        if self.extrapolate is not None and not isinstance(self.extrapolate, str):
            raise ValueError('extrapolate must be a string such as "N >= 1e9", or None')
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be a positive number, got {self.time_limit!r}")
        features, targets = column_names(self.features, "features"), column_names(targets, "target")
        check_column_names(features, targets, self.group, "DataFrame")
        return features, targets

    def fit(self, df: pd.DataFrame) -> ScalingLawSearch:
        """Search on df's rows (the extrapolate rows stay sealed until the search ends)."""
        features, targets = self._check(df)
        extra = split_columns(self.extrapolate, df, features, targets, self.group)
        frame = numeric_frame(
            df, features, targets, self.group, "DataFrame", rows="index", extra=extra
        )
        if self.run_dir is not None:
            self._fit_in(Path(self.run_dir), frame, features, targets)
            self.run_dir_ = Path(self.run_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="sldagent-") as tmp:
                self._fit_in(Path(tmp), frame, features, targets)
            self.run_dir_ = None
        return self

    def _fit_in(self, run_dir: Path, frame: pd.DataFrame, features, targets) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        data = run_dir / DATA_FILE
        extra = [c for c in frame.columns if c not in (*features, *targets)][1:]  # after group
        columns = [*([self.group] if self.group else []), *features, *targets, *extra]
        text = frame[columns].to_csv(index=False)
        if (run_dir / "candidates.jsonl").exists() and data.is_file() and data.read_text() != text:
            raise ValueError(
                f"{run_dir} holds a run on other data; give a new run_dir (or the same rows "
                "to resume that run)"
            )
        data.write_text(text)
        task = task_from_frame(
            frame,
            data,
            features,
            targets,
            self.group,
            self.extrapolate,
            self.param_budget,
            name="dataframe",
            where="DataFrame",
        )
        config = SearchConfig(budget=self.budget, seed=self.seed, selection=SelectionConfig())
        search = Search(task, load_train(task, None), config, run_dir)
        result = search.run(jobs=self.jobs, time_limit=self.time_limit)
        group = self.group
        self.task_: Task = task
        self.best_ = FittedLaw.from_best(result.best, task.features, task.targets, group)
        self.pareto_ = _pareto(result.best, RunLog(run_dir / "candidates.jsonl").read())
        self.n_candidates_ = result.candidates
        self.test_r2_ = None
        if task.source.extrapolate is not None:
            self.test_r2_ = self.score(_frame_of(test_rows(task, None), group))

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """best_.predict(df)."""
        return self._best().predict(df)

    def score(self, df: pd.DataFrame) -> float:
        """R² of best_ on df's rows (pooled over groups and targets)."""
        best = self._best()
        y = df[list(best.targets)].to_numpy(dtype=float)
        return r2(y, best.predict(df).reshape(len(df), -1))

    def _best(self) -> FittedLaw:
        if not hasattr(self, "best_"):
            raise ValueError("this ScalingLawSearch is not fitted yet; call fit(df) first")
        return self.best_


def _frame_of(rows, group: str | None) -> pd.DataFrame:
    """A Dataset's rows as a DataFrame with the column names FittedLaw.predict expects."""
    frame = rows.frame
    return frame if group else frame.drop(columns=[rows.task.group])


def _pareto(best: dict, records: list[dict]) -> pd.DataFrame:
    """The run's Pareto front (validation error x complexity), simplest law first."""
    by_id = {r["id"]: r for r in records}
    rows = []
    for entry in best["pareto"]:
        rec = by_id[entry["id"]]
        rows.append(
            {
                "law": entry["law"],
                "complexity": entry["complexity"],
                "n_params": rec["n_params"],
                # fold-1 validation MSE over the variance of the training target
                "validation_error": 10.0 ** rec["fold_errors"][0] if rec["fold_errors"] else np.inf,
                "validation_r2": entry["validation_r2"],
            }
        )
    return pd.DataFrame(rows).sort_values("complexity", kind="mergesort").reset_index(drop=True)
