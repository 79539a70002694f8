"""Tests for sldagent.law: the safe law language (parser whitelist, numpy compilation, Jacobian,
round trip through text, canonical key)."""

from __future__ import annotations

import builtins
import contextlib
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sldagent.law as law_module
from sldagent.law import Law, LawError, parse_law

F = ["x", "y"]
T = ["t"]

# --- 1. hostile inputs ---------------------------------------------------------------------------

DEEP_PARENS = "(" * 300 + "x" + ")" * 300
DEEP_CALLS = "exp(" * 60 + "x" + ")" * 60
POW_TOWER = "x**" * 600 + "x"
LONG_TEXT = "x" + "+x" * 2000  # 4001 characters
MANY_NODES = " + ".join(f"a{i}*x**b{i}" for i in range(20))
HUGE_INT = "1" + "0" * 300
TOWER_EXP = "x**exp(exp(exp(exp(100))))"  # sympy's own evalf of this never returns

# (text, extra keyword arguments for parse_law, substring the message must contain or None)
HOSTILE = [
    ("__import__('os').system('ls')", {}, "attribute"),
    ("x.real", {}, "attribute"),
    ("a.__class__", {}, "attribute"),
    ("x.__class__.__bases__", {}, "attribute"),
    ("__import__", {}, "not allowed"),
    ("__class__", {}, "not allowed"),
    ("_private * x", {}, "not allowed"),
    ("lambda: 1", {}, "lambda"),
    ("lambda x: x", {}, "lambda"),
    ("[i for i in x]", {}, "comprehension"),
    ("{i: 1 for i in x}", {}, "comprehension"),
    ("{i for i in x}", {}, "comprehension"),
    ("sum(i for i in x)", {}, "not allowed"),
    ("exp(i for i in x)", {}, "comprehension"),
    ("'ls'", {}, "only numbers"),
    ("b'ls'", {}, "only numbers"),
    ("x + 'a'", {}, "only numbers"),
    ("f'{x}'", {}, "not allowed"),
    ("x[0]", {}, "index"),
    ("exp(x)[0]", {}, "index"),
    ("open(x)", {}, "'open' is not allowed"),
    ("eval('1')", {}, "'eval' is not allowed"),
    ("exec('1')", {}, "'exec' is not allowed"),
    ("getattr(x, 'real')", {}, "'getattr' is not allowed"),
    ("sin(x)", {}, "'sin' is not allowed"),
    ("exp(eval('1'))", {}, "'eval' is not allowed"),
    ("log(x) + max(x, open('f'))", {}, "'open' is not allowed"),
    ("exp(x)(y)", {}, "named functions"),
    ("exp(x=1)", {}, "keyword"),
    ("exp(**x)", {}, "keyword"),
    ("exp(*x)", {}, "*arguments"),
    ("max(x, *y)", {}, "*arguments"),
    ("(a := 1)", {}, "NamedExpr"),
    ("x < y", {}, "Compare"),
    ("x == y", {}, "Compare"),
    ("x and y", {}, "BoolOp"),
    ("not x", {}, "not allowed"),
    ("x if y else a", {}, "IfExp"),
    ("(x, y)", {}, "Tuple"),
    ("[x, y]", {}, "List"),
    ("{x: y}", {}, "Dict"),
    ("{x, y}", {}, "Set"),
    ("9**9**9", {}, "too large"),
    ("2**1000", {}, "too large"),
    ("x**1000", {}, "too large"),
    ("x**-65", {}, "too large"),
    ("x**(2**100)", {}, "too large"),
    ("(10**60)**60", {}, None),
    ("exp(1000) * x", {}, "overflow"),
    (f"x * {HUGE_INT} * {HUGE_INT}", {}, "too large"),
    (f"x**({HUGE_INT} * {HUGE_INT})", {}, "too large"),
    ("9" * 3000, {}, "too large"),
    ("1e999 * x", {}, "not finite"),
    (TOWER_EXP, {}, None),
    ("exp(exp(exp(exp(exp(100))))) * x", {}, "overflow"),
    (LONG_TEXT, {}, "characters"),
    (DEEP_PARENS, {}, None),
    (DEEP_CALLS, {}, "nested"),
    (POW_TOWER, {}, None),
    ("-" * 3990 + "x**" * 3 + "x", {"max_nodes": 4000}, None),
    (MANY_NODES, {"max_nodes": 50}, "nodes"),
    ("a*x + b*y + c", {"max_nodes": 5}, "nodes"),
    ("1/0", {}, "division by zero"),
    ("x / (y - y)", {}, "division by zero"),
    ("log(0)", {}, "non-positive"),
    ("log(x - x) + x", {}, "non-positive"),
    ("log(-1)", {}, "non-positive"),
    ("x**log(0)", {}, "non-positive"),
    ("min(log(-1), x)", {}, "non-positive"),
    ("max(x, 1/0)", {}, "division by zero"),
    ("sqrt(-1)", {}, "not a finite real"),
    ("sqrt(log(0.5)) * x", {}, "not a finite real"),
    ("(-8)**(1/3)", {}, "not a finite real"),
    ("0**-1", {}, "undefined"),
    ("0**a * x", {}, "symbolic power"),
    ("a; b", {}, "syntax"),
    ("x = 1", {}, "syntax"),
    ("import os", {}, "syntax"),
    ("x\nimport os", {}, "syntax"),
    ("x +", {}, "syntax"),
    ("x\x00", {}, None),
    ("", {}, "empty"),
    ("   ", {}, "empty"),
    ("True", {}, "only numbers"),
    ("False * x", {}, "only numbers"),
    ("None", {}, "only numbers"),
    ("...", {}, "only numbers"),
    ("1j * x", {}, "only numbers"),
    ("x @ y", {}, "MatMult"),
    ("x & y", {}, "BitAnd"),
    ("x | y", {}, "BitOr"),
    ("x ^ y", {}, "BitXor"),
    ("x << 1", {}, "LShift"),
    ("x >> 1", {}, "RShift"),
    ("~x", {}, "not allowed"),
    ("x % 2", {}, "Mod"),
    ("x // 2", {}, "FloorDiv"),
    ("min(x)", {}, "arguments"),
    ("max(x)", {}, "arguments"),
    ("exp(x, y)", {}, "arguments"),
    ("exp()", {}, "arguments"),
    ("min(" + ", ".join(["x"] * 9) + ")", {}, "arguments"),
    ("exp", {}, "without a call"),
    ("exp + x", {}, "without a call"),
    ("a*x + z", {"params": ["a", "b"]}, "unknown name 'z'"),
    ("a*x + b*y + c", {"max_params": 2}, "budget"),
    ("a*x**b + c*y**d + e", {"max_params": 4}, "budget"),
    ("await x", {}, "not allowed"),
    # sympy rewrites these into functions outside the language (re, cos) or refuses them
    ("abs(a * 81.15795821996798**sqrt(c))", {}, "not in the law language"),
    ("abs(exp(a**log(x)))", {}, "not in the law language"),
    ("max(a, sqrt(min(0.9115235723190208, -13, x)))", {}, "real-valued"),
    ("exp(65.2411951452722 * (max(y, c) + log(c)))", {}, "too large"),
    ("(yield x)", {}, "not allowed"),
]


