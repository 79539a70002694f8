"""The benchmark report: results.json, README.md, a self-contained index.html and PNG figures.

Numbers come from results.json (written by sldagent.benchmark); the figures need the rows, so
this module (with sldagent.evaluation, the only other one) opens the sealed test rows.
Aggregation follows the published tables: each R² clipped to [-1, 1], averaged over seeds,
then over tasks. In results.json a computed R² that is not finite (the law predicted inf or
NaN somewhere) is null; it counts as -inf (clipped: -1).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sldagent import plots
from sldagent.evaluation import human_law
from sldagent.law import parse_law
from sldagent.metrics import clip_r2
from sldagent.published import sources
from sldagent.srbaseline import SRModel, predictor
from sldagent.task import Task, load_task, load_test, load_train, split_validation

RESULTS = "results.json"
MAX_GROUP_COLUMNS = 8  # constants tables show at most this many groups


# ----------------------------------------------------------------- numbers


def _r2(value: float | None) -> float:
    """A computed R² from results.json (null = not finite = -inf)."""
    return -math.inf if value is None else float(value)


@dataclass(frozen=True)
class TaskSummary:
    """One row of the summary table (None: not available for this task)."""

    task: str
    human_published: float | None
    human_refit: float | None
    sr: float | None
    sr_method: str | None
    paper: float | None
    leaderboard: float | None
    ours: tuple[float, ...]  # test R² per seed, seed order
    ours_params: tuple[int, ...]
    human_params: int | None
    budget: int | None

    @property
    def ours_mean(self) -> float:
        """Mean over seeds of the clipped test R² (the published tables' aggregation)."""
        return statistics.fmean(clip_r2(v) for v in self.ours)

    @property
    def ours_std(self) -> float | None:
        """Sample standard deviation (ddof 1) of the clipped test R² over seeds."""
        if len(self.ours) < 2:
            return None
        return statistics.stdev(clip_r2(v) for v in self.ours)


def records(results: dict, kind: str, task: str | None = None) -> list[dict]:
    return [
        r for r in results["results"] if r["kind"] == kind and (task is None or r["task"] == task)
    ]


def summarize(results: dict) -> list[TaskSummary]:
    """The summary table's rows, tasks in the benchmark's order."""
    out = []
    for name in results["config"]["tasks"]:
        runs = sorted(records(results, "sldagent", name), key=lambda r: r["seed"])
        pub = {r["source"]: r["test_r2"] for r in records(results, "published_sldagent", name)}
        hp = records(results, "human_published", name)
        hr = records(results, "human_refit", name)
        sr = records(results, "sr", name)
        ran = sr and sr[0]["method"]
        task = _task(results, name)
        out.append(
            TaskSummary(
                task=name,
                human_published=hp[0]["test_r2"] if hp else None,
                human_refit=_r2(hr[0]["test_r2"]) if hr else None,
                sr=_r2(sr[0]["test_r2"]) if ran else None,
                sr_method=sr[0]["method"] if sr else None,
                paper=pub.get("paper"),
                leaderboard=pub.get("leaderboard"),
                ours=tuple(_r2(r["test_r2"]) for r in runs),
                ours_params=tuple(r["n_params"] for r in runs),
                human_params=hr[0]["n_params"] if hr else None,
                budget=task.param_budget,
            )
        )
    return out


def clipped_mean(values: list[float | None]) -> float | None:
    """Mean of clipped R² over tasks; None if any task lacks the value."""
    if not values or any(v is None for v in values):
        return None
    return statistics.fmean(clip_r2(v) for v in values)


def mean_row(rows: list[TaskSummary]) -> dict[str, float | None]:
    """The last row: clipped means over tasks of every R² column."""
    cols = {
        "human_published": [r.human_published for r in rows],
        "human_refit": [r.human_refit for r in rows],
        "sr": [r.sr for r in rows],
        "paper": [r.paper for r in rows],
        "leaderboard": [r.leaderboard for r in rows],
        "ours_mean": [r.ours_mean for r in rows],
        "ours_best": [max(r.ours) for r in rows],
        "ours_worst": [min(r.ours) for r in rows],
    }
    return {k: clipped_mean(v) for k, v in cols.items()}


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "−∞" if value < 0 else "∞"
    return f"{value:.{digits}f}".replace("-", "−")


def _params(r: TaskSummary) -> str:
    lo, hi = min(r.ours_params), max(r.ours_params)
    ours = str(lo) if lo == hi else f"{lo}–{hi}"
    human = "—" if r.human_params is None else str(r.human_params)
    return f"{ours} / {human} / {r.budget or 'none'}"


SUMMARY_HEADER = (
    "task",
    "human (published)",
    "human (refit here)",
    "SR baseline",
    "SLDAgent paper¹",
    "SLDAgent leaderboard²",
    "ours: mean ± std",
    "ours: best",
    "ours: worst",
    "params ours / human / limit",
)


def summary_cells(rows: list[TaskSummary]) -> list[list[str]]:
    """The summary table as text cells (header not included), the mean row last."""
    cells = []
    for r in rows:
        std = "" if r.ours_std is None else f" ± {fmt(r.ours_std)}"
        cells.append(
            [
                r.task,
                fmt(r.human_published),
                fmt(r.human_refit),
                fmt(r.sr),
                fmt(r.paper),
                fmt(r.leaderboard),
                fmt(r.ours_mean) + std,
                fmt(max(r.ours)),
                fmt(min(r.ours)),
                _params(r),
            ]
        )
    m = mean_row(rows)
    cells.append(
        [
            f"**clipped mean ({len(rows)} tasks)**",
            *(
                fmt(m[k])
                for k in (
                    "human_published",
                    "human_refit",
                    "sr",
                    "paper",
                    "leaderboard",
                    "ours_mean",
                    "ours_best",
                    "ours_worst",
                )
            ),
            "",
        ]
    )
    return cells


def seed_table(rows: list[TaskSummary]) -> tuple[list[str], list[list[str]]]:
    """Test R² of every task per seed (5 decimals for a task within 1e-3 of 1, as parallel),
    with the clipped mean over tasks per seed: the numbers behind the summary's mean ± std."""
    seeds = max(len(r.ours) for r in rows)
    header = ["seed", *(r.task for r in rows), "clipped mean"]
    out = []
    for s in range(seeds):
        values = [r.ours[s] if s < len(r.ours) else None for r in rows]
        cells = [
            "—" if v is None else fmt(v, 5 if min(r.ours) > 0.999 else 3)
            for v, r in zip(values, rows, strict=True)
        ]
        out.append([str(s), *cells, fmt(clipped_mean(values))])
    return header, out


def summary_header(results: dict) -> tuple[str, ...]:
    """The summary table's header; the SR column names its method when one ran everywhere."""
    methods = {r["method"] for r in records(results, "sr")}
    if len(methods) == 1 and None not in methods:
        return tuple(f"SR ({methods.pop()})" if h == "SR baseline" else h for h in SUMMARY_HEADER)
    return SUMMARY_HEADER


def markdown_table(results: dict) -> str:
    """The summary table in Markdown (what `sldagent benchmark` prints and README.md holds)."""
    header = summary_header(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in summary_cells(summarize(results))]
    return "\n".join(lines) + "\n"


def table_notes(results: dict) -> list[str]:
    """Footnotes of the summary table: sources, caveat, which SR ran, how R² is aggregated."""
    src = sources()
    seeds = results["config"]["seeds"]
    sr = records(results, "sr")
    methods = sorted({r["method"] or "none" for r in sr})
    sr_note = "; ".join(sorted({r["note"] for r in sr if r["note"]}))
    sr_line = (
        f"SR baseline: {', '.join(methods)} (one model per group and target on the train rows, "
        f"positive features as log(feature), seeded; settings in results.json)"
        + (f"; {sr_note}" if sr_note else "")
        + ("; no SR method could run here" if methods == ["none"] else "")
        + "."
    )
    return [
        f"R² on the sealed test rows. Ours: {seeds} seed(s) per task, budget "
        f"{results['config']['budget']} candidates, proposer {results['config']['proposer']}; "
        "mean ± std over seeds of R² clipped to [−1, 1] (std with ddof 1); best/worst are "
        "unclipped. Last row: mean over tasks of the clipped values (as the published tables).",
        f"¹ {src['paper']['label']}: {src['paper']['source']}. {src['paper']['caveat']}",
        f"² {src['leaderboard']['label']}: {src['leaderboard']['source']}. "
        f"Caveat: {src['leaderboard']['caveat']}",
        "Human (published): the R² the law's authors / SLDBench report; human (refit here): "
        "the same formula refit per group on the train rows by our fitter. " + sr_line,
    ]


# ----------------------------------------------------------------- figures and sections


def _task(results: dict, name: str) -> Task:
    path = results["config"].get("task_files", {}).get(name)
    return load_task(path if path and Path(path).is_file() else name)


def displayed_run(runs: list[dict]) -> dict:
    """The run whose law the report shows: best validation R² (no test rows), lowest seed."""
    return max(runs, key=lambda r: (_r2(r["validation_r2"]), -r["seed"]))


def _best_predict(task: Task, best: dict) -> Callable:
    law = parse_law(best["law"], task.features, task.targets)

    def predict(group: str, X: np.ndarray) -> np.ndarray:
        values = best["params"].get(group)
        if values is None:
            return np.full((len(X), len(task.targets)), np.nan)
        return law.predict(X, np.array([values[p] for p in law.params], dtype=float))

    return predict


def spread_panels(task: Task, rows: dict, predict: Callable, test_groups: list[str]) -> list:
    """(group, target) panels: every group if few, else groups spread from the best to the
    worst test error (validation error without test rows) of the shown law (so the subset is
    not cherry-picked)."""
    n_targets = min(len(task.targets), 5)
    k = 6 if n_targets == 1 else max(1, 10 // n_targets)
    names = test_groups or sorted(rows)
    if len(names) > k:

        def error(g: str) -> float:
            X, y = rows[g].test if len(rows[g].test[0]) else rows[g].val
            with np.errstate(all="ignore"):
                e = float(np.mean((np.asarray(predict(g, X)) - y) ** 2))
            return e if math.isfinite(e) else math.inf

        ranked = sorted(names, key=lambda g: (error(g), g))
        names = [
            ranked[i] for i in sorted(set(np.linspace(0, len(ranked) - 1, k).round().astype(int)))
        ]
    return [(g, t) for g in names for t in task.targets[:n_targets]]


@dataclass(frozen=True)
class TaskFigures:
    scale: str
    test: str
    law: str | None
    panels: tuple[tuple[str, str], ...]
    n_groups: int


def task_figures(results: dict, name: str, out: Path) -> TaskFigures:
    """Draw the task's figures into out/figures; returns their paths relative to out."""
    task = _task(results, name)
    root = Path(results["config"]["data_root"])
    run = displayed_run(records(results, "sldagent", name))
    best = json.loads((out / run["run_dir"] / "best.json").read_text())
    ours = _best_predict(task, best)
    train, test = load_train(task, root), load_test(task, root)
    fit, val = split_validation(train)
    rows = plots.group_rows(fit, val, test)
    test_groups = sorted({g for g, _, _ in test.groups()})
    panels = spread_panels(task, rows, ours, test_groups)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    scale, test_png = f"figures/{name}_scale.png", f"figures/{name}_test.png"
    plots.law_panels(task, rows, panels, ours, f"our law (seed {run['seed']})", out / scale)
    series = [(f"ours (seed {run['seed']}), R² {fmt(_r2(run['test_r2']))}", ours)]
    hr = records(results, "human_refit", name)
    if hr and task.human is not None:
        series.append((f"human law refit, R² {fmt(_r2(hr[0]['test_r2']))}", _human(task, hr[0])))
    sr = records(results, "sr", name)
    if sr and sr[0]["method"]:
        model = SRModel(method=sr[0]["method"], note="", formulas=sr[0]["formulas"])
        series.append(
            (f"SR ({sr[0]['method']}), R² {fmt(_r2(sr[0]['test_r2']))}", predictor(task, model))
        )
    plots.predicted_vs_actual(task, test, series, out / test_png)
    law_png = f"figures/{name}_law.png"
    law = law_png if plots.latex_png(run["latex"], out / law_png) else None
    return TaskFigures(scale, test_png, law, tuple(panels), len(rows))


def _human(task: Task, rec: dict) -> Callable:
    return _best_predict(task, {"law": human_law(task).text, "params": rec["constants"]})


def constants_table(params: dict[str, dict[str, float]]) -> tuple[list[str], list[list[str]], int]:
    """(header, rows, hidden groups): parameters as rows, at most MAX_GROUP_COLUMNS groups."""
    groups = sorted(params)
    shown = groups[:MAX_GROUP_COLUMNS]
    names = list(params[groups[0]]) if groups else []
    rows = [[p] + [f"{params[g][p]:.4g}" for g in shown] for p in names]
    return ["parameter", *shown], rows, len(groups) - len(shown)


def cost_rows(results: dict) -> list[list[str]]:
    """Run cost per run and the total: candidates, wall time, evaluation CPU time, LLM use."""
    rows, totals = [], {"cand": 0, "wall": 0.0, "cpu": 0.0, "tokens": 0, "cost": 0.0}
    any_llm = False
    for r in records(results, "sldagent"):
        llm = r.get("llm") or {}
        any_llm |= bool(llm)
        tokens, cost = llm.get("total_tokens"), llm.get("cost_usd")
        totals["cand"] += r["candidates"] or 0
        totals["wall"] += r["seconds"] or 0.0
        totals["cpu"] += r["eval_seconds"] or 0.0
        totals["tokens"] += tokens or 0
        totals["cost"] += cost or 0.0
        rows.append(
            [
                r["task"],
                str(r["seed"]),
                str(r["candidates"]),
                "—" if r["seconds"] is None else f"{r['seconds']:.1f}",
                f"{r['eval_seconds']:.1f}",
                "—" if tokens is None else str(tokens),
                "—" if cost is None else f"{cost:.4f}",
            ]
        )
    llm_total = (str(totals["tokens"]), f"{totals['cost']:.4f}") if any_llm else ("—", "—")
    rows.append(
        [
            "**total**",
            "",
            str(totals["cand"]),
            f"{totals['wall']:.1f}",
            f"{totals['cpu']:.1f}",
            *llm_total,
        ]
    )
    return rows


COST_HEADER = (
    "task",
    "seed",
    "candidates",
    "wall s",
    "evaluation CPU s",
    "LLM tokens",
    "LLM cost USD",
)


# ----------------------------------------------------------------- writing


def write_report(out: Path, results: dict) -> None:
    """results.json, figures/, README.md and index.html under out."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS).write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    figures = {name: task_figures(results, name, out) for name in results["config"]["tasks"]}
    from sldagent.run_report import REPORT, write_run_report  # imports this module

    for run in records(results, "sldagent"):  # a reused run keeps its report (and every file)
        if not (out / run["run_dir"] / REPORT).is_file():
            root, task = Path(results["config"]["data_root"]), _task(results, run["task"])
            write_run_report(out / run["run_dir"], data_dir=root, task=task)
    (out / "README.md").write_text(_markdown(results, figures, out))
    (out / "index.html").write_text(_html(results, figures, out))


def md_text(text: str) -> str:
    """User text (a group name) for Markdown: every ASCII punctuation character backslash-escaped
    (CommonMark), so `<script>`, links or emphasis show as typed; line breaks become spaces."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", " ".join(str(text).split()))


def run_reports(results: dict, name: str) -> list[tuple[str, str]]:
    """(label, path relative to the report) of each run's report.html, seed order."""
    runs = sorted(records(results, "sldagent", name), key=lambda r: r["seed"])
    return [(f"seed {r['seed']}", f"{Path(r['run_dir']).as_posix()}/report.html") for r in runs]


def _md_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _runs_table(results: dict, name: str) -> tuple[list[str], list[list[str]]]:
    header = ["seed", "law", "params", "validation R²", "test R²"]
    rows = [
        [
            str(r["seed"]),
            f"`{_law_text(r['law'])}`",
            str(r["n_params"]),
            fmt(_r2(r["validation_r2"]), 4),
            fmt(_r2(r["test_r2"]), 4),
        ]
        for r in sorted(records(results, "sldagent", name), key=lambda r: r["seed"])
    ]
    return header, rows


def _law_text(law: str | dict) -> str:
    if isinstance(law, dict):
        return "; ".join(f"{t} = {f}" for t, f in law.items())
    return law


def _header_lines(results: dict) -> list[str]:
    c = results["config"]
    return [
        f"Created {results['created']} by sldagent {results['sldagent_version']}"
        + (f" with `{results['command']}`" if results.get("command") else "")
        + f". Search wall time, summed over runs (all invocations): "
        f"{results['search_seconds']:.0f} s; this invocation ran and scored in "
        f"{results['invocation_seconds']:.0f} s.",
        f"Tasks: {', '.join(c['tasks'])}; seeds 0–{c['seeds'] - 1}; budget {c['budget']} "
        f"candidates per run; proposer {c['proposer']}; data root `{c['data_root']}`.",
    ]


def _markdown(results: dict, figures: dict[str, TaskFigures], out: Path) -> str:
    parts = ["# sldagent benchmark report\n", *(f"{line}\n" for line in _header_lines(results))]
    parts += ["\n## Summary (test R²)\n\n", markdown_table(results), "\n"]
    parts += [f"- {note}\n" for note in table_notes(results)]
    parts += ["\n## Per seed (test R²)\n\n", _md_table(*seed_table(summarize(results)))]
    for name in results["config"]["tasks"]:
        f = figures[name]
        run = displayed_run(records(results, "sldagent", name))
        best = json.loads((out / run["run_dir"] / "best.json").read_text())
        parts.append(f"\n## {name}\n\n")
        links = " · ".join(f"[{label}]({href})" for label, href in run_reports(results, name))
        parts.append(f"Run reports: {links}.\n\n")
        parts.append(f"Law of the run with the best validation R² (seed {run['seed']}):\n\n")
        parts.append(f"$$\n{run['latex']}\n$$\n\n")
        parts.append(_md_table(*_runs_table(results, name)))
        header, rows, hidden = constants_table(best["params"])
        parts.append(f"\nFitted constants per group (seed {run['seed']}):\n\n")
        parts.append(_md_table([md_text(h) for h in header], rows))
        if hidden:
            parts.append(f"\n… and {hidden} more groups: all in `{run['run_dir']}/best.json`.\n")
        parts.append(
            f"\n![{name}: observations and the law along {plots.scale_axis(_task(results, name))}]"
            f"({f.scale})\n\n![{name}: predicted vs actual on the test rows]({f.test})\n"
        )
    parts.append("\n## Run cost\n\n")
    parts.append(_md_table(COST_HEADER, cost_rows(results)))
    return "".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:right;vertical-align:top;
white-space:nowrap}
th{border-bottom:2px solid #444;background:#f6f6f6;white-space:normal}
td:first-child,th:first-child{text-align:left}
tr.mean td{border-top:2px solid #444;font-weight:600}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}
td.law{text-align:left;max-width:520px;word-break:break-word;white-space:normal}
img{max-width:100%}
.note{color:#555;font-size:.88em}
"""


def img_tag(out: Path, rel: str, alt: str) -> str:
    """An <img> with the PNG out/rel embedded as a data URI (the page needs no other file)."""
    data = base64.b64encode((out / rel).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def html_table(
    header, rows, mean_last: bool = False, law_col: int | None = None, markdown: bool = True
) -> str:
    """An HTML table, every cell escaped; `markdown`: cells may be wrapped in ** or ` (dropped)."""
    e = html.escape
    out = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
    for i, row in enumerate(rows):
        cls = ' class="mean"' if mean_last and i == len(rows) - 1 else ""
        cells = []
        for j, c in enumerate(row):
            text = e(c.strip("*`") if markdown else c)
            if j == law_col:
                cells.append(f'<td class="law"><code>{text}</code></td>')
            else:
                cells.append(f"<td>{text}</td>")
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>\n"


def _html(results: dict, figures: dict[str, TaskFigures], out: Path) -> str:
    e = html.escape
    body = ["<h1>sldagent benchmark report</h1>"]
    body += [f'<p class="note">{e(line.replace("`", ""))}</p>' for line in _header_lines(results)]
    body.append("<h2>Summary (test R²)</h2>")
    body.append(
        html_table(summary_header(results), summary_cells(summarize(results)), mean_last=True)
    )
    body += [f'<p class="note">{e(n)}</p>' for n in table_notes(results)]
    body.append("<h2>Per seed (test R²)</h2>")
    body.append(html_table(*seed_table(summarize(results))))
    for name in results["config"]["tasks"]:
        f = figures[name]
        task = _task(results, name)
        run = displayed_run(records(results, "sldagent", name))
        best = json.loads((out / run["run_dir"] / "best.json").read_text())
        body.append(f'<h2 id="{e(name)}">{e(name)}</h2>')
        body.append(f'<p class="note">{e(task.description)}</p>')
        links = " · ".join(
            f'<a href="{e(href)}">{e(label)}</a>' for label, href in run_reports(results, name)
        )
        body.append(f'<p class="note">Run reports: {links}.</p>')
        if task.human is not None:
            body.append(
                f'<p class="note">Human law: <code>{e(_law_text(task.human.formula))}</code> '
                f"({e(task.human.citation)})</p>"
            )
        body.append(f"<h3>Law of the run with the best validation R² (seed {run['seed']})</h3>")
        if f.law:
            body.append(img_tag(out, f.law, "the law, rendered"))
        body.append(f"<pre>{e(run['latex'])}</pre>")
        body.append(html_table(*_runs_table(results, name), law_col=1))
        header, rows, hidden = constants_table(best["params"])
        body.append(
            f"<h3>Fitted constants per group (seed {run['seed']}, refit on all train rows)</h3>"
        )
        body.append(html_table(header, rows))
        if hidden:
            body.append(
                f'<p class="note">… and {hidden} more groups: all in '
                f"<code>{e(run['run_dir'])}/best.json</code>.</p>"
            )
        groups = sorted({g for g, _ in f.panels})
        body.append(
            f"<h3>Observations and the law along {e(plots.scale_axis(task))}</h3>"
            f'<p class="note">Groups shown: {len(groups)} of {f.n_groups}'
            + (
                " (spread from the best to the worst test error of the law shown)"
                if len(groups) < f.n_groups
                else ""
            )
            + ".</p>"
        )
        body.append(img_tag(out, f.scale, f"{name}: observations and the law"))
        body.append("<h3>Predicted vs actual on the test rows</h3>")
        body.append(img_tag(out, f.test, f"{name}: predicted vs actual"))
        sr = records(results, "sr", name)
        if sr and sr[0]["method"]:
            first = sorted(sr[0]["formulas"])[:3]
            text = "\n".join(
                f"{g} / {t}: {s}" for g in first for t, s in sr[0]["formulas"][g].items()
            )
            body.append(
                f"<details><summary>SR baseline formulas ({e(sr[0]['method'])}, first "
                f"{len(first)} of {len(sr[0]['formulas'])} groups)</summary>"
                f"<pre>{e(text)}</pre></details>"
            )
    body.append("<h2>Run cost</h2>")
    body.append(html_table(COST_HEADER, cost_rows(results), mean_last=True))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>sldagent benchmark report</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
