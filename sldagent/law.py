"""Law: the safe law language, parsed by an `ast` whitelist into sympy and compiled to numpy.

Law text may come from an LLM, so it is never `eval`-ed, `exec`-ed or `sympify`-ed: only the node
types listed here are accepted, names must be features, parameters or whitelisted functions, and
the sympy tree is built node by node. Evaluation walks a flat program built from that tree.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min args, max args)
    "exp": (1, 1),
    "log": (1, 1),
    "sqrt": (1, 1),
    "abs": (1, 1),
    "tanh": (1, 1),
    "min": (2, 8),
    "max": (2, 8),
}
MAX_TEXT_CHARS = 4000
MAX_CONST_EXPONENT = 64.0
MAX_DEPTH = 50  # nesting levels; deeper trees overflow the recursion of sympy's printers
_CHUNK = 1 << 16  # values a law is evaluated on at once (per intermediate result)
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


class LawError(ValueError):
    """A law text that the whitelist refuses; the message is one line saying why."""


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def _number(value: float) -> sympy.Expr:
    """A folded constant: an Integer when it is a small whole number (as `2.0` parses), else a
    Float. Constants are always folded to numbers, never kept as symbolic towers like
    exp(exp(exp(100))) that sympy would try (and take forever) to evaluate."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return sympy.Integer(int(value))
    return sympy.Float(value)


