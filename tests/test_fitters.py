"""Tests of sldagent.fitters: synthetic data from known laws (seeded), recovered by the fitter."""

from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pytest

from sldagent.fitters import FitRecipe, FitResult, fit, fit_groups, predict_groups
from sldagent.law import Law, parse_law
from sldagent.metrics import r2


def _law(text, features=("x",), targets=("y",)) -> Law:
    return parse_law(text, list(features), list(targets))


def _theta(law: Law, values: dict[str, float]) -> np.ndarray:
    return np.array([values[p] for p in law.params], dtype=float)


def _named(law: Law, result: FitResult) -> dict[str, float]:
    assert result.ok, result.message
    return dict(zip(law.params, result.theta.tolist(), strict=True))


def _assert_close(got: dict[str, float], want: dict[str, float], rtol: float) -> None:
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=rtol), (name, got, want)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ----------------------------------------------------------------- recovering known laws


CHINCHILLA = {"A": 400.0, "a": 0.34, "B": 410.0, "b": 0.28, "E": 1.69}


def _chinchilla_rows(rng, n: int, lo: float = 0.0, hi: float = 1.0):
    """Rows (N, D) on a log scale between fractions lo..hi of the full range."""
    u = rng.uniform(lo, hi, (n, 2))
    return np.column_stack([10 ** (6 + 3 * u[:, 0]), 10 ** (8 + 3 * u[:, 1])])


def test_sum_of_power_laws_is_recovered_and_extrapolates(rng):
    law = _law("A*x**(-a) + B*y**(-b) + E", ("x", "y"), ("loss",))
    true = _theta(law, CHINCHILLA)
    X = _chinchilla_rows(rng, 200, 0.0, 0.8)  # train on the smaller runs
    y = law.predict(X, true)[:, 0] + rng.normal(0, 1e-3, len(X))
    X_test = _chinchilla_rows(rng, 50, 0.8, 1.0)  # test on the larger ones
    y_test = law.predict(X_test, true)[:, 0] + rng.normal(0, 1e-3, len(X_test))

    result = fit(law, X, y, FitRecipe(bounds={"a": (0, 3), "b": (0, 3)}))

    assert result.ok and result.message == "ok"
    assert result.theta.shape == (5,) and result.n_evals > 0 and result.seconds >= 0
    assert r2(y_test, law.predict(X_test, result.theta)) > 0.999
    _assert_close(_named(law, result), CHINCHILLA, rtol=0.05)
    # exponents and offset are what extrapolation depends on: tighter
    _assert_close(_named(law, result), {k: CHINCHILLA[k] for k in ("a", "b", "E")}, rtol=0.01)


def test_saturating_law_is_recovered(rng):
    law = _law("L * x / (x + K) + c")
    want = {"L": 3.0, "K": 5.0, "c": 0.5}
    X = rng.uniform(0.1, 50.0, (100, 1))
    y = law.predict(X, _theta(law, want))[:, 0] + rng.normal(0, 1e-3, 100)
    result = fit(law, X, y, FitRecipe(bounds={"K": (0.01, 100.0)}))
    _assert_close(_named(law, result), want, rtol=0.01)
    X_test = rng.uniform(50.0, 200.0, (30, 1))
    y_test = law.predict(X_test, _theta(law, want))[:, 0]
    assert r2(y_test, law.predict(X_test, result.theta)) > 0.99


def _count_problems(monkeypatch) -> list[tuple[str, ...]]:
    """Spy on the fitter's inner solver: records the targets of every problem it solves."""
    from sldagent.fitters import varpro

    seen: list[tuple[str, ...]] = []
    inner = varpro._solve

    def spy(prob, theta):
        seen.append(tuple(prob.law.targets))
        return inner(prob, theta)

    monkeypatch.setattr(varpro, "_solve", spy)
    return seen


