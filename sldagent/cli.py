"""The command line: `sldagent tasks | data | baseline | evaluate | discover | export`."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sldagent.cluster import CONNECT_TIMEOUT, dask_client
from sldagent.law import LawError
from sldagent.task import DataError, list_tasks, load_task, resolve_data_root


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def _json_number(value: float | None) -> float | None:
    """JSON has no inf/NaN: they become null (the text output still shows them)."""
    if value is None or not math.isfinite(value):
        return None
    return value


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data root (else $SLDAGENT_DATA, else data/experiments)")


def cmd_tasks(args: argparse.Namespace) -> int:
    from sldagent.data import check_data_root

    root = resolve_data_root(args.data_dir)
    rows = {r.task: r for r in check_data_root(root, strict=False)}
    print(
        f"{'task':32} {'features':>8} {'targets':>7} {'budget':>6} {'train':>6} {'test':>5} "
        f"{'groups':>6}"
    )
    for name in list_tasks():
        task = load_task(name)
        info = rows.get(name)
        train = str(info.train_rows) if info and info.ok else "?"
        test = str(info.test_rows) if info and info.ok else "?"
        groups = str(info.groups) if info and info.ok else "?"
        budget = str(task.param_budget) if task.param_budget else "none"
        print(
            f"{name:32} {len(task.features):>8} {len(task.targets):>7} {budget:>6} {train:>6} "
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
    names = args.tasks or list_tasks()
    tasks = [load_task(n) for n in names]
    results = []
    if not args.json:
        print(f"{'task':32} {'published':>9} {'constants':>9} {'refit':>9} {'fit s':>7}")
    for task in tasks:
        b = baseline(task, root, seed=args.seed)
        results.append(b)
        if not args.json:
            print(
                f"{b.task:32} {_fmt(b.published_r2, 3):>9} {_fmt(b.constants_r2):>9} "
                f"{_fmt(b.refit_r2):>9} {b.fit_seconds:7.2f}",
                flush=True,
            )
    if args.json:
        out = []
        for b in results:
            d = b.to_dict()
            for key in ("published_r2", "constants_r2", "refit_r2"):
                d[key] = _json_number(d[key])
            out.append(d)
        print(json.dumps(out, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sldagent.evaluation import evaluate_text
    from sldagent.fitters import FitRecipe

    task = load_task(args.task)
    root = resolve_data_root(args.data_dir)
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
                    "validation_r2": _json_number(val),
                    "test_r2": _json_number(test),
                }
            )
        )
    else:
        print(f"validation R² {_fmt(val)}   test R² {_fmt(test)}")
    return 0


def _run_config(run_dir: Path) -> dict:
    """A run directory's config.json, or a one-line error saying what a run directory is."""
    path = run_dir / "config.json"
    if not path.exists():
        raise ValueError(f"{path} not found: give a run directory made by `sldagent discover`")
    return json.loads(path.read_text())


