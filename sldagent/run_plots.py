"""Figures of the run report (sldagent/run_report.py): the law with its bootstrap band along the
scale axis, the Pareto front of the search and its progress per island.

Same conventions as sldagent/plots.py (Agg canvas, no pyplot state, labelled axes, a legend,
user text escaped for mathtext, PNGs without varying metadata). Nothing here opens data files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from sldagent import plots
from sldagent.plots import Predict, Rows, axis_label, plain, save, spans_decades
from sldagent.task import Task

TEST_LABEL = "test rows (held out; shown after the run ended)"
SPLITS = (*plots.SPLITS[:2], (TEST_LABEL, *plots.SPLITS[2][1:]))
CURVE_COLOURS = ("0.1", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


@dataclass(frozen=True)
class Curve:
    """The law along the scale axis with the other features fixed, and its bootstrap band."""

    label: str  # which slice, e.g. "D = 2.1e+09 (median)"
    x: np.ndarray  # (n,) values of the scale axis
    value: np.ndarray  # (n, n_targets): the law with the run's constants
    low: np.ndarray  # (n, n_targets): bootstrap band (NaN where no refit succeeded)
    high: np.ndarray


@dataclass(frozen=True)
class Point:
    """A point the user asked about (--at): the law's value there and its interval."""

    x: float
    value: np.ndarray  # (n_targets,)
    low: np.ndarray
    high: np.ndarray


def law_band_panels(
    task: Task,
    rows: dict[str, Rows],
    panels: Sequence[tuple[str, str]],
    curves: dict[str, list[Curve]],
    points: dict[str, Point],
    at_rows: Predict | None,
    level: float,
    path,
) -> Figure:
    """Per (group, target) panel: the rows of the three splits along the scale axis, the law's
    curves with their band, the --at point; `at_rows`, if given, marks the law at every row
    (the other features vary too much for a few curves to pass through the points)."""
    x_name = plots.scale_axis(task)
    xi = task.features.index(x_name)
    targets = list(dict.fromkeys(t for _, t in panels))
    n_rows, n_cols = plots.grid_shape(
        len(panels), max_cols=3 if len(targets) == 1 else len(targets)
    )
    fig = Figure(figsize=(4.6 * n_cols, 3.7 * n_rows + 0.9), layout="constrained")
    handles: dict[str, object] = {}
    for k, (group, target) in enumerate(panels):
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        r, ti = rows[group], task.targets.index(target)
        X_all = np.concatenate([r.fit[0], r.val[0], r.test[0]])
        y_all = np.concatenate([r.fit[1], r.val[1], r.test[1]])[:, ti]
        xs = np.concatenate([X_all[:, xi], *(c.x for c in curves.get(group, []))])
        log_x = spans_decades(xs, 1.0)
        plots.shade_regions(ax, r, xi, handles)
        ys = [y_all]
        lines = []
        for c, colour in zip(curves.get(group, []), CURVE_COLOURS, strict=False):
            (h,) = ax.plot(c.x, c.value[:, ti], color=colour, lw=1.4, zorder=4)
            handles.setdefault("the law (constants refit on all train rows)", h)
            lines.append((h, c.label))
            if np.isfinite(c.low[:, ti]).any():
                band = ax.fill_between(
                    c.x, c.low[:, ti], c.high[:, ti], color=colour, alpha=0.25, lw=0, zorder=1
                )
                handles.setdefault(f"{100 * level:g}% bootstrap band", band)
            ys.append(c.value[:, ti])
        if len(lines) > 1:  # which curve is which: the page lists each curve's other features
            ax.legend(
                [h for h, _ in lines], [f"curve {k + 1}" for k in range(len(lines))],
                fontsize=7, frameon=False, loc="upper right",
            )  # fmt: skip
        for layer, ((text, marker, colour), (X, y)) in enumerate(
            zip(SPLITS, (r.fit, r.val, r.test), strict=True)
        ):
            if len(X):
                h = ax.scatter(
                    X[:, xi], y[:, ti], marker=marker, s=22, color=colour,
                    alpha=0.8 if len(X) < 200 else 0.4, linewidth=0, zorder=5 + layer,
                )  # fmt: skip
                handles.setdefault(text, h)
        if at_rows is not None and len(X_all):
            with np.errstate(all="ignore"):
                p = np.asarray(at_rows(group, X_all), dtype=float)[:, ti]
            h = ax.scatter(
                X_all[:, xi], p, marker="o", s=16, facecolor="none", edgecolor="0.1", lw=0.7,
                zorder=8,
            )  # fmt: skip
            handles.setdefault("law at each row", h)
        point = points.get(group)
        if point is not None:
            err = [[point.value[ti] - point.low[ti]], [point.high[ti] - point.value[ti]]]
            h = ax.errorbar(
                [point.x], [point.value[ti]], yerr=np.nan_to_num(np.abs(err)), fmt="*",
                ms=12, color="#e6550d", zorder=9, capsize=3,
            )  # fmt: skip
            handles.setdefault(f"--at point, {100 * level:g}% interval", h)
            ys.append(np.array([point.value[ti]]))
        y_seen = np.concatenate(ys)
        log_y = spans_decades(y_all) and bool(np.nanmin(y_seen) > 0)
        ax.set_xscale("log" if log_x else "linear")
        ax.set_yscale("log" if log_y else "linear")
        if np.isfinite(y_seen).any():
            ax.set_ylim(*plots.limits(y_seen, log_y))
        ax.set_xlabel(axis_label(task, x_name))
        ax.set_ylabel(axis_label(task, target))
        title = f"group {group}" if len(task.targets) == 1 else f"group {group}: {target}"
        ax.set_title(plain(title), fontsize=10)
        ax.grid(alpha=0.25, which="both" if log_x or log_y else "major")
    plots.figure_legend(fig, handles, SPLITS)
    save(fig, path)
    return fig