class _Hung(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Turn a hang (e.g. sympy evaluating exp(exp(exp(...)))) into a test failure."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise _Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _parse_hostile(text, kwargs):
    with _time_limit(10.0):
        return parse_law(text, F, T, **kwargs)


@pytest.mark.parametrize(
    ("text", "kwargs", "needle"),
    [pytest.param(t, k, n, id=f"{i:03d}:{t[:30]!r}") for i, (t, k, n) in enumerate(HOSTILE)],
)
def test_hostile_text_is_refused_cleanly(text, kwargs, needle):
    start = time.perf_counter()
    with pytest.raises(LawError) as info:
        _parse_hostile(text, kwargs)
    elapsed = time.perf_counter() - start
    err = info.value
    assert type(err) is LawError
    message = str(err)
    assert message and "\n" not in message, message
    assert len(message) < 300, message
    # no chained traceback from somewhere else
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__
    if needle is not None:
        assert needle.lower() in message.lower(), message
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


def test_there_are_many_hostile_cases():
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize(
    ("text", "targets"),
    [
        ("x", ["t1", "t2"]),
        ({"t1": "x"}, ["t1", "t2"]),
        ({"t1": "x", "t2": "y", "t3": "a"}, ["t1", "t2"]),
        ({"t1": "x", "t2": 3}, ["t1", "t2"]),
        ({"t1": "x", "t2": "x.real"}, ["t1", "t2"]),
        (None, ["t"]),
        (42, ["t"]),
    ],
)
def test_multi_target_mistakes_are_refused(text, targets):
    with pytest.raises(LawError) as info:
        parse_law(text, F, targets)
    assert "\n" not in str(info.value)


def test_multi_target_missing_formula_names_the_target():
    with pytest.raises(LawError, match="missing.*t2"):
        parse_law({"t1": "a*x"}, F, ["t1", "t2"])


def test_parameter_budget_counts_all_targets():
    texts = {"t1": "a*x + b", "t2": "c*y + b"}
    assert parse_law(texts, F, ["t1", "t2"], max_params=3).params == ("a", "b", "c")
    with pytest.raises(LawError, match="budget"):
        parse_law(texts, F, ["t1", "t2"], max_params=2)


def test_declared_params_are_accepted():
    law = parse_law("a*x + b", F, T, params=["a", "b", "c"])
    assert law.params == ("a", "b")


def test_law_module_source_never_evaluates_text():
    src = Path(law_module.__file__).read_text()
    assert not re.search(r"(^|[^.\w])(eval|exec|compile)\(|sympify\(|parse_expr\(", src, re.M)
    assert "import builtins" not in src
    assert not re.search(r"\bS\(", src)  # sympy.S("...") would sympify text too


def test_nothing_is_evaluated_at_runtime(monkeypatch):
    """Parse and use laws with eval (and exec of text) booby-trapped."""
    import sympy.parsing.sympy_parser as sympy_parser

    real_exec = builtins.exec

    def trap(*args, **kwargs):
        raise AssertionError("eval / parse_expr called")

    def exec_code_only(src, *args, **kwargs):  # imports exec code objects; text is refused
        if isinstance(src, str | bytes):
            raise AssertionError("exec of text called")
        return real_exec(src, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", trap)
    monkeypatch.setattr(builtins, "exec", exec_code_only)
    monkeypatch.setattr(sympy_parser, "parse_expr", trap)
    feats = ["num_params", "parallel_size"]
    texts = [
        "(A / (num_params * (k * log(parallel_size) + 1)))**alpha + E",
        "min(num_params, tanh(k)) + abs(a - sqrt(parallel_size)) + max(1, exp(-b*num_params))",
    ]
    X = np.array([[1e9, 2.0], [2e9, 4.0]])
    for text in texts:
        law = parse_law(text, feats, ["loss"])
        theta = np.linspace(0.5, 1.5, len(law.params))
        assert np.all(np.isfinite(law.predict(X, theta)))
        assert law.jacobian(X, theta).shape == (2, 1, len(law.params))
        assert law.key and law.latex() and law.positive_features() is not None
        assert parse_law(law.text, feats, ["loss"]).key == law.key
        with pytest.raises(LawError):
            parse_law("__import__('os').system('echo hacked')", feats, ["loss"])


def test_deepest_accepted_law_still_prints_and_differentiates():
    depth = law_module.MAX_DEPTH
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    # x/(y + ...) adds three sympy levels (Mul, Pow(..., -1), Add) per level; a**(x*...) two
    fraction, tower = "a", "a"
    for _ in range(depth // 3 - 1):
        fraction = f"x/(y + {fraction})"
    for _ in range(depth // 2 - 1):
        tower = f"a**(x*{tower})"
    for text in (fraction, tower):
        law = parse_law(text, F, T)
        assert law.text and law.key and law.latex() and law.linear_params(0) is not None
        assert parse_law(law.text, F, T).exprs == law.exprs
        assert law.jacobian(X, [0.5]).shape == (2, 1, 1)
    nested = "tanh(" * (depth - 2) + "a*x" + ")" * (depth - 2)
    law = parse_law(nested, F, T)
    assert parse_law(law.text, F, T).exprs == law.exprs
    assert np.all(np.isfinite(law.jacobian(X, [0.3])))
    with pytest.raises(LawError, match="nested"):
        parse_law("tanh(" * (depth + 1) + "x" + ")" * (depth + 1), F, T)


# laws that once failed to round-trip or to differentiate (found by random testing)
REGRESSIONS = [
    "2.5*x*2",
    "sqrt(2*x)",
    "x*2**3",
    "1 - 1e15 + x",
    "-(x + exp(-708.5))",
    "min((x + b + (-8 + b)) / -min(a, x), 21.436053057226374)",
    "log((y - c) / (y + c) - max(y, x, b) * (a - -5))",
    "(exp(0.5 - -16) - max(a, min(1/3, -6.4041684868591915)))"
    " * ((tanh(-1) - (x - x)) / (abs(x) + c))",
    "max(x, min(tanh(0.1) + abs(x), max(min(a, x), min(b, -64.09180558911554, x), exp(c)), "
    "log(-b)), y)",
    "abs(max(a, 20) / tanh(sqrt(x)))",
    "abs(-abs(abs(c)))",
    "(-1)**a",
    "abs(a - sqrt(y))",
    "-exp(min(log(x), -85.22271557289531, -c)) - y**x / -b",
    "min(-exp(c) - x - y*47.76789318997069, exp(max(exp(x), 17 / a)), log(-5 / b / a))",
]


@pytest.mark.parametrize("text", REGRESSIONS)
def test_regressions_round_trip_and_differentiate(text):
    law = parse_law(text, F, T)
    again = parse_law(law.text, F, T)
    assert again.exprs == law.exprs, (law.text, again.text)
    assert again.key == law.key
    theta = np.linspace(0.6, 1.4, len(law.params))
    assert law.jacobian(_X, theta).shape == (len(_X), 1, len(law.params))
    assert all(0 <= i < len(law.params) for i in law.linear_params(0))
    assert law.latex().startswith(r"\mathrm{t} = ")


# --- 2. accepted laws ----------------------------------------------------------------------------

HUMAN_LAWS = [
    (
        "(A / (num_params * (k * log(parallel_size) + 1)))**alpha + E",
        ["num_params", "parallel_size"],
        ("A", "k", "alpha", "E"),
    ),
    (
        "A / N**alpha + B / V**beta + C / D**gamma + E",
        ["N", "V", "D"],
        ("A", "alpha", "B", "beta", "C", "gamma", "E"),
    ),
    ("B / (D_l + D**beta) + E", ["D"], ("B", "D_l", "beta", "E")),
    (
        "exp(a*log(N) + b*log(E) + c*log(N)*log(E) + d)",
        ["N", "E"],
        ("a", "b", "c", "d"),
    ),
    (
        "L0 + A * min(lr, lr_max)**p + B * abs(log(lr) - m)**2 + C * tanh(bsz / s) + sqrt(bsz) * q",
        ["lr", "bsz"],
        ("L0", "A", "lr_max", "p", "B", "m", "C", "s", "q"),
    ),
    ("max(c0, A * N**-alpha) + 1.5e-3 * N**0.5", ["N"], ("c0", "A", "alpha")),
]


@pytest.mark.parametrize(("text", "features", "params"), HUMAN_LAWS)
def test_human_law_shapes_parse_with_params_in_order_of_appearance(text, features, params):
    law = parse_law(text, features, ["loss"])
    assert isinstance(law, Law)
    assert law.params == params
    assert law.features == tuple(features)
    assert law.targets == ("loss",)
    assert len(law.exprs) == 1 and isinstance(law.exprs[0], sympy.Expr)
    again = parse_law(law.text, features, ["loss"])
    assert again.exprs == law.exprs and again.key == law.key


def _rng_inputs(n=25, d=2, seed=0, lo=0.5, hi=4.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, d))


def test_predict_matches_numpy_parallel_law():
    law = parse_law(
        "(A / (num_params * (k * log(parallel_size) + 1)))**alpha + E",
        ["num_params", "parallel_size"],
        ["loss"],
    )
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(1e8, 1e10, 30), rng.choice([1.0, 2.0, 4.0, 8.0], 30)])
    A, k, alpha, E = 3e9, 0.4, 0.3, 1.7
    expected = (A / (X[:, 0] * (k * np.log(X[:, 1]) + 1))) ** alpha + E
    got = law.predict(X, [A, k, alpha, E])
    assert got.shape == (30, 1)
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-12)


