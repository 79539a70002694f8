"""The run report's page (sldagent/run_report.py computes what it shows): one self-contained
HTML document, every user text escaped, figures embedded as base64 PNG, no script, no link."""

from __future__ import annotations

import html
import math

from sldagent import plots, run_plots
from sldagent.report import CSS, html_table, img_tag


def _num(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    value = float(value)
    return f"{value:.{digits}g}" if math.isfinite(value) else str(value)


def _law(text) -> str:
    return text if isinstance(text, str) else "; ".join(f"{t} = {f}" for t, f in text.items())


def page(report, out) -> str:
    """The HTML of a RunReport (its figures read from under out)."""
    run, fig, bands, panels, r2 = (
        report.run, report.figures, report.bands, report.panels, report.r2
    )  # fmt: skip
    warnings, point, resamples = report.warnings, report.point, report.resamples
    level, seed = report.level, report.seed
    e = html.escape
    task, best, law = run.task, run.best, run.law
    by_id = {r["id"]: r for r in run.records}
    x_name = plots.scale_axis(task)
    search = run.config.get("search", {})
    body = [f"<h1>Run report: {e(task.name)}</h1>"]
    if task.description:
        body.append(f'<p class="note">{e(task.description)}</p>')
    data = f"data: {task.source.csv}" if task.source is not None else f"SLDBench task {task.name}"
    seeded = " The task's human law was seeded into the search." if best.get("seed_human") else ""
    body.append(
        f'<p class="note">{e(data)}. Search: {e(str(best.get("candidates", len(run.records))))} '
        f"candidates (budget {e(str(search.get('budget', '—')))}, seed "
        f"{e(str(search.get('seed', '—')))}, proposer {e(str(run.config.get('proposer', '—')))})."
        f"{e(seeded)}</p>"
    )
    body.append(f"<p>Law: <code>{e(_law(best['law']))}</code></p>")
    scores = [
        ("validation R² (the task's validation slice, fit rows only)", best.get("validation_r2")),
        ("R² on all training rows (constants refit on them)", r2["train"]),
    ]
    if "test" in r2:
        scores.append(("R² on the held-out test rows (opened after the run ended)", r2["test"]))
    body.append(html_table(["score", "value"], [[k, _num(v)] for k, v in scores], markdown=False))
    if "test" not in r2:
        body.append(
            '<p class="note">No held-out test rows: the task holds none out (give '
            "<code>--extrapolate</code> to hold some out).</p>"
        )

    body.append("<h2>Warnings</h2>")
    if warnings:
        body.append("<ul>" + "".join(f"<li>{e(w)}</li>" for w in warnings) + "</ul>")
    else:
        body.append('<p class="note">None: no constant at a bound, no held-out row or point '
                    "outside the training range, every group fitted.</p>")  # fmt: skip

    body.append("<h2>The law</h2>")
    if "law" in fig:
        body.append(img_tag(out, fig["law"], "the law, rendered with matplotlib mathtext"))
    body.append(f"<pre>{e(best['latex'])}</pre>")

    groups = list(dict.fromkeys(g for g, _ in panels))
    body.append(f"<h2>The law against the runs, along {e(x_name)}</h2>")
    body.append(
        f'<p class="note">Groups shown: {len(groups)} of {report.n_groups}'
        + (
            " (spread from the best to the worst error of the law)"
            if len(groups) < report.n_groups
            else ""
        )  # fmt: skip
        + f". The band: {100 * level:g}% bootstrap interval, as <code>sldagent predict</code> "
        f"computes it ({resamples} resamples of the group's training rows with replacement, the "
        f"law refit on each with the run's recipe, seed {seed}); it shows how much the constants "
        "move with the data, not the risk that the form is wrong far from the data. Along each "
        "curve the other features are fixed"
        + (
            " or follow their trend with the scale axis over the group's training rows (a "
            "log-linear fit); hollow circles: the law at each row"
            if any(b.trend for b in bands.values())
            else ""
        )
        + " (table below the figure).</p>"
    )
    body.append(img_tag(out, fig["law_vs_runs"], f"the law and the runs along {x_name}"))
    curve_rows = [
        [g, f"curve {k + 1}" if len(b.curves) > 1 else "the curve", c.label or "(no other feature)"]
        for g, b in bands.items()
        for k, c in enumerate(b.curves)
    ]
    header = ["group", "curve", "the other features along it"]
    body.append(html_table(header, curve_rows, markdown=False))
    if point is not None:
        at_rows = [
            [g, t, _num(b.point.value[k], 6), f"[{_num(b.point.low[k], 6)}, "
             f"{_num(b.point.high[k], 6)}]"]
            for g, b in bands.items()
            for k, t in enumerate(task.targets)
        ]  # fmt: skip
        at_text = ", ".join(f"{k}={v:g}" for k, v in point.items())
        body.append(f"<h3>Prediction at {e(at_text)}</h3>")
        header = ["group", "target", "predicted", f"{100 * level:g}% interval"]
        body.append(html_table(header, at_rows, markdown=False))

    body.append("<h2>Predicted vs actual</h2>")
    body.append(img_tag(out, fig["train"], "predicted vs actual on the training rows"))
    if "test" in fig:
        body.append(img_tag(out, fig["test"], "predicted vs actual on the held-out test rows"))

    body.append("<h2>Constants per group (refit on all training rows)</h2>")
    names = list(law.law.params)
    const_rows = [[g, *(_num(law.params_[g][p], 6) for p in names)] for g in sorted(law.params_)]
    body.append(html_table(["group", *names], const_rows, markdown=False))

    body.append("<h2>Pareto front: validation error against complexity</h2>")
    body.append(img_tag(out, fig["pareto"], "the Pareto front of the search"))
    front_rows = []
    for entry in best.get("pareto", []):
        rec = by_id.get(entry["id"], {})
        point_ = run_plots.FrontPoint.of(rec)
        front_rows.append(
            [
                str(entry["id"]) + (" (chosen)" if entry["id"] == best.get("id") else ""),
                str(entry.get("complexity", "—")),
                str(rec.get("n_params", "—")),
                _num(point_.error if point_ else None),
                _num(entry.get("validation_r2")),
                _law(entry["law"]),
            ]
        )
    header = ["id", "complexity", "params", "validation error", "validation R²", "law"]
    body.append(html_table(header, front_rows, law_col=5, markdown=False))
    if best.get("id") not in {e_["id"] for e_ in best.get("pareto", [])}:
        body.append(
            f'<p class="note">The chosen law (id {e(str(best.get("id")))}) is not on the front: '
            "the final choice re-judges the best-fitness laws on more folds (finalists below).</p>"
        )

    body.append("<h2>Search progress</h2>")
    body.append(img_tag(out, fig["progress"], "best fitness against candidates evaluated"))

    body.append("<h2>Finalists</h2>")
    body.append(
        '<p class="note">The best-fitness candidates judged again: log10 validation error on '
        "each rehearsal fold, the stability gap (target std units) and the final score (lower "
        "is better); the first is the chosen law.</p>"
    )
    fin_rows = [
        [
            str(f["id"]) + (" (chosen)" if f["id"] == best.get("id") else ""),
            _law(by_id.get(f["id"], {}).get("law", "—")),
            _num(f.get("fitness")),
            ", ".join(_num(v) for v in f.get("fold_errors", [])),
            _num(f.get("gap")),
            _num(f.get("score")),
        ]
        for f in best.get("finalists", [])
    ]
    header = ["id", "law", "fitness", "fold errors (log10)", "stability gap", "final score"]
    if fin_rows:
        body.append(html_table(header, fin_rows, law_col=1, markdown=False))
    else:
        body.append('<p class="note">best.json lists no finalists (an older run).</p>')
    body.append(
        '<p class="note">Made by <code>sldagent report RUN_DIR</code> from the run directory '
        "and the data it names; regenerating it gives the same bytes.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>sldagent run report: {e(task.name)}</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