@dataclass(frozen=True)
class FrontPoint:
    """One candidate in the Pareto plot."""

    id: int
    complexity: int
    error: float  # fold-1 validation MSE / variance of the training target

    @classmethod
    def of(cls, record: dict | None) -> FrontPoint | None:
        """A logged candidate's point; None if it failed or has no finite fold-1 error."""
        if not record or not record.get("ok") or not record.get("fold_errors"):
            return None
        error = record["fold_errors"][0]
        if error is None or not math.isfinite(error):
            return None
        return cls(record["id"], record["complexity"], 10.0**error)


def pareto_figure(
    everything: Sequence[FrontPoint], front: Sequence[FrontPoint], chosen: FrontPoint | None, path
) -> Figure:
    """Validation error against complexity: every candidate, the front, the chosen law."""
    fig = Figure(figsize=(7.0, 4.4), layout="constrained")
    ax = fig.add_subplot()
    finite = [p for p in everything if np.isfinite(p.error) and p.error > 0]
    ax.scatter(
        [p.complexity for p in finite], [p.error for p in finite], s=12, color="0.7",
        label="every candidate evaluated", zorder=2,
    )  # fmt: skip
    shown = [p for p in front if np.isfinite(p.error) and p.error > 0]
    ax.plot(
        [p.complexity for p in shown], [p.error for p in shown], "o-", color="#1f77b4", ms=6,
        drawstyle="steps-post", label="Pareto front (ids as in the table below)", zorder=3,
    )  # fmt: skip
    for p in shown:
        ax.annotate(
            str(p.id), (p.complexity, p.error), textcoords="offset points", xytext=(4, 4),
            fontsize=8, color="#1f77b4",
        )  # fmt: skip
    if chosen is not None and np.isfinite(chosen.error) and chosen.error > 0:
        ax.scatter(
            [chosen.complexity], [chosen.error], marker="*", s=220, color="#d62728",
            label=f"chosen law (id {chosen.id})", zorder=4,
        )  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("complexity (nodes of the law's expression)")
    ax.set_ylabel("validation error (MSE / var of the target)")
    ax.grid(alpha=0.25, which="both")
    ax.legend(fontsize=9, frameon=False)
    save(fig, path)
    return fig


def progress_figure(records: Sequence[dict], islands: int, path) -> Figure:
    """Best fitness so far against candidates evaluated: per island and overall."""
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    order = sorted(records, key=lambda r: r["id"])
    fitness = np.array(
        [r["fitness"] if r.get("fitness") is not None else np.inf for r in order], dtype=float
    )
    fitness[~np.isfinite(fitness)] = np.inf
    done = np.arange(1, len(order) + 1)
    isl = np.array([int(r.get("island", 0)) for r in order])
    for i in range(max(islands, int(isl.max(initial=0)) + 1)):
        mine = np.where(isl == i, fitness, np.inf)
        best = np.minimum.accumulate(mine)
        keep = np.isfinite(best)
        if keep.any():
            ax.step(done[keep], best[keep], where="post", lw=1.1, label=f"island {i}")
    overall = np.minimum.accumulate(fitness)
    keep = np.isfinite(overall)
    ax.step(done[keep], overall[keep], where="post", color="0.1", lw=2.0, ls="--", label="all")
    ax.set_xlabel("candidates evaluated")
    ax.set_ylabel(
        "best fitness so far (log10 validation error\n+ complexity penalty; lower is better)"
    )
    ax.grid(alpha=0.25)
    ax.legend(fontsize=9, frameon=False, ncol=2)
    save(fig, path)
    return fig
