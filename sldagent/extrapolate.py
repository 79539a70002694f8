"""The held-out rows of a custom task, written as `N >= 1e9` or `N >= 1e9 and D > 2e11`.

A tiny grammar, parsed by a tokenizer (never eval): one or more clauses `COLUMN OP NUMBER`
joined by `and` or `&`, OP one of >= > <= <. A row is held out when every clause holds.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
GRAMMAR = "COLUMN OP NUMBER [and COLUMN OP NUMBER ...], OP one of >= > <= <"
_TOKEN = re.compile(
    r"\s*(?:(?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.])"
    r"|(?P<op>>=|<=|>|<)|(?P<and>&|\band\b)|(?P<name>[A-Za-z_]\w*)|(?P<bad>\S+))"
)


class ExtrapolationError(ValueError):
    """The expression does not follow the grammar or names an unknown column (one line)."""


@dataclass(frozen=True)
class Clause:
    """One comparison of a column with a number."""

    column: str
    op: str
    number: str  # as written, for the canonical text

    @property
    def value(self) -> float:
        return float(self.number)

    @property
    def upward(self) -> bool:
        """True for > and >=: the held-out rows lie above the threshold."""
        return self.op.startswith(">")


@dataclass(frozen=True)
class Extrapolation:
    """Clauses that all must hold for a row to be held out (the test rows)."""

    clauses: tuple[Clause, ...]

    @property
    def text(self) -> str:
        """Canonical text; parse_extrapolation(text) gives back the same rule."""
        return " and ".join(f"{c.column} {c.op} {c.number}" for c in self.clauses)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the rule compares, in order of first use."""
        return tuple(dict.fromkeys(c.column for c in self.clauses))

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows the rule holds out."""
        mask = np.ones(len(frame), dtype=bool)
        for c in self.clauses:
            mask &= OPS[c.op](frame[c.column].to_numpy(dtype=np.float64), c.value)
        return mask


def parse_extrapolation(
    text: str, columns: Sequence[str] | None, where: str = "--extrapolate"
) -> Extrapolation:
    """Parse `COLUMN OP NUMBER [and ...]`; every column must be one of `columns` (any numeric
    column of the data, feature or not; None: any name, checked when the rows are read)."""

    def fail(problem: str) -> ExtrapolationError:
        return ExtrapolationError(f"{where} {text!r}: {problem}; write {GRAMMAR}")

    tokens = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "bad":
            raise fail(f"unexpected {m.group(kind)!r}")
        tokens.append((kind, m.group(kind)))
    if not tokens:
        raise fail("empty expression")
    clauses = []
    pos = 0
    while True:
        part = tokens[pos : pos + 3]
        if [k for k, _ in part] != ["name", "op", "number"]:
            raise fail(f"expected a clause at {' '.join(v for _, v in part) or 'the end'!r}")
        (_, column), (_, op), (_, number) = part
        if columns is not None and column not in columns:
            raise ExtrapolationError(
                f"{where} {text!r}: unknown column '{column}'; the columns are {', '.join(columns)}"
            )
        clauses.append(Clause(column, op, number))
        pos += 3
        if pos == len(tokens):
            return Extrapolation(tuple(clauses))
        if tokens[pos][0] != "and" or pos + 1 == len(tokens):
            raise fail(f"expected 'and' and another clause after {number!r}")
        pos += 1
