"""Figures of the benchmark report (matplotlib, Agg canvas, no pyplot state): observations vs
the law along the task's main scale axis, predicted vs actual on test rows, LaTeX as PNG.

Every axis is labelled, every figure has a legend, an axis is logarithmic when its data span
more than two decades (the scale axis: more than one). Nothing here opens data files: the
report passes the rows in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sldagent.task import Dataset, Task

Predict = Callable[[str, np.ndarray], np.ndarray]  # (group, X) -> (n, n_targets)
SPLITS = (  # label, marker, colour
    ("train: fit rows", "o", "#1f77b4"),
    ("train: validation rows", "s", "#ff7f0e"),
    ("test rows (sealed)", "^", "#d62728"),
)
MAX_CURVES = 10  # above this many slices of the other features, the law is drawn per row
MAX_JOINED = 30  # per-row predictions of at most this many near-slices are joined by lines
DPI = 110


def scale_axis(task: Task) -> str:
    """The main scale axis: the first column the task's validation rule extrapolates along,
    else the first feature."""
    cols = [c for c in task.validation.columns if c in task.features]
    return cols[0] if cols else task.features[0]


def spans_decades(values: np.ndarray, decades: float = 2.0) -> bool:
    """True when all values are positive and max/min exceeds 10**decades."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size and v.min() > 0 and v.max() / v.min() > 10**decades)


def plain(text: str) -> str:
    """User text (group names, units, labels) as matplotlib shows it verbatim: every `$` escaped,
    so a name like `$x$` is never parsed as mathtext (an unbalanced one would raise)."""
    return str(text).replace("$", r"\$")


UNIT_CHARS = 32  # longer units are cut in axis labels


def axis_label(task: Task, column: str) -> str:
    """An axis label: the column and its unit, mathtext-escaped; a unit written as a sentence
    (some task files describe the column there) is cut to its first words."""
    info = task.feature_info.get(column)
    unit = info.unit if info is not None and info.unit and info.unit != "1" else ""
    if len(unit) > UNIT_CHARS:
        unit = unit.split(" (")[0]
        unit = unit if len(unit) <= UNIT_CHARS else unit[: UNIT_CHARS - 1].rstrip() + "…"
    return plain(f"{column} [{unit}]" if unit else column)


def save(fig: Figure, path: Path) -> None:
    """Write a PNG with no varying metadata (same figure -> same bytes)."""
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})


