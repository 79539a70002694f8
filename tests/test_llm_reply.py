"""Reading model replies: fenced, wrapped in prose, cut off, thinking aloud, or garbage."""

from __future__ import annotations

import json

import pytest

from sldagent.search.llm_reply import ReplyError, candidate_objects

A = {"law": "E + A*x**(-a)", "params": {"a": {"bounds": [0, 3]}}, "rationale": "power law"}
B = {"law": "c0 + c1*log(x)", "loss": "huber"}


def test_a_bare_json_list():
    assert candidate_objects(json.dumps([A, B])) == [A, B]


def test_a_fenced_list_with_prose_around_it():
    reply = (
        f"Sure! Here are two laws:\n```json\n{json.dumps([A, B], indent=2)}\n```\nHope it helps."
    )
    assert candidate_objects(reply) == [A, B]


def test_trailing_prose_without_fences():
    reply = f"{json.dumps([A, B])}\n\nThe first is a classic power law [Kaplan et al.]."
    assert candidate_objects(reply) == [A, B]


def test_a_list_cut_off_by_the_token_limit_keeps_the_complete_objects():
    whole = json.dumps([A, B, A], indent=1)
    cut = whole[: whole.rindex('"law"') + 12]  # stops inside the third object
    assert candidate_objects("```json\n" + cut) == [A, B]


def test_an_unclosed_fence_and_a_trailing_comma():
    assert candidate_objects("```json\n[" + json.dumps(A) + ",\n" + json.dumps(B) + ",\n]") == [
        A,
        B,
    ]


def test_an_object_holding_the_list_or_a_single_candidate():
    assert candidate_objects(json.dumps({"candidates": [A, B]})) == [A, B]
    assert candidate_objects("The law: " + json.dumps(A)) == [A]


def test_thinking_is_ignored():
    reply = '<think>maybe [1, 2] or {"law": "x"} ...</think>\n' + json.dumps([B])
    assert candidate_objects(reply) == [B]


def test_prose_brackets_before_the_list_are_skipped():
    reply = "Using [Chinchilla] style {ideas}: " + json.dumps([A])
    assert candidate_objects(reply) == [A]


@pytest.mark.parametrize(
    "reply",
    ["", "I cannot help with that.", "[1, 2, 3]", '{"answer": 42}', "```\nnot json\n```", "[{"],
)
def test_replies_without_candidates_are_a_one_line_error(reply: str):
    with pytest.raises(ReplyError, match="no JSON list of candidates") as err:
        candidate_objects(reply)
    assert "\n" not in str(err.value)


def test_a_list_of_bare_formulas():
    assert candidate_objects('Laws:\n["E + a*x**(-b)", "c*log(x)"]') == [
        "E + a*x**(-b)",
        "c*log(x)",
    ]


def test_finding1_lists_nested_in_broken_json_are_fragments_not_candidates():
    """A real model's broken object: `["exponential"]` and `"labels": ["L0","L1"]` inside it
    became laws; nothing nested in a broken top-level value is a candidate."""
    broken = (
        '{"type": "scaling law", "forms": ["exponential"], "law": E + A*x, '
        '"labels": ["L0", "L1"], "note": {"law": "L0"}'
    )
    with pytest.raises(ReplyError, match="fragments, not candidates"):
        candidate_objects(broken)
    with pytest.raises(ReplyError, match="fragments"):
        candidate_objects("Here you go:\n```json\n" + broken + "\n```")
    # a whole list after the broken value is still at the top level
    assert candidate_objects(broken + "}\n" + json.dumps([A])) == [A]


def test_an_object_holding_laws_cut_off_keeps_the_complete_ones():
    whole = json.dumps({"laws": [A, B, A]})
    cut = whole[: whole.rindex('"law"') + 8]
    assert candidate_objects(cut) == [A, B]
    assert candidate_objects(json.dumps({"laws": [A, B]})) == [A, B]