def test_predict_matches_numpy_chinchilla_like():
    law = parse_law("A / N**alpha + B / V**beta + C / D**gamma + E", ["N", "V", "D"], ["loss"])
    X = _rng_inputs(40, 3, seed=2, lo=1e3, hi=1e9)
    th = [400.0, 0.34, 20.0, 0.2, 410.0, 0.28, 1.69]
    A, alpha, B, beta, C, gamma, E = th
    expected = A / X[:, 0] ** alpha + B / X[:, 1] ** beta + C / X[:, 2] ** gamma + E
    np.testing.assert_allclose(law.predict(X, th)[:, 0], expected, rtol=1e-12)


def test_predict_matches_numpy_with_min_max_abs_tanh_sqrt():
    law = parse_law(
        "a * min(x, y, 2) + max(b, x*y) - abs(x - c) + tanh(y / a) * sqrt(x) + exp(-y) * log(x)",
        F,
        T,
    )
    assert law.params == ("a", "b", "c")
    X = _rng_inputs(50, 2, seed=3)
    a, b, c = 1.3, 2.2, 1.9
    x, y = X[:, 0], X[:, 1]
    expected = (
        a * np.minimum(np.minimum(x, y), 2)
        + np.maximum(b, x * y)
        - np.abs(x - c)
        + np.tanh(y / a) * np.sqrt(x)
        + np.exp(-y) * np.log(x)
    )
    np.testing.assert_allclose(law.predict(X, [a, b, c])[:, 0], expected, rtol=1e-12)