class _Builder:
    """Turns one whitelisted `ast` expression into sympy, node by node."""

    def __init__(
        self,
        features: Sequence[str],
        params: Sequence[str] | None,
        target: str,
        targets: Sequence[str] = (),
    ):
        self.features = set(features)
        self.targets = set(targets)
        self.allowed_params = None if params is None else set(params)
        self.target = target
        self.param_order: list[str] = []

    def fail(self, node: ast.AST, why: str) -> LawError:
        col = getattr(node, "col_offset", None)
        where = f" at column {col + 1}" if col is not None else ""
        return LawError(f"law for {self.target!r}{where}: {why}")

    def build(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Expression):
            return self.build(node.body)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
            return self.binop(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            raise self.fail(node, "attribute access ('.') is not allowed")
        if isinstance(node, ast.Lambda):
            raise self.fail(node, "lambda is not allowed")
        if isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp):
            raise self.fail(node, "comprehensions are not allowed")
        if isinstance(node, ast.Subscript):
            raise self.fail(node, "indexing ('[...]') is not allowed")
        if isinstance(node, ast.BinOp):
            raise self.fail(
                node, f"operator {type(node.op).__name__} is not allowed; use + - * / **"
            )
        return self.fail_unknown(node)

    def fail_unknown(self, node: ast.AST) -> sympy.Expr:
        raise self.fail(node, f"{type(node).__name__} is not allowed in a law")

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, f"only numbers are allowed as literals, got {value!r:.40}")
        if isinstance(value, int):
            if abs(value) > 10**300:
                raise self.fail(node, "integer literal too large")
            return sympy.Integer(value)
        if not math.isfinite(value):
            raise self.fail(node, "number is not finite")
        return _number(value)

    def value(self, node: ast.AST, expr: sympy.Expr) -> float:
        """The float value of a folded constant; refuses one that is too large or not real."""
        try:
            value = float(expr)
        except (TypeError, ValueError, OverflowError):
            raise self.fail(node, "constant is too large or not a real number") from None
        if not math.isfinite(value):
            raise self.fail(node, "constant is too large or not a real number")
        return value

    def name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        if name in FUNCTIONS:
            raise self.fail(node, f"function {name!r} used without a call")
        if not _NAME_RE.match(name):
            raise self.fail(node, f"name {name!r} is not allowed (names start with a letter)")
        if name in self.features:
            return _sym(name)
        if name in self.targets:
            raise self.fail(
                node,
                f"{name!r} is a target: a law may not use a target, only features and constants",
            )
        if self.allowed_params is not None and name not in self.allowed_params:
            raise self.fail(node, f"unknown name {name!r}: not a feature or declared parameter")
        if name not in self.param_order:
            self.param_order.append(name)
        return _sym(name)

    def binop(self, node: ast.BinOp) -> sympy.Expr:
        left, right = self.build(node.left), self.build(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            result = left + right
        elif isinstance(op, ast.Sub):
            result = left - right
        elif isinstance(op, ast.Mult):
            result = left * right
        elif isinstance(op, ast.Div):
            if right == 0:
                raise self.fail(node, "division by zero")
            result = left / right
        else:
            return self.power(node, left, right)
        if result.is_number:  # e.g. 10**300-digit literals multiplied together
            self.value(node, result)
        return result

    def power(self, node: ast.AST, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        if exponent.is_number:
            value = self.value(node, exponent)
            if abs(value) > MAX_CONST_EXPONENT:
                raise self.fail(
                    node, f"exponent {value:g} is too large (limit ±{MAX_CONST_EXPONENT:g})"
                )
            if base.is_number:
                try:
                    result = self.value(node, base) ** value
                except (OverflowError, ZeroDivisionError) as err:
                    raise self.fail(node, f"constant power is undefined ({err})") from None
                if isinstance(result, complex) or not math.isfinite(result):
                    raise self.fail(node, "constant power is not a finite real number")
                return _number(result)
        elif base.is_number and self.value(node, base) == 0:
            raise self.fail(node, "0 raised to a symbolic power")
        return sympy.Pow(base, exponent)

    def call(self, node: ast.Call) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.fail(node, "attribute access ('.') is not allowed")
            raise self.fail(node, "only calls of named functions are allowed")
        fname = node.func.id
        if fname not in FUNCTIONS:
            allowed = ", ".join(FUNCTIONS)
            raise self.fail(node, f"function {fname!r} is not allowed (allowed: {allowed})")
        if node.keywords:
            raise self.fail(node, f"{fname}() takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"{fname}() takes no *arguments")
        lo, hi = FUNCTIONS[fname]
        if not lo <= len(node.args) <= hi:
            raise self.fail(node, f"{fname}() takes {lo}..{hi} arguments, got {len(node.args)}")
        args = [self.build(a) for a in node.args]
        if fname != "sqrt" and all(a.is_number for a in args):
            return self.fold(node, fname, args)
        if fname == "exp":
            return sympy.exp(args[0])
        if fname == "log":
            return sympy.log(args[0])
        if fname == "sqrt":
            return self.power(node, args[0], sympy.Rational(1, 2))
        if fname == "abs":
            return sympy.Abs(args[0])
        if fname == "tanh":
            return sympy.tanh(args[0])
        if fname == "min":
            return sympy.Min(*args)
        return sympy.Max(*args)

    def fold(self, node: ast.AST, fname: str, args: list[sympy.Expr]) -> sympy.Expr:
        """A function of constants, computed in floating point (never symbolically by sympy)."""
        values = [self.value(node, a) for a in args]
        if fname in ("min", "max"):
            pick = min(values) if fname == "min" else max(values)
            return args[values.index(pick)]
        if fname == "abs":
            return abs(args[0])
        v = values[0]
        if fname == "log":
            if v <= 0:
                raise self.fail(node, f"log of the non-positive constant {v:g}")
            return _number(math.log(v))
        if fname == "tanh":
            return _number(math.tanh(v))
        try:
            return _number(math.exp(v))
        except OverflowError:
            raise self.fail(node, f"exp({v:g}) overflows") from None


def _count_nodes(expr: sympy.Basic) -> int:
    return 1 + sum(_count_nodes(a) for a in expr.args)


def _depth(root: object, children) -> int:
    """Nesting depth of a tree, without recursion (the tree may be hostile)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in children(node))
    return deepest


_CHAINS = ((ast.Add, ast.Sub), (ast.Mult, ast.Div))


def _ast_depth(root: ast.AST) -> int:
    """Nesting depth of the syntax tree; a chain like a + b - c + ... counts as one level (it is
    left-nested in `ast` but flat in sympy)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        for c in ast.iter_child_nodes(node):
            if not isinstance(c, ast.expr):
                continue
            chained = (
                isinstance(node, ast.BinOp)
                and isinstance(c, ast.BinOp)
                and c is node.left
                and any(isinstance(node.op, g) and isinstance(c.op, g) for g in _CHAINS)
            )
            stack.append((c, d if chained else d + 1))
    return deepest


def _fold_numbers(expr: sympy.Expr) -> sympy.Expr:
    """One pass of `_canonical`."""
    if expr.is_Rational:
        return expr
    if expr.is_number:
        try:
            value = float(expr)
        except (TypeError, ValueError, OverflowError):
            return expr  # left for _check_defined to refuse
        return _number(value) if math.isfinite(value) else expr
    if not expr.args:
        return expr
    args = tuple(_fold_numbers(a) for a in expr.args)
    return expr if args == expr.args else expr.func(*args)


def _canonical(expr: sympy.Expr) -> sympy.Expr:
    """Fold the numbers sympy creates on its own the way the parser folds constants (sqrt(2) from
    sqrt(2*x) becomes a Float, the 5.0 of 2.5*x*2 becomes 5), so parse_law(law_text(e)) == e."""
    for _ in range(8):
        folded = _fold_numbers(expr)
        if folded == expr:
            break
        expr = folded
    return expr


_LANGUAGE = (
    sympy.Symbol,
    sympy.Number,
    sympy.Add,
    sympy.Mul,
    sympy.Pow,
    sympy.exp,
    sympy.log,
    sympy.Abs,
    sympy.tanh,
    sympy.Min,
    sympy.Max,
)


def _check_defined(expr: sympy.Expr, target: str) -> None:
    for node in sympy.preorder_traversal(expr):
        if not isinstance(node, _LANGUAGE):  # e.g. abs(exp(a)**sqrt(b)) -> exp(re(...)*a)
            raise LawError(
                f"law for {target!r}: sympy rewrites it with {type(node).__name__}(), which is "
                "not in the law language; write it differently"
            )
        if isinstance(node, sympy.Pow) and node.exp.is_Number:  # also exp(70*log(x)) = x**70
            if abs(float(node.exp)) > MAX_CONST_EXPONENT:
                raise LawError(
                    f"law for {target!r}: exponent {float(node.exp):g} is too large "
                    f"(limit ±{MAX_CONST_EXPONENT:g})"
                )
    bad = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan, sympy.I)
    if expr.has(*bad) or any(a.is_number and not a.is_real for a in sympy.preorder_traversal(expr)):
        raise LawError(f"law for {target!r}: expression is undefined or complex (e.g. 1/0, log(0))")
    for number in expr.atoms(sympy.Number):
        try:
            finite = math.isfinite(float(number))
        except (TypeError, ValueError, OverflowError):
            finite = False
        if not finite:
            raise LawError(f"law for {target!r}: a constant is too large or not a real number")


def check_text(formula: object, target: str) -> str:
    """The formula if it may be handed to `ast.parse`: text, at most MAX_TEXT_CHARS long (a
    longer one can exhaust the parser's recursion), ASCII only (Python folds e.g. a fullwidth
    'Ｎ' into the name 'N' without a word); else a one-line LawError."""
    if not isinstance(formula, str):
        raise LawError(f"law for {target!r} must be text, got {type(formula).__name__}")
    if len(formula) > MAX_TEXT_CHARS:
        raise LawError(f"law for {target!r} is {len(formula)} characters (limit {MAX_TEXT_CHARS})")
    for i, char in enumerate(formula):
        if not char.isascii():
            raise LawError(
                f"law for {target!r} at column {i + 1}: non-ASCII character {char!r}; write "
                "names and operators in ASCII (letters, digits, _)"
            )
    return formula


def _parse_formula(
    formula: object,
    features: Sequence[str],
    params: Sequence[str] | None,
    target: str,
    max_nodes: int,
    targets: Sequence[str] = (),
    reparse: bool = False,
) -> tuple[sympy.Expr, list[str]]:
    """One formula -> (sympy expression, parameter names in order of appearance); a name in
    `targets` is refused. A re-parse of law_text's output skips the length limit."""
    formula = (formula if reparse else check_text(formula, target)).strip()
    if not formula:
        raise LawError(f"law for {target!r} is empty")
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as err:
        raise LawError(
            f"law for {target!r} is not valid syntax: {err.msg} at column {err.offset}"
        ) from None
    except (RecursionError, MemoryError):
        raise LawError(f"law for {target!r} is nested too deeply") from None
    except ValueError as err:  # e.g. null bytes, int literal with too many digits
        raise LawError(f"law for {target!r} cannot be parsed: {str(err):.80}") from None
    n_ast = sum(1 for _ in ast.walk(tree))
    if n_ast > 4 * max_nodes:
        raise LawError(f"law for {target!r} has {n_ast} syntax nodes (limit {4 * max_nodes})")
    depth = _ast_depth(tree.body)
    if depth > MAX_DEPTH:
        raise LawError(f"law for {target!r} is nested {depth} deep (limit {MAX_DEPTH})")
    builder = _Builder(features, params, target, targets)
    try:
        expr = _canonical(builder.build(tree))
        _check_defined(expr, target)
        n_nodes = _count_nodes(expr)
        depth = _depth(expr, lambda e: e.args)
    except RecursionError:
        raise LawError(f"law for {target!r} is nested too deeply") from None
    except LawError:
        raise
    except (ValueError, TypeError, ArithmeticError) as err:  # e.g. min() of a complex value
        why = " ".join(str(err).split())
        raise LawError(f"law for {target!r} is not a real-valued expression: {why:.80}") from None
    if depth > MAX_DEPTH:
        raise LawError(f"law for {target!r} is nested {depth} deep (limit {MAX_DEPTH})")
    if n_nodes > max_nodes:
        raise LawError(f"law for {target!r} has {n_nodes} nodes (limit {max_nodes})")
    return expr, builder.param_order


def _stable_form(
    expr: sympy.Expr,
    features: Sequence[str],
    params: Sequence[str] | None,
    target: str,
    max_nodes: int,
) -> sympy.Expr:
    """sympy simplifies min/max/abs differently depending on how a tree was built, so parsing a
    law's own text can give a different tree. Re-parse the text until it is stable, so that
    parse_law(law.text) reproduces the law exactly."""
    for _ in range(4):
        again, _ = _parse_formula(law_text(expr), features, params, target, max_nodes, (), True)
        if again == expr:
            return expr
        expr = again
    raise LawError(f"law for {target!r} has no stable form under simplification; simplify it")


def parse_law(
    text: str | Mapping[str, str],
    features: Sequence[str],
    targets: Sequence[str],
    params: Sequence[str] | None = None,
    max_params: int | None = None,
    max_nodes: int = 400,
) -> Law:
    """Parse law text (one formula, or {target: formula}) into a Law, refusing anything unsafe."""
    targets = tuple(targets)
    if isinstance(text, Mapping):
        missing = [t for t in targets if t not in text]
        extra = [t for t in text if t not in targets]
        if missing or extra:
            raise LawError(
                f"law must give one formula per target {list(targets)}; "
                f"missing {missing}, unexpected {extra}"
            )
        texts = [text[t] for t in targets]
    else:
        if len(targets) != 1:
            raise LawError(
                f"task has {len(targets)} targets; give a formula per target as a mapping"
            )
        texts = [text]
    exprs: list[sympy.Expr] = []
    order: list[str] = []
    for target, formula in zip(targets, texts, strict=True):
        expr, found = _parse_formula(formula, features, params, target, max_nodes, targets)
        exprs.append(_stable_form(expr, features, params, target, max_nodes))
        order.extend(p for p in found if p not in order)
    present = set().union(*(e.free_symbols for e in exprs))
    names = tuple(p for p in order if _sym(p) in present)
    if max_params is not None and len(names) > max_params:
        raise LawError(
            f"law has {len(names)} parameters {list(names)}; the budget is {max_params} per group"
        )
    return Law(features=tuple(features), targets=targets, params=names, exprs=tuple(exprs))


class _LawPrinter(StrPrinter):
    """Prints sympy back into the law language, exactly (floats keep full precision)."""

    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))

    def _print_Abs(self, expr: sympy.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Min(self, expr: sympy.Min) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr: sympy.Max) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Mul(self, expr: sympy.Mul) -> str:
        # -(x + 1)*y prints as "-(x + 1)*y", which re-parses as (-x - 1)*y: sympy distributes a
        # number over a sum when they are multiplied alone. Keep the number outside instead.
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_Number and coeff != 1 and rest.is_Mul and any(f.is_Add for f in rest.args):
            inner = self._print(rest)
            return f"-({inner})" if coeff == -1 else f"{self._print(coeff)}*({inner})"
        return super()._print_Mul(expr)

    def _print_Exp1(self, expr: sympy.Basic) -> str:
        return "exp(1)"


