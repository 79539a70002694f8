"""Shared fixtures: where the SLDBench data lives, the tiny test task, a tiny benchmark."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """SLDBench data root: $SLDAGENT_DATA, else ../shared/sldbench beside the repo, else skip."""
    from sldagent.task import resolve_data_root

    if os.environ.get("SLDAGENT_DATA", "").strip():
        return resolve_data_root(None)  # absolute: tests hand it to children in other cwds
    shared = REPO.parent / "shared" / "sldbench"
    if shared.is_dir():
        return shared
    pytest.skip("no SLDBench data: set SLDAGENT_DATA or place it at ../shared/sldbench")


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    """A writable copy of the tiny task's data root (tests may break its files)."""
    root = tmp_path / "data"
    shutil.copytree(FIXTURES / "tiny" / "data", root)
    return root


@pytest.fixture
def tiny_toml() -> Path:
    """Path of the tiny task's TOML (read-only)."""
    return FIXTURES / "tiny" / "tiny_task.toml"


BENCH = FIXTURES / "bench"  # two tiny synthetic tasks (bench/make_data.py writes their data)
BENCH_TASKS = (BENCH / "bench_power.toml", BENCH / "bench_mix.toml")


def run_cli(*argv: str) -> tuple[int, str, str]:
    """sldagent.cli.main in-process, capturing stdout and stderr."""
    import contextlib
    import io

    from sldagent.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@dataclass(frozen=True)
class BenchReport:
    """A finished two-task benchmark and what its first, partial invocation left behind."""

    out: Path
    data: Path
    stdout: str
    budget: int
    reused_run: Path
    snapshot: dict  # file (its report too) -> (bytes, mtime_ns) of reused_run after the first run


@pytest.fixture(scope="session")
def bench_report(tmp_path_factory) -> BenchReport:
    """`sldagent benchmark` run twice into one --out: first one task and one seed (as an
    interrupted benchmark leaves it), then both tasks with two seeds."""
    base = tmp_path_factory.mktemp("bench")
    data, out = base / "data", base / "report"
    shutil.copytree(BENCH / "data", data)
    budget = 16
    common = ["--data-dir", str(data), "--out", str(out), "--budget", str(budget)]
    common += ["--sr-seconds", "2", "--quiet"]
    code, _, err = run_cli("benchmark", "--tasks", str(BENCH_TASKS[0]), "--seeds", "1", *common)
    assert code == 0, err
    reused = out / "runs" / "bench_power" / "seed0"
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in reused.rglob("*") if p.is_file()}
    tasks = ",".join(map(str, BENCH_TASKS))
    code, stdout, err = run_cli("benchmark", "--tasks", tasks, "--seeds", "2", *common)
    assert code == 0, err
    return BenchReport(out, data, stdout, budget, reused, snapshot)
