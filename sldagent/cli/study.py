"""`sldagent study`: selection rules measured on a suite of tasks x seeds (SELECTION.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sldagent.cli.common import add_data_dir
from sldagent.task import resolve_data_root


def cmd_study(args: argparse.Namespace) -> int:
    from sldagent.study import ALL_RULES, StudyConfig, markdown, study, suite_tasks

    devbench = Path(args.devbench) if args.devbench else None
    rules = tuple(r.strip() for r in args.rules.split(",")) if args.rules else tuple(ALL_RULES)
    config = StudyConfig(
        tasks=suite_tasks(args.suite, devbench, resolve_data_root(args.data_dir)),
        out=Path(args.out),
        seeds=args.seeds,
        budget=args.budget,
        jobs=args.jobs,
        rules=rules,
    )
    command = (
        f"sldagent study --suite {args.suite} --seeds {args.seeds} --budget {args.budget} "
        f"--out {args.out}"
        + (f" --devbench {args.devbench}" if args.devbench else "")
        + (f" --data-dir {args.data_dir}" if args.data_dir else "")
        + (f" --rules {args.rules}" if args.rules else "")
    )
    result = study(config, stream=None if args.quiet else sys.stderr, command=command)
    text = markdown(result)
    path = Path(args.markdown)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    summary = result["summary"]["rules"]
    for rule in rules:
        s = summary[rule]
        lo, hi = s["interval"]
        print(
            f"{rule:14} mean {s['mean']:.3f}  diff {s['diff']:+.3f}  "
            f"W/T/L {s['wins']}/{s['ties']}/{s['losses']}  95% [{lo:+.3f}, {hi:+.3f}]"
        )
    print(f"wrote {path} and {config.out / 'study.json'} ({result['seconds']:.0f} s)")
    return 0


def add_parsers(sub) -> None:
    """study."""
    p = sub.add_parser(
        "study",
        help="discover on a suite x seeds, score every selection rule's pick on the test rows",
    )
    p.add_argument(
        "--suite",
        default="devbench",
        help="devbench, sldbench, both, or TASK,TASK (default devbench)",
    )
    p.add_argument("--devbench", help="the development corpus's data root (task.json folders)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per task (default 3)")
    p.add_argument("--budget", type=int, default=300, help="candidates per run (default 300)")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers per run (default 1)")
    p.add_argument("--rules", help="RULE,RULE (default: every registered rule)")
    p.add_argument("--out", default="study", help="runs live in OUT/runs; OUT/study.json")
    p.add_argument(
        "--markdown", default="bench/SELECTION.md", help="the table (default bench/SELECTION.md)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    p.set_defaults(func=cmd_study)