class _LawLatexPrinter(LatexPrinter):
    def _print_Mul(self, expr: sympy.Mul) -> str:
        try:
            return super()._print_Mul(expr)
        except (ValueError, TypeError, ArithmeticError, AttributeError):
            # sympy's fraction() probes exp(min(log(x), ...)) at x = 0, and min(zoo, ...) fails
            coeff, rest = expr.as_coeff_Mul()
            factors = rest.args if rest.is_Mul else (rest,)
            body = r" \cdot ".join(self.parenthesize(a, PRECEDENCE["Mul"]) for a in factors)
            if coeff == 1:
                return body
            return "- " + body if coeff == -1 else self._print(coeff) + r" \cdot " + body


def law_text(expr: sympy.Expr) -> str:
    """The law-language text of a sympy expression; parse_law(law_text(e)) gives e back."""
    return _LawPrinter({"full_prec": True}).doprint(expr)


# --- compilation to a flat numpy program -------------------------------------------------------

_UNARY = {
    sympy.exp: np.exp,
    sympy.log: np.log,
    sympy.Abs: np.abs,
    sympy.tanh: np.tanh,
}


@dataclass(frozen=True)
class _Program:
    """Straight-line code over slots: each step computes one distinct sub-expression once.

    Inputs may be arrays of any broadcast-compatible shapes (features (n,) and scalar parameters
    for one fit; features (B, n) and parameters (B, 1) for B fits at once). A slot is dropped
    after its last use, so peak memory is the widest cut of the expression, not its size."""

    steps: tuple[tuple, ...]
    outputs: tuple[int, ...]
    release: tuple[tuple[int, ...], ...]  # slots no longer needed after each step
    depends: tuple[frozenset[int], ...]  # parameters each slot depends on

    def run(self, columns: Sequence[np.ndarray], theta: Sequence[float], n: int) -> np.ndarray:
        out = np.empty((n, len(self.outputs)))
        for j, value in enumerate(self.values(columns, theta)):
            out[:, j] = value
        return out

    def run_batch(
        self, columns: Sequence[np.ndarray], theta: Sequence, shape: tuple[int, ...]
    ) -> np.ndarray:
        """Outputs stacked along a first axis: (n_outputs, *shape)."""
        out = np.empty((len(self.outputs), *shape))
        for j, value in enumerate(self.values(columns, theta)):
            out[j] = value
        return out

    def values(self, columns: Sequence[np.ndarray], theta: Sequence, keep: bool = False) -> list:
        """Output values; with `keep`, every slot's value (for differentiation)."""
        slots: list = [None] * len(self.steps)
        release = () if keep else self.release
        with np.errstate(all="ignore"):
            for t, (op, arg) in enumerate(self.steps):
                if op == "x":
                    v = columns[arg]
                elif op == "p":
                    v = theta[arg]
                elif op == "c":
                    v = arg
                elif op == "add":
                    v = slots[arg[0]]
                    for i in arg[1:]:
                        v = v + slots[i]
                elif op == "mul":
                    v = slots[arg[0]]
                    for i in arg[1:]:
                        v = v * slots[i]
                elif op == "pow":
                    v = _power(slots[arg[0]], slots[arg[1]])
                elif op == "min":
                    v = _reduce(np.minimum, [slots[i] for i in arg])
                elif op == "max":
                    v = _reduce(np.maximum, [slots[i] for i in arg])
                else:  # unary function
                    v = op(slots[arg])
                slots[t] = v
                if release:
                    for i in release[t]:
                        slots[i] = None
        return slots if keep else [slots[i] for i in self.outputs]

    def derivatives(
        self,
        columns: Sequence[np.ndarray],
        theta: Sequence,
        which: tuple[int, ...],
        shape: tuple[int, ...],
    ) -> np.ndarray:
        """Outputs, then d output / d theta[i] for i in `which`, output by output, stacked:
        (n_out * (1 + len(which)), *shape). Reverse mode: one backward sweep per output gives
        the derivatives for all parameters at about the cost of two evaluations."""
        slots = self.values(columns, theta, keep=True)
        live = [bool(d & frozenset(which)) for d in self.depends]
        column = {p: j for j, p in enumerate(which)}
        k, m = len(self.outputs), len(which)
        out = np.zeros((k * (1 + m), *shape))
        with np.errstate(all="ignore"):
            for j, o in enumerate(self.outputs):
                out[j] = slots[o]
                if not live[o]:
                    continue
                adjoint: list = [None] * len(self.steps)
                adjoint[o] = 1.0
                for t in range(o, -1, -1):
                    a = adjoint[t]
                    if a is None:
                        continue
                    op, arg = self.steps[t]
                    if op == "p":
                        out[k + j * m + column[arg]] += a
                        continue
                    for i, partial in _partials(op, arg, slots, t, live):
                        g = a * partial
                        adjoint[i] = g if adjoint[i] is None else adjoint[i] + g
        return out