def test_multi_target_with_disjoint_params_fits_each_target_on_its_own(rng, monkeypatch):
    texts = {"y1": "a1*x**(-b1) + c1", "y2": "a2*exp(-b2*x) + c2"}
    law = _law(texts, targets=("y1", "y2"))
    want = {"a1": 2.0, "b1": 0.7, "c1": 0.3, "a2": 1.5, "b2": 0.4, "c2": -0.2}
    X = rng.uniform(1.0, 10.0, (80, 1))
    y = law.predict(X, _theta(law, want)) + rng.normal(0, 1e-3, (80, 2))

    solved = _count_problems(monkeypatch)
    joint = fit(law, X, y)
    _assert_close(_named(law, joint), want, rtol=0.02)
    assert solved == [("y1",), ("y2",)]

    # independent problems: the joint fit equals, bit for bit, the two single-target fits
    alone = []
    for j, target in enumerate(("y1", "y2")):
        single = _law(texts[target], targets=(target,))
        res = fit(single, X, y[:, j])
        assert res.ok, res.message
        alone.append(dict(zip(single.params, res.theta.tolist(), strict=True)))
    merged = alone[0] | alone[1]
    assert _named(law, joint) == merged


def test_multi_target_with_shared_params_is_one_problem(rng, monkeypatch):
    law = _law({"y1": "a1*x**(-b) + c1", "y2": "a2*x**(-b) + c2"}, targets=("y1", "y2"))
    want = {"a1": 2.0, "b": 0.7, "c1": 0.3, "a2": -1.5, "c2": 1.0}
    X = rng.uniform(1.0, 10.0, (80, 1))
    y = law.predict(X, _theta(law, want)) + rng.normal(0, 1e-3, (80, 2))
    solved = _count_problems(monkeypatch)
    result = fit(law, X, y)
    _assert_close(_named(law, result), want, rtol=0.01)
    assert solved == [("y1", "y2")]  # one joint problem: b must serve both targets


def test_bounds_are_respected_and_active_when_the_truth_lies_outside(rng):
    law = _law("A*x**(-a) + E")
    X = rng.uniform(1.0, 100.0, (50, 1))
    y = law.predict(X, [2.0, 0.5, 1.0])[:, 0] + rng.normal(0, 1e-3, 50)
    bounds = {"A": (0.0, 1.5), "a": (0.6, 3.0), "E": (1.1, 5.0)}  # truth: A=2, a=.5, E=1
    result = fit(law, X, y, FitRecipe(bounds=bounds, init={"a": (0.7, 2.0)}))
    got = _named(law, result)
    for name, (lo, hi) in bounds.items():
        assert lo <= got[name] <= hi, (name, got[name])
    assert got["a"] == pytest.approx(0.6) or got["E"] == pytest.approx(1.1)

    # a linear parameter only bounded: the bounded linear solve must hold it too
    result = fit(law, X, y, FitRecipe(bounds={"A": (0.0, 1.5)}))
    assert 0.0 <= _named(law, result)["A"] <= 1.5
    assert _named(law, result)["A"] == pytest.approx(1.5)


def test_pinned_parameter_low_equal_high_is_held_fixed(rng):
    law = _law("A*x**(-a) + E")
    X = rng.uniform(1.0, 100.0, (50, 1))
    y = law.predict(X, [2.0, 0.5, 1.0])[:, 0] + rng.normal(0, 1e-3, 50)
    for pins in ({"a": (0.45, 0.45)}, {"E": (1.2, 1.2)}, {n: (1.0, 1.0) for n in law.params}):
        result = fit(law, X, y, FitRecipe(bounds=pins))
        got = _named(law, result)
        for name, (value, _) in pins.items():
            assert got[name] == value
        assert np.all(np.isfinite(result.theta))


def test_only_linear_params_gives_the_exact_least_squares_answer(rng):
    law = _law("a + b*x + c*log(x)")
    assert law.linear_params(0) == (0, 1, 2)
    X = rng.uniform(1.0, 100.0, (50, 1))
    x = X[:, 0]
    y = 1.0 + 2.0 * x + 3.0 * np.log(x) + rng.normal(0, 0.5, 50)  # noisy: the lstsq is unique
    result = fit(law, X, y)
    design = np.column_stack([np.ones_like(x), x, np.log(x)])
    exact = np.linalg.lstsq(design, y, rcond=None)[0]
    got = _named(law, result)
    np.testing.assert_allclose([got["a"], got["b"], got["c"]], exact, rtol=1e-9, atol=1e-12)
    assert result.n_evals <= 2  # no multi-start: one linear solve


