"""Reading a model's reply: the candidates of the JSON value at the top level of the reply.

Models wrap JSON in code fences, add prose before and after, think aloud in <think> tags, or
stop mid-list when they hit the token limit. This module recovers every complete candidate of
the reply's top-level list (or of an object's "laws"/"candidates" list) and says why when it
finds none. Brackets nested inside a broken value are fragments, never candidates: a broken
object's `"labels": ["L0"]` is not a law. It only decodes JSON: law text inside the candidates
is still untrusted and goes through the law parser later; `param_ranges` reads a candidate's
"params" into fit bounds and start ranges.
"""

from __future__ import annotations

import json
import math
import re

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_OPEN = re.compile(r"[\[{]")
_LIST_KEY = re.compile(r'\{\s*"(?:laws|candidates)"\s*:\s*\[')
_DECODER = json.JSONDecoder(strict=False)  # models put raw newlines in strings
LIST_KEYS = ("laws", "candidates")  # an object holding the list of candidates


class ReplyError(ValueError):
    """A reply with no candidate object in it; the message says what was found instead."""


def candidate_objects(reply: str) -> list[object]:
    """The candidate objects of a reply, in order: a top-level JSON list of objects or formula
    strings (or {"laws": [...]}, or one object with "law"), possibly fenced, in prose or cut off
    mid-list. Lists and objects nested in a broken value are not looked at."""
    text = _THINK.sub("", reply or "")
    fenced = [m.group(1) for m in _FENCE.finditer(text)]
    broken = False
    for chunk in [*fenced, text]:
        found, chunk_broken = _objects_in(chunk)
        if found:
            return found
        broken = broken or chunk_broken
    snippet = " ".join(text.split())[:80]
    if broken:
        raise ReplyError(
            "no JSON list of candidates in the reply: its JSON is broken, and lists or objects "
            f"nested in a broken value are fragments, not candidates (starts: {snippet!r})"
        )
    raise ReplyError(f"no JSON list of candidates in the reply (starts: {snippet!r})")


def _objects_in(text: str) -> tuple[list[object], bool]:
    """Candidates from the first top-level JSON list or object in `text` that holds any, and
    whether a broken top-level value was skipped on the way."""
    pos, broken = 0, False
    while True:
        match = _OPEN.search(text, pos)
        if match is None:
            return [], broken
        start = match.start()
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            partial = _cut_off_list(text, start)
            if partial:
                return partial, broken
            end = _matching_close(text, start)
            broken = broken or _looks_like_json(text, start)
        else:
            items = _as_candidates(value)
            if items:
                return items, broken
        pos = end


def _cut_off_list(text: str, start: int) -> list[object]:
    """The complete items of a top-level list (or {"laws": [...]}) cut off mid-way."""
    if text[start] == "[":
        return _complete_items(text, start + 1)
    head = _LIST_KEY.match(text, start)
    return _complete_items(text, head.end()) if head else []


def _matching_close(text: str, start: int) -> int:
    """The position after the bracket that closes the one at `start` (JSON strings skipped), or
    the end of the text: nothing before it is at the top level."""
    depth, i, n = 0, start, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _looks_like_json(text: str, start: int) -> bool:
    """A bracket followed by JSON (a quote, another bracket), not prose like [Kaplan]."""
    return bool(re.match(r'[\[{]\s*["\[{]', text[start:]))


def _as_candidates(value: object) -> list[object]:
    if isinstance(value, dict):
        for key in LIST_KEYS:
            inner = value.get(key)
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


def param_ranges(
    params: object, names: tuple[str, ...]
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """bounds and init ranges from a reply's "params" (names the law does not use are ignored)."""
    if params is None:
        return {}, {}
    if isinstance(params, list):  # [{"name": ..., "bounds": ..., "init": ...}, ...]
        params = {
            p["name"]: p for p in params if isinstance(p, dict) and isinstance(p.get("name"), str)
        }
    if not isinstance(params, dict):
        raise ValueError('"params" must be an object {name: {"bounds": [lo, hi], "init": [..]}}')
    bounds, init = {}, {}
    for name in names:
        spec = params.get(name)
        if spec is None:
            continue
        if isinstance(spec, list):
            spec = {"bounds": spec}
        if not isinstance(spec, dict):
            raise ValueError(f"params.{name}: expected {{'bounds': [lo, hi], 'init': [lo, hi]}}")
        if spec.get("bounds") is not None:
            bounds[name] = _pair(spec["bounds"], f"params.{name}.bounds", finite=False)
        if spec.get("init") is not None:
            init[name] = _pair(spec["init"], f"params.{name}.init", finite=True)
    return bounds, init


def _pair(value: object, where: str, finite: bool) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{where}: expected [low, high]")
    out = []
    for v, inf in zip(value, (-math.inf, math.inf), strict=True):
        if v is None:
            if finite:
                raise ValueError(f"{where}: the range starts are drawn from must be finite")
            out.append(inf)
        elif isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v):
            out.append(float(v))
        else:
            raise ValueError(f"{where}: {str(v)[:40]!r} is not a number")
    lo, hi = out
    if finite and not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{where}: the range starts are drawn from must be finite")
    if lo == math.inf or hi == -math.inf:
        raise ValueError(f"{where}: [{lo:g}, {hi:g}] leaves no finite value")
    if not lo <= hi:
        raise ValueError(f"{where}: low {lo:g} is above high {hi:g}")
    return lo, hi
