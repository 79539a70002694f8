"""The run report (`sldagent report RUN_DIR`, sldagent/run_report.py): discover writes it, it has
every figure, it is self-contained, escaped and byte-for-byte reproducible, --at agrees with
`sldagent predict`, it works for SLDBench, CSV and demo runs, a bad run dir is a one-line error,
and it renders in real headless Chromium without a single external request."""

from __future__ import annotations

import base64
import http.server
import io
import json
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from cli_errors import assert_user_error
from conftest import run_cli

from sldagent import demo
from sldagent.predict import predict_run
from sldagent.run_report import FIGURES, REPORT, bound_warnings

FIGURE_NAMES = ("law", "law_vs_runs", "train", "test", "pareto", "progress")
PNG = b"\x89PNG\r\n\x1a\n"


def _discover(run_dir: Path, *argv: str) -> str:
    code, out, err = run_cli("discover", *argv, "--jobs", "1", "--quiet", "--run-dir", str(run_dir))
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, str]:
    """A finished demo run (discover wrote its report) and discover's stdout."""
    run_dir = tmp_path_factory.mktemp("run_report") / "demo"
    return run_dir, _discover(run_dir, "--demo", "--budget", "12")


def _images(page: str) -> list[bytes]:
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    return [base64.b64decode(s.split(",", 1)[1]) for s in sources]


def _pixels(png: bytes) -> np.ndarray:
    from matplotlib.image import imread

    return imread(io.BytesIO(png), format="png")


def test_discover_writes_the_report_with_every_figure(demo_run):
    run_dir, out = demo_run
    page_path = run_dir / REPORT
    assert f"report      {page_path}" in out.splitlines()
    page = page_path.read_text()
    figures = {p.stem: p.read_bytes() for p in (run_dir / FIGURES).glob("*.png")}
    assert set(figures) == set(FIGURE_NAMES)
    # every figure is embedded (the page needs no other file), in the order of the sections
    assert _images(page) == [figures[n] for n in FIGURE_NAMES]
    for name in ("Warnings", "The law", "The law against the runs, along N",
                 "Predicted vs actual", "Constants per group", "Pareto front", "Search progress",
                 "Finalists"):  # fmt: skip
        assert f"<h2>{name}" in page, name
    assert "test rows (held out" in page or "held-out test rows" in page
    assert "90% bootstrap interval" in page and "50 resamples" in page
    assert "<td>the curve</td><td>D ∝ N^" in page  # D follows its trend with N (demo: D ~ N)
    # the warnings name the extrapolation in decades per feature (test rows: N >= 1e9)
    assert re.search(r"test rows, group arch_\w: N=\S+ is \d\.\d\d decades above", page)
    best = json.loads((run_dir / "best.json").read_text())
    for group, values in best["params"].items():  # constants per group, all of them
        assert f"<td>{group}</td>" in page
        assert all(f"{v:.6g}" in page for v in values.values())
    for f in best["finalists"]:
        assert f"<td>{f['id']}" in page


def test_the_page_is_self_contained(demo_run):
    page = (demo_run[0] / REPORT).read_text()
    text = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', 'src=""', page)
    assert not re.search(r"https?://|\bhref=", text, re.I), "no network reference of any kind"
    for tag in ("<script", "<link", "@import", "<iframe", "<object", "url("):
        assert tag not in text


def test_the_report_is_byte_identical_when_regenerated(demo_run, tmp_path: Path):
    run_dir, _ = demo_run
    wrote = {p.name: p.read_bytes() for p in [run_dir / REPORT, *(run_dir / FIGURES).iterdir()]}
    for out in (tmp_path / "a", tmp_path / "b"):
        code, stdout, err = run_cli("report", str(run_dir), "--out", str(out))
        assert code == 0, err
        assert stdout == f"wrote {out / REPORT}\n"
        again = {p.name: p.read_bytes() for p in [out / REPORT, *(out / FIGURES).iterdir()]}
        assert again == wrote  # the same bytes as the report discover wrote
    code, _, err = run_cli("report", str(run_dir))  # rewriting in place: the same bytes too
    assert code == 0, err
    assert (run_dir / REPORT).read_bytes() == wrote[REPORT]


def test_at_extends_to_the_point_with_the_interval_of_predict(demo_run, tmp_path: Path):
    run_dir, _ = demo_run
    at = "N=7e10,D=1.4e12"
    code, _, err = run_cli("report", str(run_dir), "--out", str(tmp_path), "--at", at)
    assert code == 0, err
    page = (tmp_path / REPORT).read_text()
    assert "<h3>Prediction at N=7e+10, D=1.4e+12</h3>" in page
    _, _, rows = predict_run(run_dir, at)  # the same seed and resamples as the report's default
    for p in rows:
        cells = f"<td>{p.group}</td><td>loss</td><td>{p.value[0]:.6g}</td>"
        cells += f"<td>[{p.low[0]:.6g}, {p.high[0]:.6g}]</td>"
        assert cells in page.replace("\n", "")
    assert "--at, group arch_" in page and "decades above the training range" in page
    assert (tmp_path / FIGURES / "law_vs_runs.png").read_bytes() != (
        run_dir / FIGURES / "law_vs_runs.png"
    ).read_bytes()  # the curves now run on to N = 7e10


