"""The run directory's append-only candidate log: every evaluated candidate, one JSON line.

Lines are flushed and fsynced as candidates complete, so a killed run loses at most the line
being written; reading tolerates (and trims) a partial last line so the run can resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# what the search reads back from each line of candidates.jsonl (loop.py writes them)
CANDIDATE_KEYS = (
    "id",
    "generation",
    "index",
    "law",
    "recipe",
    "key",
    "ok",
    "fitness",
    "complexity",
    "n_params",
    "validation_r2",
)


class RunLog:
    """Append-only JSONL file of records: JSON objects holding at least the `required` keys."""

    def __init__(self, path: Path, required: tuple[str, ...] = ()):
        self.path = Path(path)
        self.required = required

    def read(self) -> list[dict]:
        """All records; an unterminated last line (a write torn by a kill) is cut off the file.
        A damaged line in the middle is not a torn write: it is an error, and nothing is cut."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.splitlines(keepends=True)
        records, good = [], 0
        for n, line in enumerate(lines, start=1):
            last = n == len(lines)
            if not line.endswith(b"\n"):
                break  # only the last line can lack its newline
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if last:
                    break
                raise self._damaged(n, "is not a JSON record") from None
            if not isinstance(record, dict):
                raise self._damaged(n, f"holds a JSON {_kind(record)}, not a record")
            missing = [k for k in self.required if k not in record]
            if missing:
                raise self._damaged(n, f"is not a candidate record (no '{missing[0]}')")
            records.append(record)
            good += len(line)
        if good < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)
        return records

    def _damaged(self, n: int, problem: str) -> ValueError:
        return ValueError(
            f"{self.path}: line {n} {problem}; the log is damaged "
            "(two runs writing to one folder?): start a new run"
        )

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, allow_nan=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    return names.get(type(value), type(value).__name__)
