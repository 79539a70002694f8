"""Tests of sldagent.fitted.FittedLaw: predict per group, LaTeX, sympy, JSON save and load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sympy

from sldagent.fitted import FittedLaw
from sldagent.fitters import FitRecipe
from sldagent.law import parse_law

LAW = parse_law("E + A / N**alpha", ["N"], ["loss"])
PARAMS = {
    "a": {"E": 1.5, "A": 10.0, "alpha": 0.5},
    "b": {"E": 2.0, "A": 20.0, "alpha": 0.25},
}


def fitted(group: str | None = "model", params=PARAMS) -> FittedLaw:
    return FittedLaw(LAW, params, group, FitRecipe(loss="huber"))


def test_predict_uses_each_rows_group_constants():
    df = pd.DataFrame({"model": ["a", "b", "a"], "N": [100.0, 16.0, 4.0]})
    assert np.allclose(fitted().predict(df), [1.5 + 1.0, 2.0 + 10.0, 1.5 + 5.0])
    assert fitted().predict({"model": ["b"], "N": [1.0]}).shape == (1,)


def test_one_group_needs_no_group_column():
    law = fitted(None, {"all": PARAMS["a"]})
    assert np.allclose(law.predict(pd.DataFrame({"N": [100.0]})), [2.5])


def test_several_targets_predict_a_matrix():
    law2 = parse_law({"y": "a*N", "z": "b + N"}, ["N"], ["y", "z"])
    f = FittedLaw(law2, {"g": {"a": 2.0, "b": 1.0}})
    assert np.allclose(f.predict({"N": [1.0, 3.0]}), [[2.0, 2.0], [6.0, 4.0]])
    assert set(f.sympy()) == {"y", "z"}


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"model": ["a"]}, "missing column 'N'"),
        ({"N": [1.0]}, "missing column 'model'"),
        ({"model": ["c"], "N": [1.0]}, "unknown group 'c'; the law has constants for a, b"),
        ({"model": ["a"], "N": ["big"]}, "column 'N' must be numeric"),
    ],
)
def test_predict_errors(data: dict, needle: str):
    with pytest.raises(ValueError, match=needle):
        fitted().predict(pd.DataFrame(data))


def test_latex_and_sympy():
    f = fitted()
    assert f.latex() == LAW.latex() and r"\mathrm{N}" in f.latex()
    N = sympy.Symbol("N", real=True)
    assert sympy.simplify(f.sympy("a") - (1.5 + 10.0 / sympy.sqrt(N))) == 0
    assert {s.name for s in f.sympy().free_symbols} == {"N", "E", "A", "alpha"}
    assert str(f) == LAW.text


def test_json_round_trip_is_equal_and_predicts_the_same():
    f = fitted()
    text = f.to_json()
    back = FittedLaw.from_json(text)
    assert back == f and back.recipe.loss == "huber"
    df = pd.DataFrame({"model": ["a", "b"], "N": [3.0, 7.0]})
    assert np.array_equal(back.predict(df), f.predict(df))
    assert json.loads(text)["format"] == "sldagent.FittedLaw/1"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d.update(law="__import__('os').system('true')"), "bad law"),
        (lambda d: d.update(law="E + A / N**alpha + Z"), "bad law"),
        (lambda d: d.update(format="other/1"), "not a sldagent.FittedLaw/1 document"),
        (lambda d: d["params"]["a"].pop("E"), "'E'"),
        (lambda d: d.pop("features"), "'features'"),
    ],
)
def test_from_json_refuses_bad_documents(edit, needle: str):
    d = json.loads(fitted().to_json())
    edit(d)
    with pytest.raises(ValueError, match=needle):
        FittedLaw.from_json(json.dumps(d))
    with pytest.raises(ValueError, match="FittedLaw.from_json"):
        FittedLaw.from_json("not json")
