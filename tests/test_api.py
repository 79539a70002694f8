"""Tests of sldagent.api.ScalingLawSearch: fit on a DataFrame, best_, pareto_, a kept run that
the command line can use, and parameter checks at fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sldagent
from sldagent import FittedLaw, ScalingLawSearch, demo
from sldagent.cli import main
from sldagent.task import DataError

RUNS = pd.read_csv(demo.CSV)
ARGS = dict(features=["N", "D"], target="loss", group="model", extrapolate="N >= 1e9")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> ScalingLawSearch:
    run_dir = tmp_path_factory.mktemp("api") / "run"
    return ScalingLawSearch(**ARGS, budget=12, run_dir=run_dir).fit(RUNS)


def test_fit_finds_the_generating_form_and_scores_the_held_out_rows(fitted):
    best = fitted.best_
    assert isinstance(best, FittedLaw)
    assert set(best.params_) == {"arch_a", "arch_b", "arch_c"}
    assert len(best.law.params) == 5
    truth = demo.true_law_r2(sldagent.task.load_test(fitted.task_, None))
    assert fitted.test_r2_ == pytest.approx(truth, abs=0.01)
    held_out = RUNS[RUNS.N >= 1e9]
    assert fitted.score(held_out) == pytest.approx(fitted.test_r2_, abs=1e-12)
    # on the held-out rows, the law is within 1% of the noise-free generating law
    for name, c in demo.CONSTANTS.items():
        rows = held_out[held_out.model == name]
        true = c["E"] + c["A"] / rows.N ** c["alpha"] + c["B"] / rows.D ** c["beta"]
        assert np.max(np.abs(best.predict(rows) / true - 1)) < 0.01


def test_predict_latex_sympy_and_json(fitted):
    new = pd.DataFrame({"model": ["arch_a", "arch_c"], "N": [7e10, 7e10], "D": [1.4e12, 1.4e12]})
    pred = fitted.predict(new)
    c = demo.CONSTANTS["arch_a"]
    true = c["E"] + c["A"] / 7e10 ** c["alpha"] + c["B"] / 1.4e12 ** c["beta"]
    assert pred.shape == (2,) and pred[0] == pytest.approx(true, abs=0.05)
    assert fitted.best_.latex().startswith(r"\mathrm{loss} = ")
    assert fitted.best_.sympy("arch_a").free_symbols == {
        s for s in fitted.best_.sympy().free_symbols if s.name in ("N", "D")
    }
    back = FittedLaw.from_json(fitted.best_.to_json())
    assert back == fitted.best_ and np.array_equal(back.predict(new), pred)


def test_pareto_is_a_dataframe_by_complexity(fitted):
    front = fitted.pareto_
    assert list(front.columns) == [
        "law",
        "complexity",
        "n_params",
        "validation_error",
        "validation_r2",
    ]
    assert front["complexity"].is_monotonic_increasing and len(front) >= 2
    assert fitted.best_.text in set(front["law"])
    assert (front["validation_error"] > 0).all()


def test_a_kept_run_dir_works_with_the_command_line(fitted, capsys):
    run_dir = fitted.run_dir_
    assert (run_dir / "task.toml").is_file() and (run_dir / "runs.csv").is_file()
    code = main([
        "predict", str(run_dir), "--at", "N=2e9,D=4e10", "--group", "arch_b",
        "--resamples", "5", "--json",
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    row = json.loads(out)["predictions"][0]
    expected = fitted.predict(pd.DataFrame({"model": ["arch_b"], "N": [2e9], "D": [4e10]}))
    assert row["value"]["loss"] == pytest.approx(expected[0], rel=1e-12)


def test_a_kept_run_dir_resumes_with_the_same_rows_and_refuses_others(fitted):
    again = ScalingLawSearch(**ARGS, budget=12, run_dir=fitted.run_dir_).fit(RUNS)
    assert again.best_ == fitted.best_ and again.n_candidates_ == 12
    other = RUNS.assign(loss=RUNS.loss + 0.1)
    with pytest.raises(ValueError, match="holds a run on other data"):
        ScalingLawSearch(**ARGS, budget=12, run_dir=fitted.run_dir_).fit(other)


def test_without_group_or_run_dir(tmp_path: Path):
    one = RUNS[RUNS.model == "arch_a"].drop(columns="model")
    search = ScalingLawSearch(features=["N", "D"], target="loss", budget=6).fit(one)
    assert search.run_dir_ is None and search.test_r2_ is None
    assert list(search.best_.params_) == ["all"] and search.best_.group is None
    assert search.predict(one).shape == (len(one),)
    assert search.get_params()["budget"] == 6


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        (dict(features="N"), ValueError, "features must be a list"),
        (dict(target=3), ValueError, "target must be a column name"),
        (dict(group=["model"]), ValueError, "group must be a column name"),
        (dict(budget=0), ValueError, "budget must be an integer >= 1"),
        (dict(budget=2.5), ValueError, "budget must be an integer"),
        (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
        (dict(jobs=0), ValueError, "jobs must be a non-zero integer"),
        (dict(proposer="llm"), ValueError, "unknown proposer 'llm'; available: symbolic"),
        (dict(extrapolate=1e9), ValueError, "extrapolate must be a string"),
        (dict(time_limit=0), ValueError, "time_limit must be a positive number"),
        (dict(features=["N", "tokens"]), DataError, "DataFrame: unknown column 'tokens'"),
        (dict(extrapolate="N >= 1e12"), DataError, "selects no rows"),
        (dict(extrapolate="N >> 1"), ValueError, "expected a clause at 'N > >'"),
        (dict(param_budget=0), DataError, "--param-budget 0"),
    ],
)
def test_parameters_are_checked_at_fit(kwargs: dict, error: type, needle: str):
    search = ScalingLawSearch(**{**ARGS, "budget": 4, **kwargs})  # constructing never fails
    with pytest.raises(error, match=needle):
        search.fit(RUNS)


def test_fit_checks_the_data():
    with pytest.raises(TypeError, match="fit expects a pandas DataFrame"):
        ScalingLawSearch(**ARGS).fit(RUNS.to_dict())
    bad = RUNS.copy()
    bad.loc[[4, 17], "loss"] = np.nan
    bad["N"] = bad["N"].astype(object)
    bad.loc[9, "N"] = "big"
    with pytest.raises(DataError) as err:
        ScalingLawSearch(**ARGS).fit(bad)
    message = str(err.value)
    assert "column 'N' has 1 non-numeric value (index 9: 'big')" in message
    assert "column 'loss' has 2 missing values (index 4, 17)" in message
    with pytest.raises(ValueError, match="not fitted yet"):
        ScalingLawSearch(**ARGS).predict(RUNS)
