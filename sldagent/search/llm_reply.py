"""Reading a model's reply: the JSON list of candidates inside whatever text came with it.

Models wrap JSON in code fences, add prose before and after, think aloud in <think> tags, or
stop mid-list when they hit the token limit. This module recovers every complete candidate
object it can and says why when it finds none. It only decodes JSON: law text inside the
candidates is still untrusted and goes through the law parser later.
"""

from __future__ import annotations

import json
import re

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_DECODER = json.JSONDecoder()


class ReplyError(ValueError):
    """A reply with no candidate object in it; the message says what was found instead."""


def candidate_objects(reply: str) -> list[object]:
    """The candidate objects of a reply, in order: a JSON list of objects or formula strings
    (or {"candidates": [...]}, or one object), possibly fenced, in prose or cut off mid-list."""
    text = _THINK.sub("", reply or "")
    fenced = [m.group(1) for m in _FENCE.finditer(text)]
    for chunk in [*fenced, text]:
        found = _objects_in(chunk)
        if found:
            return found
    snippet = " ".join(text.split())[:80]
    raise ReplyError(f"no JSON list of candidates in the reply (starts: {snippet!r})")


def _objects_in(text: str) -> list[object]:
    """Candidates from the first JSON list or object in `text` that holds any."""
    for match in re.finditer(r"[\[{]", text):
        start = match.start()
        try:
            value, _end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            if text[start] == "[":
                partial = _complete_items(text, start + 1)
                if partial:
                    return partial
            continue
        items = _as_candidates(value)
        if items:
            return items
    return []


def _as_candidates(value: object) -> list[object]:
    if isinstance(value, dict):
        inner = value.get("candidates")
        if isinstance(inner, list):
            return inner
        return [value] if "law" in value else []
    if isinstance(value, list) and any(isinstance(v, dict | str) for v in value):
        return value  # objects, or bare formulas
    return []


def _complete_items(text: str, pos: int) -> list[object]:
    """The complete items of a list cut off mid-way (a reply stopped by its token limit)."""
    items: list[object] = []
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or text[pos] == "]":
            return items
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            return items
        items.append(value)
