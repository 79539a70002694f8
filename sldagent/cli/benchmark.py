"""`sldagent benchmark`: every task x seed, scored once on the test rows, and the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sldagent.cli.common import add_data_dir
from sldagent.task import resolve_data_root


def cmd_benchmark(args: argparse.Namespace) -> int:
    from sldagent.benchmark import BenchmarkConfig, benchmark, parse_tasks
    from sldagent.report import markdown_table
    from sldagent.srbaseline import SRConfig

    config = BenchmarkConfig(
        tasks=parse_tasks(args.tasks),
        data_root=resolve_data_root(args.data_dir),
        out=Path(args.out),
        seeds=args.seeds,
        budget=args.budget,
        proposer=args.proposer,
        jobs=args.jobs,
        sr=SRConfig(method=args.sr, seconds=args.sr_seconds),
    )
    command = (
        f"sldagent benchmark --tasks {args.tasks} --seeds {args.seeds} --budget {args.budget} "
        f"--proposer {args.proposer} --jobs {args.jobs} --out {args.out}"
    )
    start = time.monotonic()
    results = benchmark(config, stream=None if args.quiet else sys.stderr, command=command)
    sys.stdout.write(markdown_table(results))
    print(
        f"report: {config.out / 'index.html'}  (search {results['search_seconds']:.0f} s summed "
        f"over runs; this command {time.monotonic() - start:.0f} s)"
    )
    return 0


def add_parsers(sub) -> None:
    """benchmark."""
    p = sub.add_parser(
        "benchmark",
        help="discover on every task x seed, score on the test rows, write the report",
    )
    p.add_argument("--tasks", default="all", help="'all' or TASK,TASK (names or .toml paths)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per task (default 5)")
    p.add_argument("--budget", type=int, default=300, help="candidates per run (default 300)")
    p.add_argument("--proposer", default="symbolic", choices=["symbolic"])
    p.add_argument("--jobs", type=int, default=1, help="parallel workers per run (default 1)")
    p.add_argument("--out", default="report", help="report directory; runs live in OUT/runs")
    p.add_argument(
        "--sr",
        default="auto",
        choices=["auto", "pysr", "pyoperon", "none"],
        help="symbolic-regression baseline: auto = PySR if it runs, else pyoperon; none skips it",
    )
    p.add_argument(
        "--sr-seconds", type=float, default=30.0, help="SR time cap per task (default 30)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    p.set_defaults(func=cmd_benchmark)
