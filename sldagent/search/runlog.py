"""The run directory's append-only candidate log: every evaluated candidate, one JSON line.

Lines are flushed and fsynced as candidates complete, so a killed run loses at most the line
being written; reading tolerates (and trims) a partial last line so the run can resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "run.lock"
# what the search reads back from each line of candidates.jsonl (candidates.py makes them)
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


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on run_dir/run.lock for a run's life, so that a second process
    writing the same run directory is refused (the kernel drops the lock if the holder dies)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    fh = open(path, "a")  # noqa: SIM115 - held open for the whole run
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise ValueError(
            f"{run_dir} is in use by another sldagent process (it holds {path}); wait for that "
            "run to end, or give another --run-dir"
        ) from None
    try:
        yield
    finally:
        fh.close()


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    return names.get(type(value), type(value).__name__)
