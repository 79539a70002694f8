"""`sldagent report RUN_DIR`: the run's self-contained report.html (figures, tables, warnings)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sldagent.cli.common import add_data_dir


def cmd_report(args: argparse.Namespace) -> int:
    from sldagent.run_report import write_run_report
    from sldagent.task import load_task

    page = write_run_report(
        Path(args.run_dir),
        out=Path(args.out) if args.out else None,
        at=args.at,
        data_dir=args.data_dir,
        resamples=args.resamples,
        seed=args.seed,
        task=load_task(args.task) if args.task else None,
    )
    print(f"wrote {page}")
    return 0


def add_parsers(sub) -> None:
    """report."""
    from sldagent.predict import LEVEL, RESAMPLES

    p = sub.add_parser(
        "report",
        help="write a finished run's report.html: the law against the runs, Pareto front, ...",
        description=(
            "Write RUN_DIR/report.html (or --out DIR/report.html): self-contained, figures "
            f"embedded. The band is the {100 * LEVEL:g}% bootstrap interval of `sldagent "
            "predict`; the held-out test rows are shown, labelled, since the run has ended."
        ),
    )
    p.add_argument("run_dir", help="a finished `sldagent discover` run directory")
    p.add_argument("--out", help="directory to write report.html and its figures (default RUN_DIR)")
    p.add_argument(
        "--at",
        help='a point to extrapolate to, e.g. "N=7e10,D=1.4e12" (every feature once): the curves '
        "pass through it and end there",
    )
    p.add_argument(
        "--resamples",
        type=int,
        default=RESAMPLES,
        help=f"bootstrap refits per group for the band (default {RESAMPLES}, as predict)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0, as predict)")
    p.add_argument(
        "--task",
        metavar="TOML",
        help="the run's task file, for a run of a task TOML outside the package (custom CSV "
        "runs hold theirs, shipped tasks are found by name)",
    )
    add_data_dir(p)
    p.set_defaults(func=cmd_report)
