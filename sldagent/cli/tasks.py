"""`sldagent tasks | data check | data pull | baseline | evaluate`: tasks and human laws."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sldagent.cli.common import add_data_dir, fmt, json_number
from sldagent.law import LawError
from sldagent.task import list_tasks, load_task, resolve_data_root


def cmd_tasks(args: argparse.Namespace) -> int:
    from sldagent.data import check_data_root

    root = resolve_data_root(args.data_dir)
    tasks = [load_task(name, root) for name in list_tasks(root)]
    rows = {r.task: r for r in check_data_root(root, tasks=tasks, strict=False)}
    width = max([32, *(len(t.name) + 1 for t in tasks)])
    print(
        f"{'task':{width}} {'features':>8} {'targets':>7} {'budget':>6} {'train':>6} "
        f"{'test':>5} {'groups':>6}"
    )
    for task in tasks:
        name = task.name
        info = rows.get(name)
        train = str(info.train_rows) if info and info.ok else "?"
        test = str(info.test_rows) if info and info.ok else "?"
        groups = str(info.groups) if info and info.ok else "?"
        budget = str(task.param_budget) if task.param_budget else "none"
        print(
            f"{name:{width}} {len(task.features):>8} {len(task.targets):>7} {budget:>6} {train:>6} "
            f"{test:>5} {groups:>6}"
        )
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from sldagent.data import check_data_root

    root = resolve_data_root(args.data_dir)
    bad = 0
    for r in check_data_root(root, tasks=args.tasks or None, strict=False):
        if r.ok:
            print(
                f"ok    {r.task:32} train {r.train_rows:5d}  test {r.test_rows:4d}  "
                f"groups {r.groups}"
            )
        else:
            bad += 1
            print(f"error {r.task:32} {r.error}")
    print(f"{root}: {'all tasks valid' if not bad else f'{bad} task(s) with errors'}")
    return 1 if bad else 0


def cmd_data_pull(args: argparse.Namespace) -> int:
    from sldagent.data import pull_dataset

    to = Path(args.to) if args.to else resolve_data_root(args.data_dir)
    tasks = args.tasks or None
    written = pull_dataset(to, tasks=tasks)
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from sldagent.evaluation import baseline

    root = resolve_data_root(args.data_dir)
    names = args.tasks or list_tasks(root)
    tasks = [load_task(n, root) for n in names]
    results = []
    if not args.json:
        print(f"{'task':32} {'published':>9} {'constants':>9} {'refit':>9} {'fit s':>7}")
    for task in tasks:
        b = baseline(task, root, seed=args.seed)
        results.append(b)
        if not args.json:
            print(
                f"{b.task:32} {fmt(b.published_r2, 3):>9} {fmt(b.constants_r2):>9} "
                f"{fmt(b.refit_r2):>9} {b.fit_seconds:7.2f}",
                flush=True,
            )
    if args.json:
        out = []
        for b in results:
            d = b.to_dict()
            for key in ("published_r2", "constants_r2", "refit_r2"):
                d[key] = json_number(d[key])
            out.append(d)
        print(json.dumps(out, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sldagent.evaluation import evaluate_text
    from sldagent.fitters import FitRecipe

    root = resolve_data_root(args.data_dir)
    task = load_task(args.task, root)
    text: str | dict = args.law
    if len(task.targets) > 1:
        try:
            text = json.loads(args.law)
        except json.JSONDecodeError:
            raise LawError(
                f"task {task.name} has {len(task.targets)} targets: give --law as a "
                "JSON object {target: formula}"
            ) from None
    recipe = FitRecipe(loss=args.loss, log_target=args.log_target, seed=args.seed)
    val, test = evaluate_text(task, root, text, recipe)
    if args.json:
        print(
            json.dumps(
                {
                    "task": task.name,
                    "law": text,
                    "validation_r2": json_number(val),
                    "test_r2": json_number(test),
                }
            )
        )
    else:
        print(f"validation R² {fmt(val)}   test R² {fmt(test)}")
    return 0


def add_parsers(sub) -> None:
    """tasks, data, baseline, evaluate."""
    p = sub.add_parser("tasks", help="list the tasks with row counts, groups and budgets")
    add_data_dir(p)
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("data", help="check or download the benchmark data")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("check", help="validate every task's files under the data root")
    q.add_argument(
        "tasks", nargs="*", metavar="TASK", help="task names or .toml paths (default: all)"
    )
    add_data_dir(q)
    q.set_defaults(func=cmd_data_check)
    q = dsub.add_parser("pull", help="download SLDBench from the Hugging Face Hub (needs internet)")
    add_data_dir(q)
    q.add_argument("--to", help="folder to write (default: the data root)")
    q.add_argument("tasks", nargs="*", help="tasks to fetch (default: all)")
    q.set_defaults(func=cmd_data_pull)

    p = sub.add_parser("baseline", help="the human laws: published, published constants, refit")
    p.add_argument("tasks", nargs="*", metavar="TASK", help="tasks (default: all)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--seed", type=int, default=0)
    add_data_dir(p)
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("evaluate", help="fit your law on train; print validation and test R²")
    p.add_argument("task")
    p.add_argument(
        "--law",
        required=True,
        help="formula in the law language (JSON {target: formula} for several targets)",
    )
    p.add_argument("--loss", default="linear", choices=["linear", "huber", "soft_l1"])
    p.add_argument("--log-target", action="store_true", help="fit in log space of the target")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)
