"""Subcommands on a finished run: `export | init-task | predict | rehearse | holdout`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sldagent.cli.common import (
    add_csv_task,
    add_data_dir,
    custom_task,
    default_run_dir,
    fmt,
    json_number,
    run_config,
)
from sldagent.task import load_task, resolve_data_root


def cmd_export(args: argparse.Namespace) -> int:
    from sldagent.export import export, latex_table

    run_dir = Path(args.run_dir)
    if args.format == "latex-table":
        text = latex_table(run_dir)
    else:
        saved = run_config(run_dir)
        text = export(run_dir, args.format, saved["features"], saved["targets"])
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_init_task(args: argparse.Namespace) -> int:
    from sldagent.custom_task import task_toml

    if not args.csv:
        raise ValueError("init-task needs --csv FILE (plus --features and --target)")
    sys.stdout.write(task_toml(custom_task(args)))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from sldagent.predict import predict_run, report, table

    law, point, rows = predict_run(
        Path(args.run_dir),
        args.at,
        group=args.group,
        data_dir=resolve_data_root(args.data_dir),
        resamples=args.resamples,
        level=args.level,
        seed=args.seed,
        time_limit=args.time_limit,
    )
    for p in rows:
        for o in p.outside:
            print(f"sldagent: warning: group {p.group}: {o}; extrapolating", file=sys.stderr)
    if args.json:
        print(json.dumps(report(law, point, rows, args.level)))
    else:
        sys.stdout.write(table(law, point, rows, args.level))
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from sldagent.custom_task import run_task
    from sldagent.fitters import FitRecipe
    from sldagent.law import parse_law
    from sldagent.search.rehearsal import rehearse, sample_laws
    from sldagent.search.runlog import RunLog
    from sldagent.task import load_train

    run_dir = Path(args.run_dir)
    run_config(run_dir)
    root = resolve_data_root(args.data_dir)
    task = run_task(run_dir, root)
    train = load_train(task, root)
    picked = sample_laws(RunLog(run_dir / "candidates.jsonl").read(), args.laws, args.sample)
    laws = [
        (parse_law(r["law"], task.features, task.targets), FitRecipe.from_dict(r["recipe"]))
        for r in picked
    ]
    res = rehearse(laws, train)
    if args.json:
        print(
            json.dumps(
                {"task": task.name, "laws": res.n_laws, "rho": res.rho, "chosen": res.chosen}
            )
        )
    else:
        print(
            f"{task.name}: {res.n_laws} laws; Spearman rho of inner-fold fitness vs "
            "outer-fold error"
        )
        for name, value in res.rho.items():
            mark = "  <- the search's signal" if name == res.chosen else ""
            print(f"  {name:14} {fmt(value, 3)}{mark}")
    return 0


def cmd_holdout(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sldagent.search.holdout import holdout
    from sldagent.search.loop import SearchConfig
    from sldagent.task import load_train

    root = resolve_data_root(args.data_dir)
    task = load_task(args.task, root)
    train = load_train(task, root)
    run_dir = default_run_dir(args, task.name + "-holdout")
    config = SearchConfig(budget=args.budget, seed=args.seed)
    res = holdout(train, config, run_dir, jobs=args.jobs or -1)
    if args.json:
        print(
            json.dumps(
                {k: json_number(v) if isinstance(v, float) else v for k, v in asdict(res).items()}
                | {"run_dir": str(run_dir)}
            )
        )
    else:
        print(f"{task.name}: search on train minus its validation slice, scored on that slice")
        print(f"  chosen law        R² {fmt(res.chosen_r2)}   {res.chosen_law}")
        print(f"  human law (refit) R² {fmt(res.human_r2)}")
        print(f"  run {run_dir}  ({res.candidates} candidates, {res.seconds:.0f}s)")
    return 0


def add_parsers(sub) -> None:
    """init-task, rehearse, holdout, predict, export."""
    p = sub.add_parser(
        "init-task",
        help="write a custom task over your CSV as TOML (for `sldagent discover FILE.toml`)",
    )
    add_csv_task(p)
    p.set_defaults(func=cmd_init_task)

    p = sub.add_parser(
        "rehearse",
        help="measure how well the fitness predicts extrapolation "
        "(nested folds inside train; no test rows)",
    )
    p.add_argument("run_dir", help="a discover run whose candidates form the population")
    p.add_argument("--laws", type=int, default=40, help="how many laws of the run to rank")
    p.add_argument(
        "--sample",
        choices=["top", "spread"],
        default="top",
        help="the best laws (default) or laws spread over the whole ranking",
    )
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_rehearse)

    p = sub.add_parser(
        "holdout",
        help="judge the search itself inside train: hold out the validation slice as a "
        "pseudo-test, search on the rest, score the chosen law there (no test rows)",
    )
    p.add_argument("task")
    p.add_argument("--budget", type=int, default=300, help="candidates to evaluate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=0, help="parallel workers (default: all cores)")
    p.add_argument("--run-dir", help="where to write the run (default runs/TASK-holdout/...)")
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_holdout)

    p = sub.add_parser(
        "predict",
        help="predict a new run with a run's best law, with a bootstrap interval",
        description=(
            "Predict the target at a new point with the best law of a finished run. Interval: "
            "nonparametric bootstrap over the training runs: each group's training rows are "
            "resampled with replacement --resamples times (default 50; seeded by --seed), the "
            "law is refitted on each resample with the run's fit recipe, and the interval is "
            "the central --level share (default 0.9: the 5th to 95th percentile) of the "
            "refits' predictions. It reflects how much the fitted constants move with the "
            "data, not whether the law's form holds far away. A point outside a group's "
            "training range gets a warning with the distance in decades per feature."
        ),
    )
    p.add_argument("run_dir", help="a finished `sldagent discover` run")
    p.add_argument("--at", required=True, help='the new point, e.g. "N=7e10,D=1.4e12"')
    p.add_argument("--group", help="one group (default: every group of the run)")
    p.add_argument("--resamples", type=int, default=50, help="bootstrap refits (default 50)")
    p.add_argument("--level", type=float, default=0.9, help="interval coverage (default 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        help="stop refitting after this many seconds (default 60; the output says how many "
        "refits ran)",
    )
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "export",
        help="write a run's best law as LaTeX, JSON, sympy or Python; or a benchmark's LaTeX table",
    )
    p.add_argument(
        "run_dir",
        help="a discover run directory; for --format latex-table, a benchmark report "
        "directory (the --out of `sldagent benchmark`, holding results.json)",
    )
    p.add_argument(
        "--format",
        required=True,
        choices=["latex", "json", "python", "sympy", "latex-table"],
        help="latex-table: a booktabs table of every task's law and test R² in a report",
    )
    p.add_argument("--out", help="file to write (default: stdout)")
    p.set_defaults(func=cmd_export)