def test_linear_params_are_solved_not_searched(rng):
    """A huge amplitude far outside any start range is still found: it is solved by lstsq."""
    law = _law("A*x**(-a) + E")
    want = {"A": 3.0e7, "a": 0.8, "E": -250.0}
    X = rng.uniform(1.0, 1000.0, (60, 1))
    y = law.predict(X, _theta(law, want))[:, 0] + rng.normal(0, 1e-3, 60)
    result = fit(law, X, y, FitRecipe(n_starts=8, bounds={"a": (0.0, 3.0)}))
    _assert_close(_named(law, result), want, rtol=1e-3)


def test_huber_is_robust_to_outliers_where_linear_is_not(rng):
    law = _law("A*x**(-a) + E")
    want = {"A": 2.0, "a": 0.5, "E": 1.0}
    X = np.sort(rng.uniform(1.0, 100.0, (60, 1)), axis=0)
    y = law.predict(X, _theta(law, want))[:, 0] + rng.normal(0, 1e-3, 60)
    y[[5, 20, 40]] += [1.0, -0.8, 1.5]  # three gross outliers

    def worst(loss: str) -> float:
        got = _named(law, fit(law, X, y, FitRecipe(loss=loss)))
        return max(abs(got[k] - v) / abs(v) for k, v in want.items())

    assert worst("huber") < 0.02
    assert worst("soft_l1") < 0.02
    assert worst("linear") > 0.05


def test_log_target_fits_multiplicative_noise(rng):
    law = _law("A*x**(-a) + E")
    want = {"A": 3.0, "a": 0.5, "E": 0.5}
    X = rng.uniform(1.0, 100.0, (60, 1))
    y = law.predict(X, _theta(law, want))[:, 0] * np.exp(rng.normal(0, 1e-3, 60))
    result = fit(law, X, y, FitRecipe(log_target=True))
    _assert_close(_named(law, result), want, rtol=0.02)
    assert result.train_loss < 1e-4  # the loss is in log space: tiny


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_log_target_refuses_a_non_positive_target(rng, bad):
    law = _law("A*x**(-a)")
    X = rng.uniform(1.0, 100.0, (20, 1))
    y = 3.0 * X[:, 0] ** -0.5
    y[3] = bad
    result = fit(law, X, y, FitRecipe(log_target=True))
    assert not result.ok and result.theta is None
    assert "positive" in result.message
    assert fit(law, X, y).ok  # the same rows fit fine in linear space


@pytest.mark.parametrize(
    ("text", "recipe"),
    [
        ("exp(a*x)", FitRecipe()),
        ("exp(a*x)", FitRecipe(bounds={"a": (1.0, 10.0)})),  # every start overflows
        ("c*exp(a*x) + d", FitRecipe(init={"a": (-5.0, 5.0)})),
        ("exp(a*x) + b", FitRecipe(init={"a": (-10.0, 10.0)}, loss="huber")),
        ("x**a", FitRecipe(bounds={"a": (200.0, 300.0)}, log_target=True)),
    ],
)
def test_overflowing_law_never_raises_and_never_returns_nan(rng, text, recipe):
    law = _law(text)
    X = rng.uniform(500.0, 1500.0, (40, 1))
    y = np.abs(rng.normal(1.0, 1.0, 40)) + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a numpy RuntimeWarning escapes
        result = fit(law, X, y, recipe)
    if result.ok:
        assert result.theta is not None and np.all(np.isfinite(result.theta))
        assert np.all(np.isfinite(law.predict(X, result.theta)))
        assert math.isfinite(result.train_loss)
    else:
        assert result.theta is None and result.message and result.train_loss == math.inf


def test_all_starts_overflowing_gives_ok_false_with_a_message(rng):
    law = _law("exp(a*x)")
    X = rng.uniform(500.0, 1500.0, (40, 1))
    result = fit(law, X, rng.normal(0, 1, 40), FitRecipe(bounds={"a": (1.0, 10.0)}))
    assert not result.ok and "finite" in result.message


@pytest.mark.parametrize("n_rows", [0, 1, 2])
def test_too_few_rows_gives_ok_false_with_a_message(n_rows):
    law = _law("A*x**(-a) + E")
    X = np.arange(1.0, n_rows + 1.0).reshape(-1, 1)
    result = fit(law, X, np.ones(n_rows))
    assert not result.ok and result.theta is None
    assert f"{n_rows} rows" in result.message and "3 parameters" in result.message


