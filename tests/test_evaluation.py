"""Tests of sldagent.evaluation: the human laws on SLDBench (published constants and refits),
and fit_and_score against a hand computation on the tiny task."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sldagent.evaluation import (
    Baseline,
    baseline,
    evaluate_text,
    fit_and_score,
    human_law,
    human_recipe,
    score_constants,
)
from sldagent.fitters import FitRecipe, fit
from sldagent.law import LawError, parse_law
from sldagent.metrics import r2
from sldagent.task import load_task, load_test, load_train, split_validation

# ----------------------------------------------------------------- SLDBench (real data)

WITH_CONSTANTS = [
    "parallel_scaling_law",
    "vocab_scaling_law",
    "moe_scaling_law",
    "data_constrained_scaling_law",
    "lr_bsz_scaling_law",
]


@pytest.mark.parametrize("name", WITH_CONSTANTS)
def test_published_constants_reproduce_the_published_r2(data_root: Path, name: str):
    task = load_task(name)
    value = score_constants(task, load_test(task, data_root))
    assert value is not None
    assert value == pytest.approx(task.human.published_r2, abs=0.002)


def test_tasks_without_published_constants_score_none(data_root: Path):
    task = load_task("sft_scaling_law")
    assert task.human.constants is None
    assert score_constants(task, load_test(task, data_root)) is None


# The acceptance of the refitted human laws (fit on all train rows, scored once on test).
REFIT_AT_LEAST = {
    "sft_scaling_law": 0.99,
    "domain_mixture_scaling_law": 0.97,
    "vocab_scaling_law": 0.966,
    "lr_bsz_scaling_law": -0.076,
    "parallel_scaling_law": 0.999,
}


@pytest.mark.parametrize("name", sorted(REFIT_AT_LEAST))
def test_refitted_human_law_meets_the_acceptance(data_root: Path, name: str):
    task = load_task(name)
    result = baseline(task, data_root)
    assert isinstance(result, Baseline)
    assert result.task == name and result.published_r2 == task.human.published_r2
    assert math.isfinite(result.refit_r2)
    assert result.refit_r2 >= REFIT_AT_LEAST[name], result
    assert result.fit_seconds > 0
    assert result.law == human_law(task).text
    as_dict = result.to_dict()
    assert set(as_dict) == {
        "task",
        "published_r2",
        "constants_r2",
        "refit_r2",
        "fit_seconds",
        "law",
    }


# ----------------------------------------------------------------- the tiny task


@pytest.fixture
def tiny(tiny_toml: Path, tiny_root: Path):
    task = load_task(tiny_toml)
    return task, load_train(task, tiny_root), load_test(task, tiny_root)


def test_fit_and_score_equals_a_hand_computation(tiny):
    task, train, test = tiny
    law = parse_law("E + A * size**(-alpha)", task.features, task.targets)
    recipe = FitRecipe(bounds={"alpha": (0.0, 3.0)}, seed=3)

    scored = fit_and_score(law, recipe, train, test)

    # by hand: fit each group's train rows, predict its test rows, pool, R² = 1 - MSE/Var
    frame_train, frame_test = train.frame, test.frame
    y_true, y_pred = [], []
    for group in sorted(set(frame_test["group"])):
        rows = frame_train[frame_train["group"] == group]
        X = rows[["size", "mix"]].to_numpy(float)
        result = fit(law, X, rows["loss"].to_numpy(float), recipe)
        assert result.ok, result.message
        assert np.array_equal(result.theta, scored.fits[group].theta)
        test_rows = frame_test[frame_test["group"] == group]
        y_true.append(test_rows["loss"].to_numpy(float))
        y_pred.append(law.predict(test_rows[["size", "mix"]].to_numpy(float), result.theta)[:, 0])
    t, p = np.concatenate(y_true), np.concatenate(y_pred)
    assert scored.r2 == r2(t, p)
    assert scored.r2 == pytest.approx(1.0 - np.mean((t - p) ** 2) / np.var(t), rel=1e-12)
    assert sorted(scored.fits) == sorted(set(frame_train["group"]))
    assert scored.law is law and scored.fit_seconds >= 0


def test_a_group_whose_fit_fails_makes_the_pooled_r2_minus_inf(tiny):
    task, train, test = tiny
    law = human_law(task)  # 4 parameters; group 'b' has only 3 train rows
    scored = fit_and_score(law, human_recipe(task), train, test)
    assert not scored.fits["b"].ok and "3 rows" in scored.fits["b"].message
    assert scored.r2 == -math.inf


def test_human_recipe_carries_the_task_bounds_and_seed(tiny):
    task, _, _ = tiny
    recipe = human_recipe(task, seed=5)
    assert recipe.seed == 5
    assert dict(recipe.bounds) == task.human.bounds and dict(recipe.init) == task.human.init


def test_evaluate_text_gives_validation_and_test_r2(tiny, tiny_root: Path):
    task, train, test = tiny
    text = "E + A / size"
    recipe = FitRecipe()
    val, tst = evaluate_text(task, tiny_root, text, recipe)
    law = parse_law(text, task.features, task.targets)
    fit_rows, val_rows = split_validation(train)
    assert val == fit_and_score(law, recipe, fit_rows, val_rows).r2
    assert tst == fit_and_score(law, recipe, train, test).r2


def test_evaluate_text_says_why_a_group_cannot_be_fitted(tiny, tiny_root: Path):
    task, _, _ = tiny
    recipe = FitRecipe(bounds={"alpha": (0.0, 3.0)})
    with pytest.raises(ValueError, match="could not be fitted.*cannot fix 3 parameters"):
        evaluate_text(task, tiny_root, "E + A * size**(-alpha)", recipe)


def test_evaluate_text_enforces_the_parameter_budget(tiny, tiny_root: Path):
    task, _, _ = tiny
    with pytest.raises(LawError, match="budget is 4"):
        evaluate_text(task, tiny_root, "a + b*size + c*mix + d*size*mix + e", FitRecipe())
