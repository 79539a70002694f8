"""The symbolic-regression baseline: real pyoperon fits on train rows, seeded, scored through
the law language; PySR that fails at import (any exception) counts as unavailable."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BENCH_TASKS

from sldagent.evaluation import score_predictor
from sldagent.law import parse_law
from sldagent.srbaseline import SRConfig, fit_sr, predictor, sr_inputs
from sldagent.task import load_task, load_train

DATA = BENCH_TASKS[0].parent / "data"
QUICK = dict(seconds=2.0, evaluations=20_000)


@pytest.fixture
def power():
    task = load_task(BENCH_TASKS[0])
    return task, load_train(task, DATA)


def test_pyoperon_fits_every_group_and_the_formulas_are_what_is_scored(power):
    task, train = power
    model = fit_sr(train, SRConfig(method="pyoperon", **QUICK))
    assert model.method == "pyoperon"
    assert sorted(model.formulas) == ["big", "small"]
    assert sr_inputs(task) == ["log(size)", "log(tokens)"]
    for group, X, y in train.groups():
        law = parse_law(model.formulas[group]["loss"], task.features, task.targets, max_nodes=2000)
        assert law.params == ()  # numbers only: nothing is refit when scoring
        fitted = predictor(task, model)(group, X)
        assert np.allclose(fitted, law.predict(X, np.zeros(0)))
        assert np.mean((fitted - y) ** 2) < 0.01 * np.var(y)  # it really fitted the train rows
    assert score_predictor(task, DATA, predictor(task, model)) > 0.9


def test_same_seed_same_formulas(power):
    _, train = power
    cfg = SRConfig(method="pyoperon", seconds=30.0, evaluations=4_000)  # bounded by evaluations
    assert fit_sr(train, cfg).formulas == fit_sr(train, cfg).formulas


def _broken_module(tmp_path: Path, name: str, error: str) -> Path:
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"raise {error}\n")
    return tmp_path


def test_pysr_failing_at_import_with_any_exception_falls_back_to_pyoperon(
    power, tmp_path: Path, monkeypatch
):
    # offline, PySR's import fails while setting up Julia, not with an ImportError
    site = _broken_module(tmp_path, "pysr", "RuntimeError('Julia could not be downloaded')")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    model = fit_sr(power[1], SRConfig(**QUICK))
    assert model.method == "pyoperon"
    assert "PySR failed to import" in model.note and "Julia could not be downloaded" in model.note


def test_neither_method_available_gives_an_empty_model_that_says_why(
    power, tmp_path: Path, monkeypatch
):
    site = _broken_module(tmp_path, "pysr", "RuntimeError('no Julia')")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    for name in [m for m in sys.modules if m == "pyoperon" or m.startswith("pyoperon.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyoperon", None)  # as if not installed
    model = fit_sr(power[1], SRConfig(**QUICK))
    assert model.method is None and model.formulas == {}
    assert "PySR failed to import" in model.note and "pyoperon failed" in model.note


def test_skipped_baseline_and_bad_settings():
    model = fit_sr(load_train(load_task(BENCH_TASKS[0]), DATA), SRConfig(method="none"))
    assert model.method is None and "skipped" in model.note
    with pytest.raises(ValueError, match="unknown SR method"):
        SRConfig(method="eureqa")
    with pytest.raises(ValueError, match="> 0"):
        SRConfig(seconds=0)