def test_non_finite_rows_give_ok_false(rng):
    law = _law("A*x**(-a) + E")
    X = rng.uniform(1.0, 10.0, (20, 1))
    y = 1.0 + X[:, 0] ** -0.5
    y[0] = np.nan
    result = fit(law, X, y)
    assert not result.ok and "non-finite" in result.message


def test_y_with_the_wrong_number_of_targets_is_a_caller_error(rng):
    law = _law("A*x + E")
    with pytest.raises(ValueError, match="shape"):
        fit(law, np.ones((5, 1)), np.ones((5, 2)))


def test_law_without_parameters_is_scored_not_fitted(rng):
    law = _law("2*x")
    X = rng.uniform(1.0, 10.0, (10, 1))
    result = fit(law, X, 2 * X[:, 0])
    assert result.ok and result.theta.shape == (0,) and result.train_loss == 0.0


def test_time_limit_stops_an_expensive_fit(rng):
    law = _law("A*x**(-a) + B*y**(-b) + E", ("x", "y"), ("loss",))
    X = _chinchilla_rows(rng, 20_000)
    y = law.predict(X, _theta(law, CHINCHILLA))[:, 0] + rng.normal(0, 1e-3, len(X))
    recipe = FitRecipe(time_limit=0.2, n_starts=4096)  # untimed this takes seconds
    start = time.monotonic()
    result = fit(law, X, y, recipe)
    elapsed = time.monotonic() - start
    assert not result.ok and result.theta is None
    assert "time limit" in result.message and "0.2" in result.message
    assert elapsed < recipe.time_limit + 1.5


def test_same_seed_gives_identical_bits_and_another_seed_other_starts(rng):
    law = _law("A*x**(-a) + B*exp(-c*x) + E")
    want = {"A": 2.0, "a": 0.5, "B": 1.0, "c": 0.3, "E": 0.2}
    X = rng.uniform(1.0, 20.0, (60, 1))
    y = law.predict(X, _theta(law, want))[:, 0] + rng.normal(0, 1e-2, 60)
    first = fit(law, X, y, FitRecipe(seed=7, n_starts=16))
    again = fit(law, X, y, FitRecipe(seed=7, n_starts=16))
    assert first.ok and again.ok
    assert first.theta.tobytes() == again.theta.tobytes()
    assert first.train_loss == again.train_loss and first.n_evals == again.n_evals
    # the seed really drives the starts (else "deterministic" would be vacuous)
    from sldagent.fitters.varpro import _starts

    names, lo, hi = ["a", "c"], np.full(2, -np.inf), np.full(2, np.inf)
    s7 = _starts(FitRecipe(seed=7, n_starts=16), names, lo, hi)
    s8 = _starts(FitRecipe(seed=8, n_starts=16), names, lo, hi)
    assert s7.shape == (16, 2) and not np.array_equal(s7, s8)
    np.testing.assert_array_equal(s7, _starts(FitRecipe(seed=7, n_starts=16), names, lo, hi))


def test_fit_groups_fits_each_group_and_predict_groups_pools_them(rng):
    law = _law("A*x**(-a) + E")
    groups = []
    for i, (A, a, E) in enumerate([(2.0, 0.5, 1.0), (5.0, 0.3, 0.2)]):
        X = rng.uniform(1.0, 50.0, (30, 1))
        groups.append((f"g{i}", X, law.predict(X, [A, a, E])[:, 0]))
    fits = fit_groups(law, groups, FitRecipe())
    assert sorted(fits) == ["g0", "g1"] and all(f.ok for f in fits.values())
    assert fits["g0"].theta[0] == pytest.approx(2.0, rel=1e-4)
    assert fits["g1"].theta[0] == pytest.approx(5.0, rel=1e-4)
    y_true, y_pred = predict_groups(law, groups, fits)
    assert y_true.shape == y_pred.shape == (60, 1)
    assert r2(y_true, y_pred) > 0.999999
    # a group without a fit (or a failed fit) predicts NaN, so the pooled R² is -inf
    y_true, y_pred = predict_groups(law, groups, {"g0": fits["g0"]})
    assert np.isnan(y_pred[30:]).all() and r2(y_true, y_pred) == -math.inf


