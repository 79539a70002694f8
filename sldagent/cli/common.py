"""What the subcommands share: number formatting, the data-root and CSV-task flags, run dirs."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def json_number(value: float | None) -> float | None:
    """JSON has no inf/NaN: they become null (the text output still shows them)."""
    if value is None or not math.isfinite(value):
        return None
    return value


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data root (else $SLDAGENT_DATA, else data/experiments)")


def add_csv_task(p: argparse.ArgumentParser) -> None:
    """Flags describing a custom task over your own CSV (see sldagent/custom_task.py)."""
    p.add_argument("--csv", help="your runs: a CSV with a header line (instead of TASK)")
    p.add_argument("--features", help="input columns, comma-separated, e.g. N,D")
    p.add_argument("--target", help="column(s) to predict, e.g. loss")
    p.add_argument("--group", help="column naming the group (default: all rows are one group)")
    p.add_argument(
        "--extrapolate",
        help='held-out test rows, e.g. "N>=1e9" or "N>=1e9 and D>=1e11" (default: none)',
    )
    p.add_argument(
        "--param-budget",
        type=int,
        help="fitted constants per group a law may use (default 2 + 2 per feature)",
    )


def custom_task(args: argparse.Namespace):
    from sldagent.custom_task import task_from_options

    return task_from_options(
        task=getattr(args, "task", None),
        csv=args.csv,
        features=args.features,
        target=args.target,
        group=args.group,
        extrapolate=args.extrapolate,
        param_budget=args.param_budget,
        demo=getattr(args, "demo", False),
    )


def run_config(run_dir: Path) -> dict:
    """A run directory's config.json, or a one-line error saying what a run directory is."""
    from sldagent.custom_task import run_config as read_run_config

    return read_run_config(run_dir)


def default_run_dir(args: argparse.Namespace, task_name: str) -> Path:
    if args.run_dir:
        return Path(args.run_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / task_name / f"{stamp}-seed{args.seed or 0}"