def test_predict_without_params_and_constant_laws():
    law = parse_law("x + 2*y", F, T)
    assert law.params == ()
    X = _rng_inputs(5)
    np.testing.assert_allclose(law.predict(X, [])[:, 0], X[:, 0] + 2 * X[:, 1])
    assert law.jacobian(X, []).shape == (5, 1, 0)
    const = parse_law("c", F, T)
    np.testing.assert_allclose(const.predict(X, [2.5]), np.full((5, 1), 2.5))
    np.testing.assert_allclose(const.jacobian(X, [2.5]), np.ones((5, 1, 1)))


def test_predict_rejects_wrong_X_shape():
    law = parse_law("a*x + y", F, T)
    with pytest.raises(ValueError):
        law.predict(np.ones((3, 3)), [1.0])
    with pytest.raises(ValueError):
        law.predict(np.ones(3), [1.0])


def test_predict_leaves_non_finite_values():
    law = parse_law("log(x) + a", F, T)
    out = law.predict(np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), [1.0])
    assert np.isnan(out[0, 0]) and np.isneginf(out[1, 0]) and out[2, 0] == 1.0


def _central_differences(law, X, theta, rel=1e-6):
    theta = np.asarray(theta, dtype=float)
    cols = []
    for i in range(len(theta)):
        h = rel * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        cols.append((law.predict(X, up) - law.predict(X, down)) / (2 * h))
    return np.stack(cols, axis=2)