def _partials(op, arg, slots: list, t: int, live: list):
    """(input slot, d step / d input) for the inputs of step t that depend on a wanted
    parameter; the rules of the law language's operations."""
    if op == "add":
        for i in arg:
            if live[i]:
                yield i, 1.0
    elif op == "mul":
        for n, i in enumerate(arg):
            if live[i]:
                yield i, _reduce(np.multiply, [slots[c] for c in arg[:n] + arg[n + 1 :]])
    elif op == "pow":
        base, exponent = arg
        b, e = slots[base], slots[exponent]
        if live[base]:
            yield base, e * _power(b, e - 1.0)
        if live[exponent]:
            yield exponent, slots[t] * np.log(b)
    elif op in ("min", "max"):  # d min / d a_i = H(min(others) - a_i), with H(0) = 1/2
        pick, sign = (np.minimum, 1.0) if op == "min" else (np.maximum, -1.0)
        for n, i in enumerate(arg):
            if live[i]:
                rest = _reduce(pick, [slots[c] for c in arg[:n] + arg[n + 1 :]])
                yield i, np.heaviside(sign * (rest - slots[i]), 0.5)
    elif op is np.exp:
        yield arg, slots[t]
    elif op is np.log:
        yield arg, 1.0 / slots[arg]
    elif op is np.abs:
        yield arg, np.sign(slots[arg])
    elif op is np.tanh:
        yield arg, 1.0 - slots[t] * slots[t]