def test_resamples_is_a_flag_and_is_stated(demo_run, tmp_path: Path):
    code, _, err = run_cli("report", str(demo_run[0]), "--out", str(tmp_path), "--resamples", "3")
    assert code == 0, err
    assert "3 resamples" in (tmp_path / REPORT).read_text()
    code, _, err = run_cli("report", str(demo_run[0]), "--out", str(tmp_path), "--resamples", "0")
    assert_user_error(code, err, "--resamples")


def test_a_csv_run_with_hostile_group_names_is_escaped_everywhere(tmp_path: Path):
    hostile = {"arch_a": "<script>alert(1)</script>", "arch_b": r"$\frac{$ b&c"}
    text = demo.CSV.read_text()
    for old, new in hostile.items():
        text = text.replace(f"\n{old},", f"\n{new},")
    csv = tmp_path / "runs.csv"
    csv.write_text(text)
    run_dir = tmp_path / "run"
    argv = ["--csv", str(csv), "--features", "N,D", "--target", "loss", "--group", "model"]
    _discover(run_dir, *argv, "--extrapolate", "N>=1e9", "--budget", "8")
    page = (run_dir / REPORT).read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert r"$\frac{$ b&amp;c" in page
    assert len(_images(page)) == len(FIGURE_NAMES)  # the $...$ name did not break mathtext


def test_a_csv_run_without_test_rows_says_so_and_extends_the_curve(tmp_path: Path):
    run_dir = tmp_path / "run"
    argv = ["--csv", str(demo.CSV), "--features", "N,D", "--target", "loss", "--group", "model"]
    _discover(run_dir, *argv, "--budget", "8")
    page = (run_dir / REPORT).read_text()
    assert "No held-out test rows" in page and "held-out test rows (opened" not in page
    names = {p.stem for p in (run_dir / FIGURES).glob("*.png")}
    assert names == set(FIGURE_NAMES) - {"test"}


def test_an_sldbench_run(tmp_path: Path, data_root: Path):
    run_dir = tmp_path / "run"
    task = "parallel_scaling_law"
    _discover(run_dir, task, "--budget", "8", "--data-dir", str(data_root))
    page = (run_dir / REPORT).read_text()
    assert f"<h1>Run report: {task}</h1>" in page
    assert "held-out test rows" in page
    assert len(_images(page)) == len(FIGURE_NAMES)
    # regenerated from the same run dir and data root: the same bytes
    code, _, err = run_cli("report", str(run_dir), "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert (tmp_path / "again" / REPORT).read_bytes() == (run_dir / REPORT).read_bytes()


def test_a_run_of_a_task_toml_outside_the_package_needs_task(
    tmp_path: Path, tiny_root: Path, tiny_toml: Path
):
    run_dir = tmp_path / "run"
    out = _discover(run_dir, str(tiny_toml), "--budget", "6", "--data-dir", str(tiny_root))
    assert f"report      {run_dir / REPORT}" in out  # discover knows the task
    code, _, err = run_cli("report", str(run_dir), "--data-dir", str(tiny_root))
    assert_user_error(code, err, "task.toml not found", "tiny_task", "--task")
    again = tmp_path / "again"
    argv = ["--data-dir", str(tiny_root), "--task", str(tiny_toml), "--out", str(again)]
    code, _, err = run_cli("report", str(run_dir), *argv)
    assert code == 0, err
    assert (again / REPORT).read_bytes() == (run_dir / REPORT).read_bytes()
    code, _, err = run_cli("report", str(run_dir), *argv[:2], "--task", "moe_scaling_law")
    assert_user_error(code, err, "the run is of task 'tiny_task', not 'moe_scaling_law'")


def test_bound_warnings_name_the_group_and_constant():
    best = {
        "recipe": {"bounds": {"e1": [-4.0, 4.0], "a0": [float("-inf"), float("inf")]}},
        "params": {"g1": {"e1": -4.0, "a0": 1e9}, "g2": {"e1": 0.5, "a0": 1.0}},
    }
    assert bound_warnings(best) == [
        "group g1: constant e1 = -4 is at its lower bound -4 (the fit may want it beyond)"
    ]


def _broken(run_dir: Path, tmp_path: Path, how: str) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)
    files = {
        "no config.json": ("config.json", None),
        "damaged config.json": ("config.json", "{not json"),
        "no best.json": ("best.json", None),
        "damaged best.json": ("best.json", '{"law": '),
        "best.json without a law": ("best.json", "{}"),
        "no task": ("task.toml", None),
        "no candidates.jsonl": ("candidates.jsonl", None),
    }
    name, text = files[how]
    if text is None:
        (bad / name).unlink()
    else:
        (bad / name).write_text(text)
    return bad


