"""The benchmark report: results.json schema, a self-contained HTML page, figures with labelled
axes / legends / log scales, the LaTeX table export, and which modules open the test rows."""

from __future__ import annotations

import ast
import base64
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_errors import assert_user_error
from conftest import BENCH_TASKS, REPO, run_cli

from sldagent import plots
from sldagent.report import fmt, mean_row, seed_table, summarize
from sldagent.task import load_task, load_test, load_train, split_validation

PNG = b"\x89PNG\r\n\x1a\n"
KINDS = {"sldagent", "human_published", "human_constants", "human_refit", "sr"}
KINDS |= {"published_sldagent"}


def strict_json(path: Path) -> dict:
    def refuse(name: str):
        raise AssertionError(f"{path} holds {name}: not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_results_json_schema(bench_report):
    results = strict_json(bench_report.out / "results.json")
    assert {"sldagent_version", "created", "command", "config", "results"} <= set(results)
    assert results["config"]["tasks"] == ["bench_power", "bench_mix"]
    by_kind: dict[str, list[dict]] = {}
    for rec in results["results"]:
        assert rec["kind"] in KINDS, rec
        by_kind.setdefault(rec["kind"], []).append(rec)
    runs = by_kind["sldagent"]
    assert sorted((r["task"], r["seed"]) for r in runs) == [
        ("bench_mix", 0),
        ("bench_mix", 1),
        ("bench_power", 0),
        ("bench_power", 1),
    ]
    for r in runs:
        assert isinstance(r["law"], str | dict) and isinstance(r["n_params"], int)
        for key in ("validation_r2", "test_r2", "seconds", "eval_seconds"):
            assert isinstance(r[key], float), (key, r)
        assert r["candidates"] == bench_report.budget and r["llm"] is None
        assert (bench_report.out / r["run_dir"] / "best.json").is_file()
    for kind in ("human_published", "human_refit", "sr"):
        assert sorted(r["task"] for r in by_kind[kind]) == ["bench_mix", "bench_power"]
        for r in by_kind[kind]:
            assert isinstance(r["test_r2"], float)
    for r in by_kind["human_refit"]:
        assert isinstance(r["n_params"], int) and r["constants"]
    for r in by_kind["sr"]:
        assert r["method"] == "pyoperon" and r["formulas"] and isinstance(r["seconds"], float)
    assert "published_sldagent" not in by_kind  # custom tasks have no published numbers


def test_published_sldagent_numbers_for_sldbench_tasks():
    from sldagent.published import published_sldagent, sources

    assert set(sources()) == {"paper", "leaderboard"}
    assert "test split" in sources()["leaderboard"]["caveat"]
    paper = [published_sldagent(t)["paper"]["test_r2"] for t in _sldbench_tasks()]
    board = [published_sldagent(t)["leaderboard"]["test_r2"] for t in _sldbench_tasks()]
    # the means the paper and the leaderboard state (reference/published.md)
    assert round(float(np.mean(paper)), 3) == 0.748
    assert round(float(np.mean(board)), 3) == 0.967
    assert published_sldagent("bench_power") == {}


def _sldbench_tasks() -> list[str]:
    from sldagent.task import list_tasks

    return list_tasks()


def test_html_is_self_contained(bench_report):
    page = (bench_report.out / "index.html").read_text()
    assert not re.search(r"https?://", page), "no network reference of any kind"
    assert "<script" not in page and "<link" not in page and "@import" not in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    # per task: the rendered law, the scale-axis panels, predicted vs actual
    assert len(sources) == 6
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    assert "bench_power" in page and "Run cost" in page


def test_readme_references_existing_figures(bench_report):
    readme = (bench_report.out / "README.md").read_text()
    figures = re.findall(r"\]\((figures/[^)]+\.png)\)", readme)
    assert len(figures) == 4
    for rel in figures:
        assert (bench_report.out / rel).read_bytes().startswith(PNG)
    assert "pyoperon" in readme and "## Run cost" in readme


def test_latex_table_export(bench_report, tmp_path: Path):
    code, out, err = run_cli(
        "export", str(bench_report.out), "--format", "latex-table", "--out", str(tmp_path / "t.tex")
    )
    assert code == 0, err
    tex = (tmp_path / "t.tex").read_text()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}", r"\end{tabular}"):
        assert rule in tex
    assert r"bench\_power" in tex and r"bench\_mix" in tex
    assert tex.count("{") == tex.count("}")
    body = [ln for ln in tex.splitlines() if ln.endswith(r"\\")]
    assert len(body) == 1 + 2 + 1  # header, two tasks, the mean
    assert all(ln.count("$") % 2 == 0 for ln in body)
    results = json.loads((bench_report.out / "results.json").read_text())
    rows = summarize(results)
    for row, line in zip(rows, body[1:3], strict=True):
        assert f"${fmt(row.ours_mean)} \\pm {fmt(row.ours_std)}$" in line
        assert f"${fmt(row.human_refit)}$" in line
    assert f"${fmt(mean_row(rows)['ours_mean'])}$" in body[3]


