"""Shared fixtures: where the SLDBench data lives and the tiny test task."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """SLDBench data root: $SLDAGENT_DATA, else ../shared/sldbench beside the repo, else skip."""
    env = os.environ.get("SLDAGENT_DATA", "").strip()
    if env:
        return Path(env)
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