def _run_dir(args: argparse.Namespace, task_name: str) -> Path:
    if args.run_dir:
        return Path(args.run_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / task_name / f"{stamp}-seed{args.seed}"


def _backend_context(args: argparse.Namespace):
    """A Dask client for `--backend dask --scheduler ADDRESS`; nothing for local backends."""
    if args.scheduler and args.backend != "dask":
        raise ValueError("--scheduler needs --backend dask")
    if args.backend != "dask":
        return contextlib.nullcontext()
    if not args.scheduler:
        raise ValueError("--backend dask needs --scheduler tcp://HOST:PORT (the Dask scheduler)")
    return dask_client(args.scheduler, args.connect_timeout)


def cmd_discover(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sldagent.evaluation import score_best
    from sldagent.search.fitness import SelectionConfig
    from sldagent.search.loop import Search, SearchConfig
    from sldagent.task import load_train

    backend = _backend_context(args)
    root = resolve_data_root(args.data_dir)
    if args.resume:
        run_dir = Path(args.resume)
        saved = _run_config(run_dir)
        task = load_task(saved["task"])
        config = SearchConfig.from_dict(saved["search"])
    else:
        if not args.task:
            raise ValueError("name a TASK (see `sldagent tasks`) or give --resume RUN_DIR")
        task = load_task(args.task)
        run_dir = _run_dir(args, task.name)
        config = SearchConfig(
            budget=args.budget,
            seed=args.seed,
            seed_human=args.seed_human,
            selection=SelectionConfig(),
        )
    train = load_train(task, root)
    jobs = args.jobs if args.jobs else -1
    bar = tqdm(
        total=config.budget,
        desc=task.name,
        unit="cand",
        file=sys.stderr,
        disable=args.quiet,
        dynamic_ncols=True,
    )

    def progress(p) -> None:
        bar.update(p.done - bar.n)
        bar.set_postfix_str(f"best val R² {_fmt(p.best_validation_r2)}", refresh=False)

    search = Search(task, train, config, run_dir)
    try:
        with backend:
            result = search.run(
                jobs=jobs, backend=args.backend, time_limit=args.time_limit, progress=progress
            )
    finally:
        bar.close()
    best = result.best
    test_r2 = score_best(best, task, root)
    human = task.human.published_r2 if task.human else None
    label = " (human law seeded)" if config.seed_human else ""
    print(f"task        {task.name}{label}")
    print(f"law         {best['law']}")
    print(f"latex       {best['latex']}")
    print(f"params      {best['n_params']} per group (budget {task.param_budget or 'none'})")
    print(f"validation  R² {_fmt(best['validation_r2'])}")
    print(f"test        R² {_fmt(test_r2)}   (human law, published: {_fmt(human, 3)})")
    print(f"run         {run_dir}  ({result.candidates} candidates, {result.seconds:.0f}s)")
    if args.json:
        print(
            json.dumps(
                {
                    "task": task.name,
                    "law": best["law"],
                    "n_params": best["n_params"],
                    "validation_r2": _json_number(best["validation_r2"]),
                    "test_r2": _json_number(test_r2),
                    "human_published_r2": human,
                    "run_dir": str(run_dir),
                    "candidates": result.candidates,
                    "seconds": round(result.seconds, 2),
                    "seed_human": config.seed_human,
                }
            )
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sldagent.export import export

    run_dir = Path(args.run_dir)
    saved = _run_config(run_dir)
    text = export(run_dir, args.format, saved["features"], saved["targets"])
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from sldagent.fitters import FitRecipe
    from sldagent.law import parse_law
    from sldagent.search.rehearsal import rehearse, sample_laws
    from sldagent.search.runlog import RunLog
    from sldagent.task import load_train

    run_dir = Path(args.run_dir)
    task = load_task(_run_config(run_dir)["task"])
    train = load_train(task, resolve_data_root(args.data_dir))
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
            print(f"  {name:14} {_fmt(value, 3)}{mark}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sldagent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the tasks with row counts, groups and budgets")
    _add_data_dir(p)
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("data", help="check or download the benchmark data")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("check", help="validate every task's files under the data root")
    q.add_argument(
        "tasks", nargs="*", metavar="TASK", help="task names or .toml paths (default: all)"
    )
    _add_data_dir(q)
    q.set_defaults(func=cmd_data_check)
    q = dsub.add_parser("pull", help="download SLDBench from the Hugging Face Hub (needs internet)")
    _add_data_dir(q)
    q.add_argument("--to", help="folder to write (default: the data root)")
    q.add_argument("tasks", nargs="*", help="tasks to fetch (default: all)")
    q.set_defaults(func=cmd_data_pull)

    p = sub.add_parser("baseline", help="the human laws: published, published constants, refit")
    p.add_argument("tasks", nargs="*", metavar="TASK", help="tasks (default: all)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--seed", type=int, default=0)
    _add_data_dir(p)
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
    _add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("discover", help="search for a law that extrapolates (no LLM needed)")
    p.add_argument("task", nargs="?", help="task name (see `sldagent tasks`)")
    p.add_argument("--budget", type=int, default=300, help="candidates to evaluate (default 300)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop after this many seconds (a run cut by time is not reproducible)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=0, help="parallel workers (default: all cores)")
    p.add_argument("--backend", default="loky", help="joblib backend (default loky; or dask)")
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="with --backend dask: the Dask scheduler whose workers evaluate candidates",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_TIMEOUT,
        help=f"seconds to wait for the Dask scheduler (default {CONNECT_TIMEOUT:g})",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run from its log")
    p.add_argument("--run-dir", help="where to write the run (default runs/TASK/TIME-seedS)")
    p.add_argument(
        "--seed-human",
        action="store_true",
        help="add the task's human law to the initial population (labelled as such)",
    )
    p.add_argument("--json", action="store_true", help="last line of stdout: a JSON summary")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_data_dir(p)
    p.set_defaults(func=cmd_discover)

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
    _add_data_dir(p)
    p.set_defaults(func=cmd_rehearse)

    p = sub.add_parser("export", help="write a run's best law as LaTeX, JSON, sympy or Python")
    p.add_argument("run_dir")
    p.add_argument("--format", required=True, choices=["latex", "json", "python", "sympy"])
    p.add_argument("--out", help="file to write (default: stdout)")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line on stderr and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, LawError, ValueError) as err:
        print(f"sldagent: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"sldagent: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sldagent: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