def test_latex_table_of_a_directory_without_results(tmp_path: Path):
    code, _, err = run_cli("export", str(tmp_path), "--format", "latex-table")
    assert_user_error(code, err, "results.json not found", "sldagent benchmark")


def test_notes_say_which_sr_ran_or_that_none_could():
    from sldagent.report import table_notes

    def notes(*sr: dict) -> str:
        config = {"seeds": 1, "budget": 8, "proposer": "symbolic"}
        return " ".join(table_notes({"config": config, "results": list(sr)}))

    ran = {"kind": "sr", "task": "a", "method": "pyoperon", "note": "PySR is not installed"}
    assert "SR baseline: pyoperon" in notes(ran) and "PySR is not installed" in notes(ran)
    none = {"kind": "sr", "task": "a", "method": None, "note": "PySR failed to import: x"}
    assert "no SR method could run here" in notes(none)


def test_clipping_and_formatting_of_summary_numbers():
    assert fmt(-math.inf) == "−∞" and fmt(None) == "—" and fmt(-0.3051) == "−0.305"


@pytest.fixture
def bench_rows(tmp_path: Path):
    task = load_task(BENCH_TASKS[0])
    data = tmp_path / "data"
    shutil.copytree(BENCH_TASKS[0].parent / "data", data)
    train, test = load_train(task, data), load_test(task, data)
    fit, val = split_validation(train)
    return task, plots.group_rows(fit, val, test), test


def _true_law(group: str, X: np.ndarray) -> np.ndarray:
    e, a, alpha, b, beta = {"small": (1.8, 40, 0.3, 9, 0.25), "big": (1.2, 30, 0.28, 6, 0.22)}[
        group
    ]
    return (e + a * X[:, 0] ** -alpha + b * X[:, 1] ** -beta)[:, None]


def test_scale_panels_label_axes_use_log_scale_over_decades_and_have_a_legend(
    bench_rows, tmp_path: Path
):
    task, rows, _ = bench_rows
    assert plots.scale_axis(task) == "size"  # the column the validation rule extrapolates
    panels = [(g, "loss") for g in sorted(rows)]
    fig = plots.law_panels(task, rows, panels, _true_law, "the law", tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes().startswith(PNG)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_xlabel() == "size [parameters]"
        assert ax.get_ylabel() == "loss [nats/token]"
        assert ax.get_xscale() == "log"  # size spans 1e6..1e9
        assert ax.get_yscale() == "linear"  # loss spans less than a decade
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"train: fit rows", "train: validation rows", "test rows (sealed)", "the law"} <= set(
        labels
    )
    assert "test region (beyond all train rows)" in labels


def test_predicted_vs_actual_has_labels_a_legend_and_counts_off_scale_points(
    bench_rows, tmp_path: Path
):
    task, _, test = bench_rows

    def wild(group: str, X: np.ndarray) -> np.ndarray:
        y = _true_law(group, X)
        if group == "big":
            y[0] = np.inf
        return y

    fig = plots.predicted_vs_actual(
        task, test, [("true law", _true_law), ("wild", wild)], tmp_path / "t.png"
    )
    (ax,) = fig.axes
    assert ax.get_xlabel() == "actual loss [nats/token]"
    assert ax.get_ylabel() == "predicted loss [nats/token]"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["perfect prediction", "true law", "wild (1 off-scale, on the edge)"]


def test_spans_decades():
    assert plots.spans_decades(np.array([1.0, 101.0]))
    assert not plots.spans_decades(np.array([1.0, 99.0]))
    assert not plots.spans_decades(np.array([-1.0, 1e6]))  # not positive: no log axis