JACOBIAN_LAWS = [
    ("A*x**-a + E", [2.0, 0.5, 1.0]),
    ("(A / (x * (k * log(y) + 1)))**alpha + E", [3.0, 0.4, 0.3, 1.7]),
    ("exp(a*log(x) + b*log(y) + c*log(x)*log(y) + d)", [0.3, -0.2, 0.05, 0.1]),
    ("B / (D_l + x**beta) + E", [2.0, 1.5, 0.7, 0.2]),
    ("a * min(x, b) + max(c*y, 1.2)", [1.5, 2.2, 0.9]),
    ("a * min(x, b, y) + max(c*y, 1.2, x) - max(x, y, c)", [1.5, 2.2, 0.9]),
    ("abs(x - a) * b + tanh(c * y)", [2.1, 1.3, 0.4]),
    ("sqrt(a + x) * tanh(b*y) + min(x*c, y, 3)", [0.5, 0.8, 0.9]),
    ("a**x + b / (1 + exp(-c*(y - 2)))", [1.1, 2.0, 1.5]),
]


@pytest.mark.parametrize(("text", "theta"), JACOBIAN_LAWS)
def test_jacobian_matches_central_differences(text, theta):
    law = parse_law(text, F, T)
    assert len(law.params) == len(theta)
    X = _rng_inputs(40, 2, seed=4, lo=1.1, hi=3.9)
    J = law.jacobian(X, theta)
    assert J.shape == (40, 1, len(theta))
    np.testing.assert_allclose(J, _central_differences(law, X, theta), rtol=1e-5, atol=1e-8)


def test_parameter_only_division_by_zero_is_inf_not_an_exception():
    """1/(b - 1) at b = 1 is computed on a Python float: it must give inf like an array would."""
    law = parse_law("a / (b - 1) + x", F, T)
    X = _rng_inputs(3, 2, seed=8)
    with np.errstate(all="ignore"):
        out = law.predict(X, [2.0, 1.0])
        J = law.jacobian(X, [2.0, 1.0])
    assert np.all(np.isinf(out)) and J.shape == (3, 1, 2)


@pytest.mark.parametrize(("text", "theta"), JACOBIAN_LAWS)
def test_batched_evaluate_equals_one_fit_at_a_time(text, theta):
    """evaluate() over a stack of parameter vectors gives, row for row, predict and jacobian."""
    law = parse_law(text, F, T)
    X = _rng_inputs(30, 2, seed=9, lo=1.1, hi=3.9)
    thetas = np.array(theta) * np.array([[1.0], [1.1], [0.9]])  # three fits, (3, p)
    cols = [np.tile(X[:, j], (3, 1)) for j in range(2)]  # (3, n) each
    which = tuple(range(len(theta)))
    out = law.evaluate(cols, [thetas[:, i : i + 1] for i in which], which)
    assert out.shape == (1 + len(theta), 3, 30)
    for b in range(3):
        np.testing.assert_allclose(out[0, b], law.predict(X, thetas[b])[:, 0], rtol=1e-13)
        np.testing.assert_allclose(out[1:, b].T, law.jacobian(X, thetas[b])[:, 0, :], rtol=1e-13)
    # value only, and derivatives only for some parameters
    np.testing.assert_array_equal(law.evaluate(cols, list(thetas.T[:, :, None])), out[:1])
    last = law.evaluate(cols, list(thetas.T[:, :, None]), (len(theta) - 1,), value=False)
    np.testing.assert_array_equal(last, out[-1:])


