"""Tests of sldagent.export: the LaTeX export keeps user text inert."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from conftest import run_cli

from sldagent.export import tex_escape

HOSTILE = "a\n\\immediate\\write18{touch /tmp/pwned}\r\\input{/etc/hostname}%$#&~^_"


def test_tex_escape_makes_every_special_character_inert():
    assert tex_escape("a\nb\r\\c{1}%$#&~^_") == (
        r"a b \textbackslash{}c\{1\}\%\$\#\&\textasciitilde{}\textasciicircum{}\_"
    )


def test_finding03_latex_escapes_group_names(tmp_path: Path):
    """A group name with line breaks and TeX commands stays inside its `%` comment line."""
    rng = np.random.default_rng(0)
    path = tmp_path / "runs.csv"
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["model", "N", "loss"])
        for group in ("plain", HOSTILE):
            for N in np.logspace(6, 9, 12):
                out.writerow([group, f"{N:.4g}", f"{2 + 40 * N**-0.3 + rng.normal(0, 1e-3):.5f}"])
    run = tmp_path / "run"
    code, _, err = run_cli(
        "discover", "--csv", str(path), "--features", "N", "--target", "loss", "--group",
        "model", "--budget", "4", "--jobs", "1", "--quiet", "--run-dir", str(run),
    )  # fmt: skip
    assert code == 0, err
    code, text, err = run_cli("export", str(run), "--format", "latex")
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0].startswith("\\[ ") and lines[0].endswith(" \\]")
    assert len(lines) == 3 and all(line.startswith("% ") for line in lines[1:])
    assert "\\immediate" not in text and "\\input" not in text
    assert any("write18\\{touch /tmp/pwned\\}" in line for line in lines[1:])