def test_latex_png_renders_or_declines(tmp_path: Path):
    assert plots.latex_png(r"\mathrm{loss} = a_{0} x^{e_{1}} + c", tmp_path / "ok.png")
    assert (tmp_path / "ok.png").read_bytes().startswith(PNG)
    assert not plots.latex_png(r"\begin{cases} x \end{cases}", tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_only_evaluation_and_the_report_open_test_rows():
    users = set()
    for path in sorted((REPO / "sldagent").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            name = getattr(node, "id", None) or getattr(node, "attr", None)
            if name == "load_test" or (isinstance(node, ast.alias) and node.name == "load_test"):
                users.add(path.relative_to(REPO).as_posix())
    users.discard("sldagent/task.py")  # where it is defined
    users.discard("sldagent/data.py")  # `sldagent data check` validates the files, scores nothing
    assert users == {"sldagent/evaluation.py", "sldagent/report.py"}


def _browser() -> str | None:
    return next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )


@pytest.mark.skipif(_browser() is None, reason="no Chromium here (apt-get install chromium)")
def test_report_renders_in_headless_chromium_without_network(bench_report, tmp_path: Path):
    import subprocess
    import sys

    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    script = REPO / "scripts" / "screenshot_report.py"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(bench_report.out),
            "--out",
            str(shot),
            "--height",
            "1600",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    pixels = imread(shot)
    assert pixels.shape[:2] == (1600, 1280)
    assert pixels[..., :3].std() > 0.05  # a rendered page, not a blank one


def test_the_benchmark_links_each_task_to_its_runs_reports(bench_report):
    page = (bench_report.out / "index.html").read_text()
    readme = (bench_report.out / "README.md").read_text()
    for task in ("bench_power", "bench_mix"):
        for seed in (0, 1):
            href = f"runs/{task}/seed{seed}/report.html"
            assert f'<a href="{href}">seed {seed}</a>' in page
            assert f"[seed {seed}]({href})" in readme
            run_page = (bench_report.out / href).read_text()
            assert f"<h1>Run report: {task}</h1>" in run_page


HOSTILE_GROUPS = {"small": r"$\frac{$ small", "big": "<script>alert(1)</script>"}


@pytest.fixture(scope="module")
def hostile_benchmark(tmp_path_factory) -> Path:
    """A one-task benchmark whose group names and a unit hold `$...$` (mathtext) and
    `<script>`: what came out, or the error it raised."""
    base = tmp_path_factory.mktemp("hostile")
    data = base / "data" / "bench_power"
    data.mkdir(parents=True)
    for split in ("train", "test"):
        text = (BENCH_TASKS[0].parent / "data" / "bench_power" / f"{split}.csv").read_text()
        for old, new in HOSTILE_GROUPS.items():
            text = text.replace(f"\n{old},", f"\n{new},")
        (data / f"{split}.csv").write_text(text)
    toml = base / "bench_power.toml"
    toml.write_text(
        BENCH_TASKS[0].read_text().replace('unit = "parameters"', r'unit = "$\\sqrt{$ params"')
    )
    out = base / "report"
    code, _, err = run_cli(
        "benchmark", "--tasks", str(toml), "--seeds", "1", "--budget", "8", "--sr-seconds", "1",
        "--quiet", "--data-dir", str(base / "data"), "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    return out


def test_finding12_mathtext_escapes_group_and_unit_names(hostile_benchmark):
    page = (hostile_benchmark / "index.html").read_text()
    assert r"$\frac{$ small" in page  # the group's constants column, written as typed
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 3  # the law, the scale-axis panels, predicted vs actual
    # the panels are titled with the group names verbatim (mathtext would have raised)
    task = load_task(hostile_benchmark.parent / "bench_power.toml")
    assert plots.axis_label(task, "size") == r"size [\$\sqrt{\$ params]"
    run_page = hostile_benchmark / "runs" / "bench_power" / "seed0" / "report.html"
    assert r"$\frac{$ small" in run_page.read_text()


def test_finding13_benchmark_readme_escapes_group_names(hostile_benchmark):
    readme = (hostile_benchmark / "README.md").read_text()
    assert not re.search(r"(?<!\\)<", readme), "every < is backslash-escaped (shown, not run)"
    assert r"\<script\>alert\(1\)\<\/script\>" in readme
    assert r"\$\\frac\{\$ small" in readme
    page = (hostile_benchmark / "index.html").read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_per_seed_table_holds_every_runs_test_r2_and_the_clipped_mean(bench_report):
    results = strict_json(bench_report.out / "results.json")
    header, rows = seed_table(summarize(results))
    assert header == ["seed", "bench_power", "bench_mix", "clipped mean"]
    runs = {
        (r["task"], r["seed"]): r["test_r2"] for r in results["results"] if r["kind"] == "sldagent"
    }
    for row in rows:
        seed = int(row[0])
        values = [runs[(t, seed)] for t in header[1:-1]]
        for cell, v in zip(row[1:-1], values, strict=True):
            assert float(cell.replace("−", "-")) == pytest.approx(v, abs=1e-3)
        mean = sum(max(-1.0, min(1.0, v)) for v in values) / len(values)
        assert float(row[-1].replace("−", "-")) == pytest.approx(mean, abs=1e-3)
    text = (bench_report.out / "README.md").read_text()
    assert "## Per seed (test R²)" in text and "| 1 | " in text
    assert "Per seed (test R²)" in (bench_report.out / "index.html").read_text()
