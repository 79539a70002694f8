"""SLDAgent's published SLDBench results (paper table, leaderboard), as facts for the report.

They live in sldagent/reference/published_sldagent.toml with their sources and caveats.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "reference" / "published_sldagent.toml"


@cache
def _reference() -> dict:
    return tomllib.loads(REFERENCE.read_text(encoding="utf-8"))


def sources() -> dict[str, dict[str, str]]:
    """{source: {label, source, caveat}} for 'paper' and 'leaderboard'."""
    return _reference()["sources"]


def published_sldagent(task: str) -> dict[str, dict]:
    """{source: {test_r2, label, caveat, [best]}} for a task ({} for a task not in SLDBench)."""
    entry = _reference()["tasks"].get(task)
    if entry is None:
        return {}
    out = {}
    for source, info in sources().items():
        if source in entry:
            out[source] = {
                "test_r2": float(entry[source]),
                "label": info["label"],
                "reference": info["source"],
                "caveat": info["caveat"],
            }
            if f"{source}_best" in entry:
                out[source]["best"] = float(entry[f"{source}_best"])
    return out
