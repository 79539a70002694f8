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
        """All complete records; a torn last line (from a kill) is cut off the file."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records, good = [], 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
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