def test_a_group_gets_the_same_fit_alone_or_with_other_groups(rng):
    """fit_groups fits groups of equal size together as one stack; each group's result must
    not depend on its neighbours (nor on their order)."""
    law = _law("A*x**(-a) + E")
    groups = []
    for i in range(5):
        X = rng.uniform(1.0, 50.0, (30 if i < 4 else 17, 1))
        y = law.predict(X, [2.0 + i, 0.3 + 0.1 * i, 1.0])[:, 0] + rng.normal(0, 1e-2, len(X))
        groups.append((f"g{i}", X, y))
    recipe = FitRecipe(bounds={"a": (0.0, 3.0)}, n_starts=16)
    together = fit_groups(law, groups, recipe)
    backwards = fit_groups(law, groups[::-1], recipe)
    for name, X, y in groups:
        alone = fit(law, X, y, recipe)
        assert alone.ok and alone.theta.tobytes() == together[name].theta.tobytes()
        assert backwards[name].theta.tobytes() == together[name].theta.tobytes()
        assert alone.n_evals == together[name].n_evals


def test_groups_share_the_time_limit_of_their_number(rng):
    """A fit_groups call may take time_limit x groups; past that every group fails, fast."""
    law = _law("A*x**-a + B*y**-b + E", ("x", "y"), ("loss",))
    groups = [
        ("g0", (X := _chinchilla_rows(rng, 20_000)), law.predict(X, _theta(law, CHINCHILLA))[:, 0]),
        ("g1", (X := _chinchilla_rows(rng, 20_000)), law.predict(X, _theta(law, CHINCHILLA))[:, 0]),
    ]
    recipe = FitRecipe(time_limit=0.1, n_starts=4096)
    start = time.monotonic()
    fits = fit_groups(law, groups, recipe)
    assert time.monotonic() - start < 2 * recipe.time_limit + 1.5
    assert all(not f.ok and "time limit 0.1s" in f.message for f in fits.values())


# ----------------------------------------------------------------- FitRecipe


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "cauchy"}, "unknown loss"),
        ({"bounds": {"a": (2.0, 1.0)}}, "low 2.0 is above high 1.0"),
        ({"init": {"a": (1.0, 0.0)}}, "init for 'a'"),
        ({"n_starts": 0}, "at least 1"),
        ({"time_limit": 0.0}, "positive"),
        ({"f_scale": -1.0}, "positive"),
    ],
)
def test_recipe_validation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FitRecipe(**kwargs)


def test_recipe_round_trips_through_dict_and_json():
    recipe = FitRecipe(
        loss="soft_l1",
        f_scale=0.3,
        log_target=True,
        n_starts=17,
        n_local=3,
        n_polish=1,
        seed=42,
        time_limit=2.5,
        bounds={"a": (0.0, 3.0), "E": (-math.inf, 10.0)},
        init={"a": (0.1, 1.0)},
    )
    assert FitRecipe.from_dict(recipe.to_dict()) == recipe
    through_json = json.loads(json.dumps(recipe.to_dict(), allow_nan=True))
    assert FitRecipe.from_dict(through_json) == recipe
    assert FitRecipe.from_dict(FitRecipe().to_dict()) == FitRecipe()


def test_finding13_a_fit_without_a_finite_loss_says_what_happened():
    """x**e0 is finite everywhere here, but misses y ~ 5 (std 3e-8) by > 1e6 stds at every
    start: the message used to claim no start gave finite predictions."""
    law = _law("x**e0")
    X = np.linspace(1, 10, 20).reshape(-1, 1)
    y = 5 + 1e-8 * X[:, 0]
    assert np.all(np.isfinite(law.predict(X, np.array([0.5]))))
    result = fit(law, X, y)
    assert not result.ok
    assert "finite predictions" not in result.message
    assert "no start gave a finite loss" in result.message and "1e+06" in result.message


@pytest.mark.parametrize("scale", [1e160, 1e-160])
def test_finding05_a_target_out_of_float_range_fails_the_fit_instead_of_c0_zero(scale):
    """At y ~ 1e160 the fit used to return ok with c0 = 0 (squares overflowed)."""
    X = np.linspace(1, 10, 20).reshape(-1, 1)
    result = fit(_law("c0 + c1*x"), X, scale * (1 + X[:, 0]))
    assert not result.ok and "rescale the target" in result.message
    assert fit(_law("c0 + c1*x"), X, 1e140 * (1 + X[:, 0])).ok