def _reduce(fn, values: list) -> np.ndarray:
    acc = values[0]
    for v in values[1:]:
        acc = fn(acc, v)
    return acc


def _power(base, exponent):
    if isinstance(exponent, float):
        if exponent == 2.0:
            return base * base
        if exponent == -1.0:
            return np.divide(1.0, base)  # a parameter-only base is a Python float: 1/0 -> inf
        if exponent == 0.5:
            return np.sqrt(base)
    return np.power(base, exponent)


def _real_constant(node: sympy.Expr) -> float:
    """A number of the law as a float; NaN if it is not real."""
    try:
        return float(node)
    except (TypeError, ValueError):
        return math.nan


def _compile(
    exprs: Sequence[sympy.Expr], features: Sequence[str], params: Sequence[str]
) -> _Program:
    feature_index = {_sym(f): i for i, f in enumerate(features)}
    param_index = {_sym(p): i for i, p in enumerate(params)}
    slot_of: dict[sympy.Basic, int] = {}
    steps: list[tuple] = []

    def emit(node: sympy.Basic) -> int:
        if node in slot_of:
            return slot_of[node]
        if node in feature_index:
            step = ("x", feature_index[node])
        elif node in param_index:
            step = ("p", param_index[node])
        elif node.is_Atom and node.is_number:  # (is_number walks a whole subtree)
            step = ("c", _real_constant(node))
        elif isinstance(node, sympy.Add):
            step = ("add", tuple(emit(a) for a in node.args))
        elif isinstance(node, sympy.Mul):
            step = ("mul", tuple(emit(a) for a in node.args))
        elif isinstance(node, sympy.Pow):
            step = ("pow", (emit(node.base), emit(node.exp)))
        elif isinstance(node, sympy.Min):
            step = ("min", tuple(emit(a) for a in node.args))
        elif isinstance(node, sympy.Max):
            step = ("max", tuple(emit(a) for a in node.args))
        elif node.func in _UNARY:
            step = (_UNARY[node.func], emit(node.args[0]))
        else:
            raise LawError(
                f"cannot compile {node.func.__name__} (internal: not in the law language)"
            )
        steps.append(step)
        slot_of[node] = len(steps) - 1
        return slot_of[node]

    outputs = tuple(emit(e) for e in exprs)
    last_use = {}
    for t, (op, arg) in enumerate(steps):
        if op in ("add", "mul", "pow", "min", "max"):
            for i in arg:
                last_use[i] = t
        elif op not in ("x", "p", "c"):
            last_use[arg] = t
    release: list[list[int]] = [[] for _ in steps]
    for i, t in last_use.items():
        if i not in outputs:
            release[t].append(i)
    depends: list[frozenset[int]] = []
    for op, arg in steps:
        if op == "p":
            depends.append(frozenset([arg]))
        elif op in ("x", "c"):
            depends.append(frozenset())
        elif op in ("add", "mul", "pow", "min", "max"):
            depends.append(frozenset().union(*(depends[i] for i in arg)))
        else:
            depends.append(depends[arg])
    return _Program(
        steps=tuple(steps),
        outputs=outputs,
        release=tuple(tuple(r) for r in release),
        depends=tuple(depends),
    )