MULTI = {"t1": "a*x**-b + c", "t2": "d*log(x) + c*y + tanh(e*y)"}


def test_multi_target_shapes_and_target_params():
    law = parse_law(MULTI, F, ["t1", "t2"])
    assert law.targets == ("t1", "t2")
    assert law.params == ("a", "b", "c", "d", "e")
    X = _rng_inputs(7, 2, seed=5)
    theta = [2.0, 0.5, 1.0, 0.3, 0.7]
    pred = law.predict(X, theta)
    assert pred.shape == (7, 2)
    x, y = X[:, 0], X[:, 1]
    np.testing.assert_allclose(pred[:, 0], 2.0 * x**-0.5 + 1.0)
    np.testing.assert_allclose(pred[:, 1], 0.3 * np.log(x) + 1.0 * y + np.tanh(0.7 * y))
    J = law.jacobian(X, theta)
    assert J.shape == (7, 2, 5)
    np.testing.assert_allclose(J, _central_differences(law, X, theta), rtol=1e-5, atol=1e-8)
    assert law.target_params(0) == (0, 1, 2)
    assert law.target_params(1) == (2, 3, 4)
    # params a target does not use have a zero Jacobian column
    assert np.all(J[:, 0, 3:] == 0) and np.all(J[:, 1, :2] == 0)
    assert law.linear_params(0) == (0, 2)
    assert law.linear_params(1) == (2, 3)
    assert isinstance(law.text, dict) and set(law.text) == {"t1", "t2"}
    again = parse_law(law.text, F, ["t1", "t2"])
    assert again.exprs == law.exprs and again.key == law.key
    assert law.latex().count(r"\mathrm{t") == 2


def test_multi_target_order_follows_targets_not_mapping():
    a = parse_law({"t2": "y*b", "t1": "x*a"}, F, ["t1", "t2"])
    b = parse_law({"t1": "x*a", "t2": "y*b"}, F, ["t1", "t2"])
    assert a.exprs == b.exprs and a.params == b.params == ("a", "b")


@pytest.mark.parametrize(
    ("text", "features", "linear"),
    [
        ("A*x**-a + E", ["x"], ("A", "E")),
        (
            "(A / (num_params * (k * log(parallel_size) + 1)))**alpha + E",
            ["num_params", "parallel_size"],
            ("E",),
        ),
        ("A / N**alpha + B / V**beta + E", ["N", "V"], ("A", "B", "E")),
        ("B / (D_l + D**beta) + E", ["D"], ("B", "E")),
        ("exp(a*log(N) + d)", ["N"], ()),
        ("a*b*x + c", ["x"], ("a", "c")),
        ("a*min(x, b) + c", ["x"], ("a", "c")),
        ("a*x + b*x**2 + c*log(x) + d", ["x"], ("a", "b", "c", "d")),
    ],
)
def test_linear_params(text, features, linear):
    law = parse_law(text, features, ["loss"])
    assert tuple(law.params[i] for i in law.linear_params(0)) == linear


def test_linear_params_really_enter_linearly():
    """With the nonlinear params fixed, the prediction is affine in the linear ones."""
    law = parse_law("A / N**alpha + B / V**beta + E", ["N", "V"], ["loss"])
    lin = law.linear_params(0)
    X = _rng_inputs(10, 2, seed=6, lo=10, hi=1e4)
    theta = np.array([3.0, 0.3, 2.0, 0.2, 1.5])
    J = law.jacobian(X, theta)[:, 0, :]
    base = theta.copy()
    base[list(lin)] = 0.0
    np.testing.assert_allclose(
        law.predict(X, theta)[:, 0],
        law.predict(X, base)[:, 0] + J[:, lin] @ theta[list(lin)],
        rtol=1e-12,
    )


def test_key_is_invariant_to_parameter_names():
    a = parse_law("A*x**-a + E", F, T)
    b = parse_law("Zeta*x**-q + C0", F, T)
    c = parse_law("E + A/x**a", F, T)
    assert a.key == b.key == c.key
    multi1 = parse_law({"t1": "p*x + q", "t2": "r*y**q"}, F, ["t1", "t2"])
    multi2 = parse_law({"t1": "u*x + b", "t2": "a*y**b"}, F, ["t1", "t2"])
    assert multi1.key == multi2.key
    parallel = "(A / (x * (k * log(y) + 1)))**alpha + E"
    renamed = "(Q / (x * (w * log(y) + 1)))**r + B"
    assert parse_law(parallel, F, T).key == parse_law(renamed, F, T).key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("A*x**-a + E", "A*x**a + E"),
        ("A*x**-a + E", "A*y**-a + E"),
        ("A*x**-a + E", "A*x**-a"),
        ("A*x**-a + E", "A*exp(-a*x) + E"),
        ("a*x + b*y", "a*x + a*y"),
        ("a*x + b", "a*(x + b)"),
        ("min(a, x)", "max(a, x)"),
        ("a*x + b*y**c", "a*y + b*x**c"),
    ],
)
def test_key_differs_for_different_structures(first, second):
    assert parse_law(first, F, T).key != parse_law(second, F, T).key


