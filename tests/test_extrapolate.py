"""Tests of sldagent.extrapolate: the `COLUMN OP NUMBER [and ...]` grammar of held-out rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sldagent.extrapolate import ExtrapolationError, parse_extrapolation

FEATURES = ("N", "D", "Nand")
FRAME = pd.DataFrame({"N": [1e8, 1e9, 2e9, 5e9], "D": [1e10, 1e12, 1e10, 1e12], "Nand": 1.0})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("N>=1e9", [False, True, True, True]),
        ("N > 1e9", [False, False, True, True]),
        ("N<=1e9", [True, True, False, False]),
        ("N < 1E9", [True, False, False, False]),
        ("N >= 1e9 and D >= 1e11", [False, True, False, True]),
        ("N>=1e9&D<1e11", [False, False, True, False]),
        ("Nand >= +1.0", [True, True, True, True]),  # 'and' inside a name is part of the name
        ("D >= .5e11", [False, True, False, True]),
    ],
)
def test_clauses_select_the_rows_where_all_hold(text: str, expected: list[bool]):
    rule = parse_extrapolation(text, FEATURES)
    assert rule.mask(FRAME).tolist() == expected


def test_canonical_text_round_trips_and_keeps_the_numbers_as_written():
    rule = parse_extrapolation("N>=1e9&D  <2.5e11", FEATURES)
    assert rule.text == "N >= 1e9 and D < 2.5e11"
    assert parse_extrapolation(rule.text, FEATURES) == rule
    assert rule.columns == ("N", "D")
    assert [c.upward for c in rule.clauses] == [True, False]
    assert rule.clauses[1].value == 2.5e11


def test_a_repeated_column_is_listed_once():
    rule = parse_extrapolation("N >= 1e8 and N < 3e9", FEATURES)
    assert rule.columns == ("N",)
    assert rule.mask(FRAME).tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("X >= 1", "unknown column 'X'; the columns are N, D, Nand"),
        ("N >= ", "expected a clause at 'N >='"),
        ("1e9 <= N", "expected a clause at '1e9 <= N'"),
        ("N == 1", "unexpected '=='"),
        ("N >= 1e9 or D > 1", "expected 'and' and another clause after '1e9'"),
        ("N >= 1e9 and", "expected 'and' and another clause after '1e9'"),
        ("N >= 1e9x", "unexpected '1e9x'"),
        ("N >= inf", "expected a clause at 'N >= inf'"),
        ("__import__('os') > 1", "unexpected"),
        ("N >= (1)", "unexpected '(1)'"),
    ],
)
def test_malformed_expressions_are_one_line_errors(text: str, needle: str):
    with pytest.raises(ExtrapolationError) as err:
        parse_extrapolation(text, FEATURES)
    message = str(err.value)
    assert needle in message and "\n" not in message
    assert message.startswith("--extrapolate")
    assert "write COLUMN OP NUMBER" in message or "unknown column" in message


def test_the_mask_is_independent_of_row_order():
    rule = parse_extrapolation("N >= 1e9 and D > 1e11", FEATURES)
    shuffled = FRAME.iloc[[3, 1, 0, 2]]
    assert np.array_equal(rule.mask(shuffled), rule.mask(FRAME)[[3, 1, 0, 2]])
