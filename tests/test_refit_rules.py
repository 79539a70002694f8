"""Tests of sldagent.search.refit_rules: the weighted refit is weighted least squares, bagging
prefers the law whose extrapolation stays put, and both are deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from json_tasks import write_task

from sldagent.fitters import FitRecipe, fit_groups
from sldagent.law import parse_law
from sldagent.search.refit_rules import REFIT_RULES, bagging, extrapolation_spread
from sldagent.search.rules import Finalist, RunView, describe
from sldagent.task import load_task, load_train, split_validation

STABLE = "E + A*N**(-alpha)"
WIGGLY = "c0 + c1*N + c2*N**2 + c3*N**3 + c4*N**4"


@pytest.fixture(scope="module")
def train(tmp_path_factory):
    root = tmp_path_factory.mktemp("dev")
    write_task(root)
    return load_train(load_task("toy_power", root), root)


def _view(*laws: tuple[int, str, float]) -> RunView:
    """Finalists with equal fold errors and gaps (so only fitness orders them under the shipped
    score), each law's record in the candidates."""
    recipe = FitRecipe(seed=0).to_dict()
    finalists = tuple(Finalist(i, fit, (-2.0, -2.0), 0.01, 10, 3) for i, _, fit in laws)
    records = tuple(
        {
            "id": i,
            "ok": True,
            "fitness": fit,
            "complexity": 10,
            "n_params": 3,
            "law": law,
            "recipe": recipe,
        }
        for i, law, fit in laws
    )
    return RunView(tuple(sorted(finalists, key=lambda f: f.fitness)), records, 0.0, 12.0)


def test_weighted_refit_is_weighted_least_squares(train):
    view = _view((0, "c0 + c1*log(N)", -2.0), (1, STABLE, -1.0))
    pick = REFIT_RULES["weighted_x4"](view, train)
    assert pick.id == 0  # the shipped choice
    _, val = split_validation(train)
    assert len(pick.fit_rows) == len(train) + 3 * len(val)
    law = parse_law("c0 + c1*log(N)", train.task.features, train.task.targets)
    fits = fit_groups(law, pick.fit_rows.groups(), FitRecipe(seed=0))
    top = set(map(tuple, val.frame[["group", "N"]].to_numpy()))
    for g, X, y in train.groups():
        w = np.array([4.0 if (g, n) in top else 1.0 for n in X[:, 0]])
        A = np.column_stack([np.ones(len(X)), np.log(X[:, 0])]) * np.sqrt(w)[:, None]
        coef = np.linalg.lstsq(A, y[:, 0] * np.sqrt(w), rcond=None)[0]
        theta = dict(zip(law.params, fits[g].theta, strict=True))
        assert [theta["c0"], theta["c1"]] == pytest.approx(coef, rel=1e-6)
    unweighted = REFIT_RULES["weighted_x2"](view, train)
    assert len(unweighted.fit_rows) == len(train) + len(val)


def test_bagging_prefers_the_law_whose_extrapolation_stays_put(train):
    view = _view((0, WIGGLY, -3.0), (1, STABLE, -2.5))
    assert bagging(view, train).id == 1  # the shipped score would take 0 (better fitness)
    assert bagging(view, train) == bagging(view, train)  # seeded resamples


def test_extrapolation_spread_orders_the_two_laws(train):
    from sldagent.search.folds import Fold, probe_features
    from sldagent.search.refit_rules import _resample
    from sldagent.task import Dataset

    fit, val = split_validation(train)
    frame = val.frame.copy()
    frame[list(train.task.features)] = probe_features(Fold(fit, val))
    probe = Dataset(train.task, frame, train.path, "probe")
    assert probe.X[:, 0].max() > train.X[:, 0].max()  # one step beyond the training range
    rng = np.random.default_rng(0)
    resamples = [_resample(train, rng) for _ in range(6)]
    recipe = FitRecipe(seed=0).to_dict()
    stable = extrapolation_spread(STABLE, recipe, resamples, probe)
    wiggly = extrapolation_spread(WIGGLY, recipe, resamples, probe)
    assert 0 < stable < wiggly
    assert extrapolation_spread(STABLE, recipe, resamples, probe) == stable  # deterministic


def test_every_refit_rule_is_described_in_one_line():
    for rule in REFIT_RULES.values():
        text = describe(rule)
        assert text and "\n" not in text