def test_latex():
    law = parse_law(
        "(A / (num_params * (k * log(parallel_size) + 1)))**alpha + E",
        ["num_params", "parallel_size"],
        ["loss"],
    )
    tex = law.latex()
    assert isinstance(tex, str) and tex.strip()
    assert r"\mathrm{num\_params}" in tex and r"\mathrm{parallel\_size}" in tex
    assert r"\alpha" in tex and r"\log" in tex
    assert tex.startswith(r"\mathrm{loss}")
    assert "\n" not in tex


def test_positive_features():
    feats = ["N", "D", "lr", "bsz"]

    def pos(text):
        return parse_law(text, feats, ["loss"]).positive_features()

    assert pos("a*log(N) + b*D") == {"N"}
    assert pos("N**0.5 + D**2") == {"N"}
    assert pos("sqrt(D) + N") == {"D"}
    assert pos("A*N**-alpha + B*D**-beta + E") == {"N", "D"}
    assert pos("exp(a*log(lr) + b)") == {"lr"}
    assert pos("a*N + b*D**2 + c*lr**-1") == set()
    assert pos("a*N**(1/3)") == {"N"}
    assert pos("tanh(bsz) + a") == set()


def test_complexity_grows_with_size():
    texts = ["x", "a*x", "a*x + b", "a*x**c + b", "a*x**c + b*log(y) + d", MANY_NODES]
    sizes = [parse_law(t, F, T, max_nodes=1000).complexity for t in texts]
    assert all(isinstance(s, int) and s > 0 for s in sizes)
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes
    multi = parse_law({"t1": "a*x", "t2": "a*x"}, F, ["t1", "t2"])
    assert multi.complexity == 2 * parse_law("a*x", F, T).complexity


def test_long_flat_sums_and_products_are_not_too_deep():
    """a + b + c + ... is left-nested in Python's ast but flat in sympy: not 'nested too deeply'."""
    long_sum = " + ".join(f"a{i}*x**{i % 5}" for i in range(60))
    long_product = "*".join(f"(x + a{i})" for i in range(60))
    long_ratio = "x" + "".join(f" / (y + b{i})" for i in range(60))
    for text in (long_sum, long_product, long_ratio):
        law = parse_law(text, F, T)
        assert len(law.params) == 60
        assert parse_law(law.text, F, T).exprs == law.exprs


def test_law_is_frozen():
    law = parse_law("a*x", F, T)
    with pytest.raises(AttributeError):
        law.params = ("b",)


def test_literal_forms_and_constant_folding():
    assert parse_law("2.0*x", F, T).exprs == parse_law("2*x", F, T).exprs
    assert parse_law("x**2.0", F, T).exprs == parse_law("x**2", F, T).exprs
    assert parse_law("2.5*x*2", F, T).exprs == parse_law("5*x", F, T).exprs
    assert parse_law("x*2**3", F, T).exprs == parse_law("8*x", F, T).exprs
    folded = parse_law("exp(1)*log(2)*x + sqrt(2)*y", F, T)
    X = _rng_inputs(4)
    np.testing.assert_allclose(
        folded.predict(X, [])[:, 0], np.e * np.log(2) * X[:, 0] + np.sqrt(2) * X[:, 1]
    )
    assert parse_law("1e20 * x", F, T).predict(np.ones((1, 2)), [])[0, 0] == 1e20
    assert parse_law("+x - -y", F, T).exprs == parse_law("x + y", F, T).exprs


def test_comments_and_whitespace_are_harmless():
    assert parse_law("  a*x  # slope\n", F, T).exprs == parse_law("a*x", F, T).exprs


# --- 3. round trip property ----------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(-50, 50).map(str),
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False).map(repr),
    st.floats(1e-12, 1e12).map(repr),
    st.sampled_from(["0.1", "1e-3", "2.5e10", "3.14159265358979323846", "1e15", "1e20", "0.5"]),
    st.sampled_from(["1/3", "2/7", "-0.333333333333333314829616256247"]),
)
_NAMES = st.sampled_from(["x", "y", "a", "b", "c"])


