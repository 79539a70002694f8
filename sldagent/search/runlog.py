"""The run directory's append-only candidate log: every evaluated candidate, one JSON line.

Lines are flushed and fsynced as candidates complete, so a killed run loses at most the line
being written; reading tolerates (and trims) a partial last line so the run can resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class RunLog:
    """Append-only JSONL file of candidate records."""

    def __init__(self, path: Path):
        self.path = Path(path)

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
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if last:
                    break
                raise ValueError(
                    f"{self.path}: line {n} is not a JSON record; the log is damaged "
                    "(two runs writing to one folder?): start a new run"
                ) from None
            good += len(line)
        if good < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)
        return records

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, allow_nan=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
