"""What the LLM proposer asks a server to constrain its reply to: the JSON schema of a reply
(an object holding a list of laws), sent as `response_format`.

Modes, strictest first: `json_schema` (OpenAI, vLLM, Ollama, llama.cpp's llama-server),
`json_object` carrying the same schema under "schema" (llama-cpp-python's server turns it into
a grammar; others at least return a JSON object), and `text` (no response_format: the prompt
alone asks for JSON). A server that refuses a mode gets the next one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sldagent.fitters import LOSSES

REPLY_FORMATS = ("json_schema", "json_object", "text")


FUNCTIONS = ("exp", "log", "sqrt")  # the law language's functions the pattern offers


def formula_pattern(features: Sequence[str]) -> str:
    """A regular expression for a sum of products of terms, at least one of which names a
    feature: a term is a feature, a name (up to 12 characters) or a number, optionally raised
    to one (in parentheses, possibly negated), or exp/log/sqrt of a product. A subset of the
    law language, so that a constrained decoder writes something the law parser can read; the
    parser still decides."""
    name, num = "[A-Za-z_][A-Za-z0-9_]{0,11}", "[0-9]{1,6}([.][0-9]{1,6})?"
    feature = "(" + "|".join(re.escape(f) for f in sorted(features, key=len, reverse=True)) + ")"
    atom = f"({feature}|{name}|{num})"  # a feature may be longer than a name
    power = f"(\\*\\*({atom}|\\(-?{atom}\\)))?"
    funcs = "(" + "|".join(FUNCTIONS) + ")"
    term = f"({funcs}\\(-?{atom}([*/]{atom})*\\)|{atom}{power})"
    fterm = f"({funcs}\\(-?({atom}[*/])*{feature}([*/]{atom})*\\)|{feature}{power})"
    prod = f"{term}( ?[*/] ?{term})*"
    fprod = f"({term} ?[*/] ?)*{fterm}( ?[*/] ?{term})*"
    return f"^-?({prod} ?[+-] ?)*{fprod}( ?[+-] ?{prod})*$"


def formula_schema(features: Sequence[str]) -> dict:
    """A formula string that a constrained decoder can only write in (a subset of) the law
    language, naming at least one feature."""
    return {"type": "string", "pattern": formula_pattern(features)}


def reply_schema(features: Sequence[str], targets: Sequence[str], ask: int) -> dict:
    """The schema of a reply asking for `ask` laws: {"laws": [{law, params, loss, log_target,
    rationale}, ...]}; a law is a formula, or one formula per target for several targets."""
    formula = formula_schema(features)
    if len(targets) == 1:
        law = formula
    else:
        law = {
            "type": "object",
            "properties": {t: formula for t in targets},
            "required": list(targets),
        }
    pair = {"type": "array", "items": {"type": ["number", "null"]}, "minItems": 2, "maxItems": 2}
    param = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 24}, "bounds": pair, "init": pair},
        "required": ["name"],
    }
    item = {
        "type": "object",
        "properties": {
            "law": law,
            "params": {"type": "array", "items": param},
            "loss": {"type": "string", "enum": list(LOSSES)},
            "log_target": {"type": "boolean"},
            "rationale": {"type": "string", "maxLength": 200},
        },
        "required": ["law", "rationale"],
    }
    laws = {"type": "array", "items": item, "minItems": 1, "maxItems": ask}
    return {"type": "object", "properties": {"laws": laws}, "required": ["laws"]}


def response_format(mode: str, schema: dict) -> dict | None:
    """The request's `response_format` for a mode (None: plain text, no field sent)."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "laws", "schema": schema}}
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    if mode == "text":
        return None
    raise ValueError(f"reply format must be one of {', '.join(REPLY_FORMATS)}")