@st.composite
def _law_texts(draw, depth: int) -> str:
    """A random formula of the law grammar, nested at most `depth` deep. Branches are drawn as
    integers (not st.one_of) so that examples are large and varied rather than minimal."""
    if depth == 0 or draw(st.integers(0, 99)) < 15:
        return draw(_NAMES) if draw(st.integers(0, 9)) < 7 else draw(_NUMBERS)
    kind = draw(st.integers(0, 99))
    if kind < 45:
        op = draw(st.sampled_from(["+", "-", "*", "/", "**"]))
        return f"({draw(_law_texts(depth - 1))}) {op} ({draw(_law_texts(depth - 1))})"
    if kind < 57:
        return f"-({draw(_law_texts(depth - 1))})"
    if kind < 90:
        fname = draw(st.sampled_from(["exp", "log", "sqrt", "abs", "tanh"]))
        return f"{fname}({draw(_law_texts(depth - 1))})"
    fname = draw(st.sampled_from(["min", "max"]))
    args = [draw(_law_texts(depth - 1)) for _ in range(draw(st.integers(2, 3)))]
    return f"{fname}({', '.join(args)})"


LAW_TEXTS = _law_texts(4)


def _parse_or_skip(text):
    try:
        return parse_law(text, F, T)
    except LawError:
        assume(False)


def _theta_by_name(law: Law, values: dict[str, float]) -> np.ndarray:
    return np.array([values[p] for p in law.params])


_X = np.random.default_rng(7).uniform(-3, 5, size=(16, 2))
_VALUES = {"a": 0.7, "b": -1.3, "c": 2.1}


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(text=LAW_TEXTS)
def test_text_round_trips(text):
    law = _parse_or_skip(text)
    again = parse_law(law.text, F, T)
    assert again.exprs == law.exprs, (text, law.text)
    assert again.key == law.key
    assert set(again.params) == set(law.params)
    assert again.text == law.text
    assert again.complexity == law.complexity
    np.testing.assert_array_equal(
        again.predict(_X, _theta_by_name(again, _VALUES)),
        law.predict(_X, _theta_by_name(law, _VALUES)),
    )
    # every accepted law compiles its Jacobian too (no sympy function the compiler lacks)
    assert law.jacobian(_X, _theta_by_name(law, _VALUES)).shape == (len(_X), 1, len(law.params))
    assert law.latex()


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(text=LAW_TEXTS, perm=st.permutations(["a", "b", "c"]))
def test_key_is_invariant_to_renaming_property(text, perm):
    law = _parse_or_skip(text)
    mapping = dict(zip(["a", "b", "c"], [p.upper() + "k" for p in perm], strict=True))
    renamed_text = re.sub(r"\b[abc]\b", lambda m: mapping[m.group(0)], text)
    renamed = parse_law(renamed_text, F, T)
    assert renamed.key == law.key, (text, renamed_text)
    values = {mapping[k]: v for k, v in _VALUES.items()}
    np.testing.assert_array_equal(
        renamed.predict(_X, _theta_by_name(renamed, values)),
        law.predict(_X, _theta_by_name(law, _VALUES)),
    )


# --- issue 15 findings ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["c0 + c1*Ｎ**e0", "c0 + c1*x**e0 + ｃ2", "c0*x\u00b2"])
def test_finding13_fullwidth_letters_are_refused_not_folded(text):
    """Python's parser folds a fullwidth 'Ｎ' into 'N' (NFKC); a law must say what it means."""
    with pytest.raises(LawError, match="non-ASCII character") as info:
        parse_law(text, ["N", "x"], T)
    assert f"column {next(i for i, c in enumerate(text) if not c.isascii()) + 1}" in str(info.value)


@pytest.mark.parametrize(
    ("text", "targets"),
    [("c0 + c1*x**e0 + t", ["t"]), ({"t": "c0*x", "u": "c1*t"}, ["t", "u"])],
)
def test_finding13_a_law_may_not_use_a_target(text, targets):
    """A target's name inside a law used to become a fitted constant named like the target."""
    with pytest.raises(LawError, match="'t' is a target"):
        parse_law(text, F, targets)


@pytest.mark.parametrize(
    ("law", "needle"),
    [("E + A*size**(-0.5) + loss", "'loss' is a target"), ("E + A*ｓize", "non-ASCII")],
)
def test_finding13_law_refusals_are_one_line_through_the_cli(law, needle, tiny_toml, tiny_root):
    from cli_errors import assert_user_error
    from conftest import run_cli

    code, _, err = run_cli("evaluate", str(tiny_toml), "--law", law, "--data-dir", str(tiny_root))
    assert_user_error(code, err, needle)
