"""The report of one finished run (`sldagent report RUN_DIR`; `discover` writes it when it ends):
a self-contained report.html (figures embedded as PNG, no script, no network) and its PNGs.

What a researcher checks before betting a large run on the law: the law through the runs it came
from and past them, with the bootstrap band of `sldagent predict` (sldagent/predict.py, the same
refits and seeds); predicted vs actual; the Pareto front; the search's progress; the finalists;
constants per group; warnings. The test rows are opened through sldagent.evaluation, only for a
finished run (best.json exists), and are labelled. Same run dir and data -> same bytes.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sldagent import plots, run_page, run_plots
from sldagent.custom_task import run_task
from sldagent.evaluation import score_with_constants, test_rows
from sldagent.fitted import FittedLaw
from sldagent.law import LawError
from sldagent.predict import LEVEL, RESAMPLES, bootstrap, group_seed, interval, outside, parse_point
from sldagent.report import spread_panels
from sldagent.search.runlog import RunLog
from sldagent.task import Dataset, Task, list_tasks, load_train, resolve_data_root, split_validation

REPORT = "report.html"
FIGURES = "report_figures"
MAX_SLICES = 5  # distinct values of the other features drawn as one curve each; more: median
GRID = 160  # points per curve
BOUND_TOL = 1e-6  # a constant this close (relative) to a finite bound is "at the bound"


# ----------------------------------------------------------------- the run


@dataclass(frozen=True)
class FinishedRun:
    """What a finished discover run left in its directory."""

    path: Path
    task: Task
    config: dict
    best: dict
    law: FittedLaw
    records: list[dict]


def _json(path: Path, advice: str) -> dict:
    """A JSON object from a run file, or a one-line error naming the file."""
    if not path.is_file():
        raise ValueError(f"{path} not found: {advice}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: damaged JSON ({err}); {advice}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object; {advice}")
    return data


def load_finished_run(
    run_dir: Path, task: Task | None = None, root: Path | None = None
) -> FinishedRun:
    """The run's files, checked: each missing or damaged one is a one-line error. `task`: the
    run's task when the run dir does not hold it (a task TOML outside the package)."""
    run_dir = Path(run_dir)
    made = "give a run directory made by `sldagent discover`"
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such directory; {made}")
    config = _json(run_dir / "config.json", made)
    resume = f"the run has not finished; resume it with `sldagent discover --resume {run_dir}`"
    best = _json(run_dir / "best.json", resume)
    missing = [k for k in ("law", "latex", "params", "recipe") if k not in best]
    if missing:
        raise ValueError(f"{run_dir / 'best.json'}: no {', '.join(missing)}; the file is damaged")
    own = run_dir / "task.toml"
    if task is None and not own.is_file() and config.get("task") not in list_tasks(root):
        raise ValueError(
            f"{own} not found and config.json names no shipped task "
            f"({config.get('task')!r}): the run's task is missing; give its file with --task"
        )
    task = task or run_task(run_dir, root)
    if task.name != config.get("task"):
        raise ValueError(f"{run_dir}: the run is of task {config.get('task')!r}, not {task.name!r}")
    try:
        law = FittedLaw.from_best(best, task.features, task.targets, task.group)
    except (LawError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{run_dir / 'best.json'}: unusable law or constants ({err})") from None
    log = run_dir / "candidates.jsonl"
    if not log.is_file():
        raise ValueError(f"{log} not found: the run's candidate log is missing; {made}")
    return FinishedRun(run_dir, task, config, best, law, RunLog(log).read())


# ----------------------------------------------------------------- numbers


def _predictor(law: FittedLaw):
    def predict(group: str, X: np.ndarray) -> np.ndarray:
        if group not in law.params_:
            return np.full((len(X), len(law.targets)), np.nan)
        with np.errstate(all="ignore"):
            return law.law.predict(X, law.theta(group))

    return predict


def _slices(task: Task, X: np.ndarray, X_train: np.ndarray, xi: int) -> list:
    """(label, rows(grid) -> feature rows) per curve: the scale axis varies along the curve; the
    other features are each distinct combination if there are few, else each follows its
    log-linear trend with the scale axis over the training rows (so the curve runs through the
    cloud of runs, e.g. tokens growing with model size)."""
    others = [j for j in range(len(task.features)) if j != xi]

    def name(row) -> str:
        return ", ".join(f"{task.features[j]} = {row[j]:.3g}" for j in others)

    def fixed(row: np.ndarray):
        def rows(grid: np.ndarray) -> np.ndarray:
            G = np.repeat(row[None, :], len(grid), axis=0)
            G[:, xi] = grid
            return G

        return rows

    distinct = np.unique(X[:, others], axis=0)
    if len(distinct) <= MAX_SLICES:
        out = []
        for values in distinct:
            row = X[0].copy()
            row[others] = values
            out.append((name(row) if others else "", fixed(row)))
        return out
    x = X_train[:, xi]
    trends, words = {}, []
    for j in others:
        col = X_train[:, j]
        logs = bool(x.min() > 0 and col.min() > 0)
        u, v = (np.log(x), np.log(col)) if logs else (x, col)
        slope, icept = np.polyfit(u, v, 1) if np.ptp(u) > 0 else (0.0, float(np.mean(v)))
        trends[j] = (logs, float(slope), float(icept))
        f = task.features[j]
        words.append(
            f"{f} ∝ {task.features[xi]}^{slope:.2f}"
            if logs
            else f"{f} linear in {task.features[xi]}"
        )

    def along(grid: np.ndarray) -> np.ndarray:
        G = np.repeat(np.median(X_train, axis=0)[None, :], len(grid), axis=0)
        G[:, xi] = grid
        for j, (logs, slope, icept) in trends.items():
            G[:, j] = np.exp(icept + slope * np.log(grid)) if logs else icept + slope * grid
        return G

    return [(", ".join(words) + " (trend of the train rows)", along)]


def _grid(x: np.ndarray, extra: list[float], extend: bool) -> np.ndarray:
    """Scale-axis values from the smallest row to the largest row or point; without test rows
    or a point, half a decade (a quarter of the span) past the data."""
    lo, hi = float(x.min()), float(max([x.max(), *extra]))
    log = lo > 0 and plots.spans_decades(np.array([lo, hi]), 1.0)
    if extend:
        hi = hi * 10**0.5 if log else hi + 0.25 * ((hi - lo) or abs(hi) or 1.0)
    return np.geomspace(lo, hi, GRID) if log else np.linspace(lo, hi, GRID)


@dataclass(frozen=True)
class GroupBand:
    """One group's curves, --at point and bootstrap bookkeeping."""

    curves: list[run_plots.Curve]
    point: run_plots.Point | None
    refits: int
    trend: bool  # the other features follow their trend (no fixed slice)


def group_band(
    run: FinishedRun, rows: plots.Rows, train_xy, group: str, point, resamples, level, seed
) -> GroupBand:
    """The law's curves for one group, to the test rows or the --at point, with the band of
    `predict`'s bootstrap (the same refits: the interval at the point is predict's)."""
    task, law = run.task, run.law
    xi = task.features.index(plots.scale_axis(task))
    X_all = np.concatenate([rows.fit[0], rows.val[0], rows.test[0]])
    slices = _slices(task, X_all, train_xy[0], xi)
    at_x = [point[task.features[xi]]] if point is not None else []
    grid = _grid(X_all[:, xi], at_x, extend=not len(rows.test[0]) and point is None)
    blocks = [rows_at(grid) for _, rows_at in slices]
    if point is not None:
        blocks.append(np.array([[point[f] for f in task.features]]))
    x = np.concatenate(blocks)
    value = _predictor(law)(group, x)
    draws = bootstrap(law, *train_xy, x, resamples, group_seed(seed, group), math.inf)
    low, high, _ = interval(draws, level)
    curves = [
        run_plots.Curve(label, grid, value[k * GRID : (k + 1) * GRID], *(
            b[k * GRID : (k + 1) * GRID] for b in (low, high)
        ))
        for k, (label, _) in enumerate(slices)
    ]  # fmt: skip
    at = None
    if point is not None:
        at = run_plots.Point(at_x[0], value[-1], low[-1], high[-1])
    trend = slices[0][0].endswith("(trend of the train rows)")
    return GroupBand(curves, at, len(draws), trend)


def bound_warnings(best: dict) -> list[str]:
    """Constants at (within BOUND_TOL of) a finite bound of the run's fit recipe."""
    out = []
    bounds = best["recipe"].get("bounds", {})
    for group in sorted(best["params"]):
        for name, value in best["params"][group].items():
            lo_hi = bounds.get(name, (-math.inf, math.inf))
            for side, b in zip(("lower", "upper"), lo_hi, strict=True):
                b = float(b)
                if math.isfinite(b) and abs(value - b) <= BOUND_TOL * max(1.0, abs(b)):
                    out.append(
                        f"group {group}: constant {name} = {value:.6g} is at its {side} bound "
                        f"{b:g} (the fit may want it beyond)"
                    )
    return out


def distance_warnings(task: Task, train: dict, targets: dict, what: str) -> list[str]:
    """Per feature, the farthest `what` (test rows, --at) lies beyond a group's training range,
    in decades where the feature is positive (predict's own measure)."""
    worst: dict[str, tuple[float, str]] = {}
    for group, X in sorted(targets.items()):
        if group not in train or not len(X):
            continue
        X_train = train[group][0]
        for point in (X.max(axis=0), X.min(axis=0)):
            values = dict(zip(task.features, map(float, point), strict=True))
            for o in outside(values, X_train, task.features):
                if o.feature not in worst or o.distance > worst[o.feature][0]:
                    worst[o.feature] = (o.distance, f"{what}, group {group}: {o}")
    return [worst[f][1] for f in task.features if f in worst]


# ----------------------------------------------------------------- the report


@dataclass(frozen=True)
class RunReport:
    """What the page shows, computed from the run and its rows."""

    run: FinishedRun
    figures: dict[str, str]  # name -> PNG path relative to the page
    bands: dict[str, GroupBand]  # shown groups
    panels: list[tuple[str, str]]  # (group, target) panels of the law-vs-runs figure
    n_groups: int
    r2: dict[str, float]  # "train", and "test" where there are test rows
    warnings: list[str]
    point: dict[str, float] | None  # --at
    resamples: int
    level: float
    seed: int


def write_run_report(
    run_dir: Path,
    out: Path | None = None,
    at: str | None = None,
    data_dir: Path | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
    task: Task | None = None,
) -> Path:
    """Write OUT/report.html and OUT/report_figures/*.png (OUT: the run dir); returns the page."""
    if resamples < 1 or not 0 < level < 1:
        raise ValueError("need --resamples >= 1 and 0 < --level < 1")
    root = resolve_data_root(data_dir)
    run = load_finished_run(Path(run_dir), task, root)
    task = run.task
    point = parse_point(at, task.features) if at else None
    train = load_train(task, root)
    fit_rows, val_rows = split_validation(train)
    has_test = task.source is None or task.source.extrapolate is not None
    empty = Dataset(task, train.frame.iloc[:0], train.path, "test")
    test = test_rows(task, root) if has_test else empty
    rows = plots.group_rows(fit_rows, val_rows, test)
    train_xy = {g: (X, y) for g, X, y in train.groups()}
    predict = _predictor(run.law)
    test_groups = sorted({g for g, _, _ in test.groups()})
    panels = spread_panels(task, rows, predict, test_groups)
    shown = list(dict.fromkeys(g for g, _ in panels))
    bands = {
        g: group_band(run, rows[g], train_xy[g], g, point, resamples, level, seed) for g in shown
    }

    out = Path(out) if out is not None else run.path
    figdir = out / FIGURES
    if figdir.is_dir():
        shutil.rmtree(figdir)
    figdir.mkdir(parents=True)
    fig = {}

    def path(name: str) -> Path:
        fig[name] = f"{FIGURES}/{name}.png"
        return out / fig[name]

    if not plots.latex_png(run.best["latex"], path("law")):
        del fig["law"]
    trend = any(b.trend for b in bands.values())
    run_plots.law_band_panels(
        task, rows, panels, {g: b.curves for g, b in bands.items()},
        {g: b.point for g, b in bands.items() if b.point is not None},
        predict if trend else None, level, path("law_vs_runs"),
    )  # fmt: skip
    r2 = {"train": score_with_constants(run.law.law, run.law.params_, train)}
    series = [(f"the law (R² {r2['train']:.4f})", predict)]
    plots.predicted_vs_actual(task, train, series, path("train"), rows="training rows")
    if len(test):
        r2["test"] = score_with_constants(run.law.law, run.law.params_, test)
        series = [(f"the law (R² {r2['test']:.4f})", predict)]
        plots.predicted_vs_actual(task, test, series, path("test"), rows="test rows (held out)")
    by_id = {r["id"]: r for r in run.records}
    everything = [p for p in map(run_plots.FrontPoint.of, run.records) if p is not None]
    front = [run_plots.FrontPoint.of(by_id.get(e["id"])) for e in run.best.get("pareto", [])]
    front = [p for p in front if p is not None]
    chosen = run_plots.FrontPoint.of(by_id.get(run.best.get("id")))
    run_plots.pareto_figure(everything, front, chosen, path("pareto"))
    islands = int(run.config.get("search", {}).get("islands", 1))
    run_plots.progress_figure(run.records, islands, path("progress"))

    warnings = bound_warnings(run.best)
    warnings += distance_warnings(task, train_xy, {g: X for g, X, _ in test.groups()}, "test rows")
    if point is not None:
        at_row = np.array([[point[f] for f in task.features]])
        warnings += distance_warnings(task, train_xy, {g: at_row for g in train_xy}, "--at")
    warnings += [
        f"group {g}: no constants in best.json (its fit failed); the law predicts nothing there"
        for g in sorted(train_xy)
        if g not in run.law.params_
    ]
    warnings += [
        f"group {g}: only {b.refits} of {resamples} bootstrap refits succeeded"
        + ("; no band" if not b.refits else "; the band uses those")
        for g, b in bands.items()
        if b.refits < resamples
    ]
    shown = RunReport(
        run, fig, bands, panels, len(rows), r2, warnings, point, resamples, level, seed
    )
    (out / REPORT).write_text(run_page.page(shown, out), encoding="utf-8")
    return out / REPORT