def _degree(node: sympy.Basic, syms: set, memo: dict) -> int:
    """Polynomial degree of an expression in the symbols `syms` taken together, capped at 2
    (2 means "not affine": a product of two of them, a power, or one inside a function)."""
    if node in memo:
        return memo[node]
    if node.is_Symbol:
        d = 1 if node in syms else 0
    elif not node.args:
        d = 0
    elif isinstance(node, sympy.Add):
        d = max(_degree(a, syms, memo) for a in node.args)
    elif isinstance(node, sympy.Mul):
        d = min(2, sum(_degree(a, syms, memo) for a in node.args))
    elif isinstance(node, sympy.Pow):
        base, exponent = _degree(node.base, syms, memo), _degree(node.exp, syms, memo)
        d = 0 if base == exponent == 0 else 2
    else:  # exp, log, abs, tanh, min, max
        d = 0 if all(_degree(a, syms, memo) == 0 for a in node.args) else 2
    memo[node] = d
    return d


# --- the Law ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Law:
    """One formula per target over the task's features, with named parameters (theta order)."""

    features: tuple[str, ...]
    targets: tuple[str, ...]
    params: tuple[str, ...]
    exprs: tuple[sympy.Expr, ...]

    @cached_property
    def _cache(self) -> dict:
        """Compiled programs, derivatives and sub-laws, made once per law and reused by every
        group and fold it is fitted on (the law is immutable, so they never go stale)."""
        return {}

    @property
    def _program(self) -> _Program:
        if "program" not in self._cache:
            self._cache["program"] = _compile(self.exprs, self.features, self.params)
        return self._cache["program"]

    def _columns(self, X: np.ndarray) -> tuple[list[np.ndarray], int]:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"X must have shape (n, {len(self.features)}), got {X.shape}")
        return [X[:, j] for j in range(X.shape[1])], X.shape[0]

    def predict(self, X: np.ndarray, theta: Sequence[float]) -> np.ndarray:
        """Predictions, shape (n, n_targets); non-finite values are left for the caller to judge."""
        cols, n = self._columns(X)
        return self._program.run(cols, [float(t) for t in theta], n)

    def jacobian(
        self, X: np.ndarray, theta: Sequence[float], columns: Sequence[int] | None = None
    ) -> np.ndarray:
        """d prediction / d theta, shape (n, n_targets, n_columns), exact (reverse-mode
        differentiation of the compiled law); `columns` picks some parameters (default: all)."""
        cols, n = self._columns(X)
        which = tuple(range(len(self.params))) if columns is None else tuple(columns)
        k = len(self.targets)
        out = self.evaluate(cols, [float(t) for t in theta], which, value=False)
        return np.moveaxis(out.reshape(k, len(which), n), 2, 0)

    def evaluate(
        self,
        columns: Sequence[np.ndarray],
        theta: Sequence[np.ndarray | float],
        which: Sequence[int] = (),
        value: bool = True,
    ) -> np.ndarray:
        """Many fits at once: feature columns and parameter values broadcast against each other
        (e.g. features (B, n), parameters (B, 1)). Returns the predictions (if `value`), then
        d prediction / d theta[i] for i in `which`, target by target: (n_out, *shape)."""
        which = tuple(which)
        shape = np.broadcast_shapes(*(np.shape(v) for v in [*columns, *theta]))
        k = len(self.targets)
        if not which and not value:
            return np.empty((0, *shape))
        n, size = (shape[-1], math.prod(shape)) if shape else (1, 1)
        if size > _CHUNK and n > 1:  # in slices of rows: the intermediates stay cache-sized
            out = np.empty((k * (value + len(which)), *shape))
            step = max(1, _CHUNK * n // size)
            for i in range(0, n, step):
                part = [v[..., i : i + step] if np.shape(v)[-1:] == (n,) else v for v in columns]
                params = [v[..., i : i + step] if np.shape(v)[-1:] == (n,) else v for v in theta]
                out[..., i : i + step] = self.evaluate(part, params, which, value)
            return out
        if not which:
            return self._program.run_batch(columns, theta, shape)
        out = self._program.derivatives(columns, theta, which, shape)
        return out if value else out[k:]

    def restrict(self, targets: Sequence[int]) -> tuple[Law, tuple[int, ...]]:
        """The sub-law of some targets, and the indices (into params) of the parameters it keeps."""
        key = ("restrict", tuple(targets))
        if key not in self._cache:
            keep = sorted({i for j in targets for i in self.target_params(j)})
            sub = Law(
                features=self.features,
                targets=tuple(self.targets[j] for j in targets),
                params=tuple(self.params[i] for i in keep),
                exprs=tuple(self.exprs[j] for j in targets),
            )
            self._cache[key] = (sub, tuple(keep))
        return self._cache[key]

    def target_params(self, j: int) -> tuple[int, ...]:
        """Indices (into params) of the parameters that target j's formula uses."""
        key = ("uses", j)
        if key not in self._cache:
            free = self.exprs[j].free_symbols
            self._cache[key] = tuple(i for i, p in enumerate(self.params) if _sym(p) in free)
        return self._cache[key]

    def linear_params(self, j: int) -> tuple[int, ...]:
        """Parameters that enter target j linearly together (for variable projection): chosen
        in order while the formula stays affine in all of those chosen so far."""
        key = ("linear", j)
        if key not in self._cache:
            chosen: list[sympy.Symbol] = []
            for i in self.target_params(j):
                candidate = {*chosen, _sym(self.params[i])}
                if _degree(self.exprs[j], candidate, {}) <= 1:
                    chosen.append(_sym(self.params[i]))
            self._cache[key] = tuple(self.params.index(c.name) for c in chosen)
        return self._cache[key]

    @cached_property
    def complexity(self) -> int:
        """Node count of the sympy trees: the size measure for the Pareto front."""
        return sum(_count_nodes(e) for e in self.exprs)

    @cached_property
    def text(self) -> str | dict[str, str]:
        """Law-language text; parse_law(law.text, ...) reproduces this law."""
        if len(self.targets) == 1:
            return law_text(self.exprs[0])
        return {t: law_text(e) for t, e in zip(self.targets, self.exprs, strict=True)}

    @cached_property
    def key(self) -> str:
        """A canonical string, equal for laws that differ only in parameter names."""
        syms = [_sym(p) for p in self.params]
        placeholder, marker = sympy.Symbol("_Y", real=True), sympy.Symbol("_Z", real=True)

        def signature(s: sympy.Symbol) -> str:
            sub = {o: (marker if o == s else placeholder) for o in syms}
            try:
                return "|".join(sympy.srepr(e.xreplace(sub)) for e in self.exprs)
            except (ValueError, TypeError, ArithmeticError):  # e.g. min(log(-1/(_Y*_Y)), x)
                with sympy.evaluate(False):
                    return "|".join(sympy.srepr(e.xreplace(sub)) for e in self.exprs)

        ordered = sorted(syms, key=signature)
        rename = {s: sympy.Symbol(f"_c{i}", real=True) for i, s in enumerate(ordered)}
        return ";".join(
            f"{t}={sympy.srepr(e.xreplace(rename))}"
            for t, e in zip(self.targets, self.exprs, strict=True)
        )

    def latex(self) -> str:
        """LaTeX for papers: features in roman type, one line per target."""
        names = {_sym(f): r"\mathrm{" + f.replace("_", r"\_") + "}" for f in self.features}
        for p in self.params:
            if "_" in p and not re.match(r"^[A-Za-z]+_[A-Za-z0-9]+$", p):
                names[_sym(p)] = r"\mathit{" + p.replace("_", r"\_") + "}"
        lines = []
        for t, e in zip(self.targets, self.exprs, strict=True):
            target = r"\mathrm{" + t.replace("_", r"\_") + "}"
            tex = _LawLatexPrinter({"symbol_names": names}).doprint(e)
            lines.append(f"{target} = {tex}")
        if len(lines) == 1:
            return lines[0]
        return (
            r"\begin{aligned}"
            + r" \\ ".join(line.replace(" = ", " &= ", 1) for line in lines)
            + r"\end{aligned}"
        )

    def positive_features(self) -> set[str]:
        """Features that appear directly under a log or as the base of a non-integer power."""
        found: set[str] = set()
        feats = {_sym(f): f for f in self.features}
        for e in self.exprs:
            for node in sympy.preorder_traversal(e):
                if isinstance(node, sympy.log) and node.args[0] in feats:
                    found.add(feats[node.args[0]])
                if isinstance(node, sympy.Pow) and node.base in feats and not node.exp.is_integer:
                    found.add(feats[node.base])
        return found