def grid_shape(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return (n + cols - 1) // cols, cols


def limits(values: np.ndarray, log: bool, pad: float = 0.15) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    lo, hi = float(v.min()), float(v.max())
    if log:
        span = np.log10(hi / lo) or 1.0
        return lo / 10 ** (pad * span), hi * 10 ** (pad * span)
    span = (hi - lo) or max(abs(hi), 1.0)
    return lo - pad * span, hi + pad * span


@dataclass(frozen=True)
class Rows:
    """One group's rows of the three splits."""

    fit: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def group_rows(fit: Dataset, val: Dataset, test: Dataset) -> dict[str, Rows]:
    """{group: Rows} with empty arrays where a split has no rows of that group."""
    parts = [{g: (X, y) for g, X, y in d.groups()} for d in (fit, val, test)]
    task = fit.task
    empty = (np.zeros((0, len(task.features))), np.zeros((0, len(task.targets))))
    names = sorted(set().union(*parts))
    return {g: Rows(*(p.get(g, empty) for p in parts)) for g in names}


def law_panels(
    task: Task,
    rows: dict[str, Rows],
    panels: Sequence[tuple[str, str]],
    predict: Predict,
    law_label: str,
    path: Path,
) -> Figure:
    """Observations and the law along the scale axis, one panel per (group, target)."""
    x_name = scale_axis(task)
    xi = task.features.index(x_name)
    targets = list(dict.fromkeys(t for _, t in panels))
    # several targets: one row per group, one column per target
    n_rows, n_cols = grid_shape(len(panels), max_cols=3 if len(targets) == 1 else len(targets))
    width = 4.3 if n_cols <= 3 else 3.6
    fig = Figure(figsize=(width * n_cols, 0.8 * width * n_rows + 0.6), layout="constrained")
    handles: dict[str, object] = {}
    for k, (group, target) in enumerate(panels):
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        r = rows[group]
        ti = task.targets.index(target)
        X_all = np.concatenate([r.fit[0], r.val[0], r.test[0]])
        y_all = np.concatenate([r.fit[1], r.val[1], r.test[1]])[:, ti]
        # a scale axis gets a log scale from one decade on (model sizes, data sizes)
        log_x, log_y = spans_decades(X_all[:, xi], 1.0), spans_decades(y_all)
        shade_regions(ax, r, xi, handles)
        _draw_law(ax, task, X_all, xi, ti, group, predict, law_label, log_x, handles)
        splits = zip(SPLITS, (r.fit, r.val, r.test), strict=True)
        for layer, ((label, marker, colour), (X, y)) in enumerate(splits):
            if len(X):
                h = ax.scatter(
                    X[:, xi], y[:, ti], marker=marker, s=22, color=colour,
                    alpha=0.8 if len(X) < 200 else 0.4, linewidth=0, label=label, zorder=3 + layer,
                )  # fmt: skip
                handles.setdefault(label, h)
        ax.set_xscale("log" if log_x else "linear")
        ax.set_yscale("log" if log_y else "linear")
        ax.set_ylim(*limits(y_all, log_y))
        ax.set_xlabel(axis_label(task, x_name))
        ax.set_ylabel(axis_label(task, target))
        title = f"group {group}" if len(task.targets) == 1 else f"group {group}: {target}"
        ax.set_title(plain(title), fontsize=10)
        ax.grid(alpha=0.25, which="both" if log_x or log_y else "major")
    figure_legend(fig, handles)
    save(fig, path)
    return fig


def figure_legend(fig: Figure, handles: dict, splits: Sequence = SPLITS) -> None:
    """One legend under all panels: the row kinds (splits) first, then the rest as drawn."""
    first = [text for text, _, _ in splits if text in handles]
    names = first + [k for k in handles if k not in first]
    fig.legend(
        [handles[k] for k in names], [plain(k) for k in names], loc="outside lower center",
        ncol=min(len(names), 3), fontsize=9, frameon=False,
    )  # fmt: skip


def shade_regions(ax, r: Rows, xi: int, handles: dict) -> None:
    """Shade, along x, the stretch from the fit rows to the validation rows and from all train
    rows to the test rows, where those rows lie beyond (an extrapolation along this axis)."""
    if not len(r.fit[0]):
        return
    fit_max = r.fit[0][:, xi].max()
    train_max = max(fit_max, r.val[0][:, xi].max()) if len(r.val[0]) else fit_max
    spans = (
        ("validation region (beyond the fit rows)", r.val[0], fit_max, "#ff7f0e"),
        ("test region (beyond all train rows)", r.test[0], train_max, "#d62728"),
    )
    for label, X, start, colour in spans:
        if len(X) and X[:, xi].min() > start:
            h = ax.axvspan(start, X[:, xi].max(), color=colour, alpha=0.08, lw=0)
            handles.setdefault(label, h)


def _draw_law(ax, task, X_all, xi, ti, group, predict, label, log_x, handles) -> None:
    """Curves of the law along x for each slice of the other features, if there are few
    slices; else the law's prediction at every observed row."""
    others = [j for j in range(X_all.shape[1]) if j != xi]
    slices = np.unique(X_all[:, others], axis=0) if others else np.zeros((1, 0))
    if len(slices) <= MAX_CURVES:
        for s in slices:
            in_slice = np.all(X_all[:, others] == s, axis=1)
            xs = X_all[in_slice, xi]
            lo, hi = xs.min(), xs.max()
            grid = np.geomspace(lo, hi, 200) if log_x and lo > 0 else np.linspace(lo, hi, 200)
            G = np.repeat(X_all[in_slice][:1], len(grid), axis=0)
            G[:, xi] = grid
            with np.errstate(all="ignore"):
                y = np.asarray(predict(group, G), dtype=float)[:, ti]
            y[~np.isfinite(y)] = np.nan
            (h,) = ax.plot(grid, y, color="0.15", lw=1.2, zorder=2)
            handles.setdefault(label, h)
        return
    with np.errstate(all="ignore"):
        y = np.asarray(predict(group, X_all), dtype=float)[:, ti]
    h = ax.scatter(
        X_all[:, xi], y, marker="o", s=16, facecolor="none", edgecolor="0.1", lw=0.7, zorder=4
    )
    handles.setdefault(f"{label}, at each row", h)
    keys = _near_slices(X_all[:, others])
    # join a slice only if it is one configuration seen at several x (one row per x)
    joined = [
        k
        for k in set(keys.tolist())
        if 1 < len(np.unique(X_all[keys == k, xi])) == int(np.sum(keys == k))
    ]
    if len(joined) <= MAX_JOINED:
        for k in joined:
            rows = np.flatnonzero(keys == k)
            rows = rows[np.argsort(X_all[rows, xi], kind="stable")]
            (line,) = ax.plot(X_all[rows, xi], y[rows], color="0.15", lw=0.8, alpha=0.6, zorder=2)
            handles.setdefault(f"{label}, rows with similar other features joined", line)


def _near_slices(values: np.ndarray, rel: float = 0.05) -> np.ndarray:
    """A slice id per row: rows whose other features are all within ~5% of each other (runs of
    one model configuration whose size drifts a little with the scale axis) share an id."""
    ids = np.zeros(len(values), dtype=np.int64)
    for j in range(values.shape[1]):
        col = values[:, j]
        order = np.argsort(col, kind="stable")
        sorted_col = col[order]
        gap = np.diff(sorted_col) > rel * np.maximum(np.abs(sorted_col[:-1]), 1e-300)
        cluster = np.empty(len(col), dtype=np.int64)
        cluster[order] = np.concatenate([[0], np.cumsum(gap)])
        ids = ids * (int(cluster.max()) + 1) + cluster
    return np.unique(ids, return_inverse=True)[1]


def predicted_vs_actual(
    task: Task,
    test: Dataset,
    series: Sequence[tuple[str, Predict]],
    path: Path,
    rows: str = "test rows",
) -> Figure:
    """`rows` (default the test rows): each model's prediction against the observation, one
    panel per target. Predictions beyond the frame are drawn on its edge and counted in the
    legend."""
    groups = list(test.groups())
    actual = np.concatenate([y for _, _, y in groups])
    with np.errstate(all="ignore"):
        preds = [
            np.concatenate([np.asarray(f(g, X), dtype=float) for g, X, _ in groups])
            for _, f in series
        ]
    n_rows, n_cols = grid_shape(len(task.targets))
    fig = Figure(figsize=(4.3 * n_cols, 3.9 * n_rows + 0.5), layout="constrained")
    styles = [("o", "#2ca02c"), ("s", "#9467bd"), ("D", "#8c564b"), ("v", "#e377c2")]
    handles: list = []
    off = [0] * len(series)
    for ti, target in enumerate(task.targets):
        ax = fig.add_subplot(n_rows, n_cols, ti + 1)
        log = spans_decades(actual[:, ti])
        lo, hi = limits(actual[:, ti], log, pad=0.3)
        (diag,) = ax.plot([lo, hi], [lo, hi], color="0.4", lw=1, ls="--", zorder=1)
        handles = [diag]
        for k, (pred, (marker, colour)) in enumerate(zip(preds, styles, strict=False)):
            p = pred[:, ti]
            off[k] += int(np.sum(~np.isfinite(p) | (p < lo) | (p > hi)))
            p = np.where(np.isfinite(p), p, np.where(p > 0, hi, lo))
            h = ax.scatter(
                actual[:, ti], np.clip(p, lo, hi), marker=marker, s=20, color=colour,
                alpha=0.75, edgecolor="white", linewidth=0.4, zorder=3,
            )  # fmt: skip
            handles.append(h)
        for axis in ("x", "y"):
            getattr(ax, f"set_{axis}scale")("log" if log else "linear")
            getattr(ax, f"set_{axis}lim")(lo, hi)
        ax.set_xlabel(f"actual {axis_label(task, target)}")
        ax.set_ylabel(f"predicted {axis_label(task, target)}")
        ax.set_title(plain(f"{rows}: {target}"), fontsize=10)
        ax.grid(alpha=0.25)
    labels = ["perfect prediction"] + [
        f"{label} ({n} off-scale, on the edge)" if n else label
        for (label, _), n in zip(series, off, strict=True)
    ]
    labels = [plain(t) for t in labels]
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    save(fig, path)
    return fig


def latex_png(tex: str, path: Path, fontsize: int = 15) -> bool:
    """Render LaTeX with matplotlib's mathtext (one line per target); False if mathtext cannot
    parse it (the report then shows the LaTeX source only)."""
    text = "\n".join(f"${line}$" for line in _latex_lines(tex))
    fig = Figure(figsize=(0.1, 0.1))
    fig.text(0, 0, text, fontsize=fontsize, va="bottom", linespacing=2.0)
    try:
        save(fig, path)
    except ValueError:
        path.unlink(missing_ok=True)
        return False
    return True


def _latex_lines(tex: str) -> list[str]:
    body = tex.strip()
    if body.startswith(r"\begin{aligned}"):
        body = body[len(r"\begin{aligned}") : -len(r"\end{aligned}")]
        return [line.replace("&=", "=").strip() for line in body.split(r"\\")]
    return [body]
