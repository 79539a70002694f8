"""The README's snippets executed as written, and CI running its setup commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sldagent.task import load_task

REPO = Path(__file__).resolve().parents[1]


def snippet(name: str) -> str:
    """The code block between `<!-- readme-snippet: NAME -->` and `<!-- /readme-snippet -->`."""
    text = (REPO / "README.md").read_text()
    found = re.findall(
        rf"<!-- readme-snippet: {name} -->\n```\w+\n(.*?)```\n<!-- /readme-snippet -->",
        text,
        flags=re.S,
    )
    assert len(found) == 1, f"README.md needs exactly one snippet {name!r}"
    return found[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A fresh folder with the example CSV where the snippets expect it."""
    (tmp_path / "examples").mkdir()
    shutil.copy(REPO / "examples" / "chinchilla_like.csv", tmp_path / "examples")
    return tmp_path


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "SLDAGENT_DATA"}
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), out.get("PYTHONPATH", "")]))
    return out


def run_bash_snippet(name: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """A bash snippet of the README, run as written in cwd."""
    # `sldagent` is this interpreter's module, whether or not the console script is on PATH
    script = f'sldagent() {{ "{sys.executable}" -m sldagent "$@"; }}\n' + snippet(name)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
    )


def test_the_csv_snippet_runs(workdir: Path):
    proc = run_bash_snippet("csv", workdir, 300)
    assert proc.returncode == 0, proc.stderr
    assert "held-out rows N >= 1e9" in proc.stdout
    assert re.search(r"^arch_a\s+loss\s+[\d.]+\s+\[", proc.stdout, flags=re.M)
    assert "decades above the training range" in proc.stderr
    assert (workdir / "runs" / "mine" / "best.json").is_file()
    task = load_task(workdir / "mine.toml")
    assert task.source.extrapolate.text == "N >= 1e9" and task.group == "model"


def test_the_python_snippet_runs(workdir: Path):
    proc = subprocess.run(
        [sys.executable, "-c", snippet("python")],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env=env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(r"\mathrm{loss} = ")
    assert "validation_error" in proc.stdout
    assert re.search(r"^\[[\d.]+\]$", proc.stdout, flags=re.M)


def test_the_report_snippet_runs(tmp_path: Path):
    proc = run_bash_snippet("report", tmp_path, 600)
    assert proc.returncode == 0, proc.stderr
    assert "report      runs/demo/report.html" in proc.stdout
    figures = {"law", "law_vs_runs", "train", "test", "pareto", "progress"}
    for page in (tmp_path / "runs" / "demo", tmp_path / "runs" / "demo" / "at7e10"):
        assert (page / "report.html").is_file()
        assert {p.stem for p in (page / "report_figures").glob("*.png")} == figures
    assert "Prediction at N=7e+10" in (tmp_path / "runs/demo/at7e10/report.html").read_text()
    assert (REPO / "docs" / "run_report.png").stat().st_size < 300_000


def test_ci_runs_the_readme_install_and_test_commands_as_written():
    """CI must install and test exactly as a new user would from the README."""
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set up and test", 1)[1].split("```bash\n", 1)[1].split("```")[0]
    install, test = setup.strip().splitlines()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test in ci, f"{test!r} is not a line of .ci/run"
    extras = install.split("-e ", 1)[1]
    assert any("pip install" in line and f"-e {extras}" in line for line in ci), install