@pytest.mark.parametrize(
    ("how", "needles"),
    [
        ("no config.json", ["config.json not found", "sldagent discover"]),
        ("damaged config.json", ["config.json: damaged JSON"]),
        ("no best.json", ["best.json not found", "has not finished", "--resume"]),
        ("damaged best.json", ["best.json: damaged JSON"]),
        ("best.json without a law", ["best.json: no law, latex, params, recipe"]),
        ("no task", ["task.toml not found", "task is missing", "--task"]),
        ("no candidates.jsonl", ["candidates.jsonl not found"]),
    ],
)
def test_a_malformed_or_unfinished_run_dir_is_a_one_line_error(
    demo_run, tmp_path: Path, how: str, needles: list[str]
):
    bad = _broken(demo_run[0], tmp_path, how)
    code, _, err = run_cli("report", str(bad), "--out", str(tmp_path / "out"))
    assert_user_error(code, err, str(bad), *needles)


def test_a_missing_run_dir_and_a_bad_point_are_one_line_errors(demo_run, tmp_path: Path):
    code, _, err = run_cli("report", str(tmp_path / "nope"))
    assert_user_error(code, err, "nope", "no such directory")
    code, _, err = run_cli("report", str(demo_run[0]), "--out", str(tmp_path), "--at", "N=1")
    assert_user_error(code, err, "--at", "missing feature(s) D")


# ----------------------------------------------------------------- headless Chromium


def _browser() -> str | None:
    return next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A proxy on 127.0.0.1 that refuses and records every request sent to it."""

    seen: list[str]

    def do_CONNECT(self) -> None:  # noqa: N802 - the HTTP verb
        self.seen.append(self.path.rsplit(":", 1)[0])
        self.send_error(403)

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(re.sub(r"^\w+://([^/:]+).*", r"\1", self.path))
        self.send_error(403)

    def log_message(self, *args) -> None:
        pass


def _hosts_requested(browser: str, page: Path, screenshot: Path | None = None) -> set[str]:
    """Hosts the browser asked for while loading `page`, every request sent to a recording proxy
    (a page's http and https requests both go through the proxy, so none can slip past)."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as profile:
            flags = [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                f"--proxy-server=http://127.0.0.1:{server.server_port}",
                "--proxy-bypass-list=<-loopback>", f"--user-data-dir={profile}",
            ]  # fmt: skip
            if screenshot is not None:
                flags += ["--window-size=1280,5200", f"--screenshot={screenshot}"]
            else:
                flags += ["--dump-dom"]
            done = subprocess.run(
                [browser, *flags, page.resolve().as_uri()], capture_output=True, timeout=120
            )
            assert done.returncode == 0, done.stderr.decode()[-2000:]
            if screenshot is None:
                assert b"</html>" in done.stdout or b"</body>" in done.stdout
    finally:
        server.shutdown()
        server.server_close()
    return set(seen)


def test_the_report_renders_in_headless_chromium_with_no_external_request(demo_run, tmp_path):
    browser = _browser()
    if browser is None:
        print("SKIPPED: no Chromium here; install Debian's with `apt-get install chromium`")
        pytest.skip("no Chromium (chromium, chromium-browser or google-chrome) on PATH")
    page = demo_run[0] / REPORT
    # the browser's own traffic (update checks) happens on a blank page too: not the page's
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body><p>blank</p></body></html>")
    own = _hosts_requested(browser, blank)
    # the rig sees a page's requests: a page with one external image and one stylesheet
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<html><body><img src="http://probe-img.invalid/x.png">'
        '<link rel="stylesheet" href="https://probe-css.invalid/a.css"></body></html>'
    )
    assert {"probe-img.invalid", "probe-css.invalid"} <= _hosts_requested(browser, probe)
    assert _hosts_requested(browser, page) - own == set()
    shot = tmp_path / "shot.png"
    assert _hosts_requested(browser, page, shot) - own == set()
    pixels = _pixels(shot.read_bytes())
    assert pixels.shape[:2] == (5200, 1280)
    assert pixels[..., :3].std() > 0.05  # a rendered page, not a blank one
    images = _images(page.read_text())
    assert len(images) == len(FIGURE_NAMES)
    for png in images:  # each figure decodes to a non-blank image
        assert png.startswith(PNG)
        image = _pixels(png)[..., :3]
        assert image.shape[0] > 50 and image.shape[1] > 100
        assert image.std() > 0.02
