"""The command line: `sldagent tasks | data | baseline | evaluate | discover | init-task | export
| rehearse | predict | holdout | benchmark`."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
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


def _add_csv_task(p: argparse.ArgumentParser) -> None:
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


def _custom_task(args: argparse.Namespace):
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
    from sldagent.custom_task import run_config

    return run_config(run_dir)


def _run_dir(args: argparse.Namespace, task_name: str) -> Path:
    if args.run_dir:
        return Path(args.run_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / task_name / f"{stamp}-seed{args.seed}"


# discover's LLM client flags -> ClientSettings fields (on --resume, a flag overrides the saved
# value; without the flag the saved value stands)
_CLIENT_FLAGS = {
    "request_timeout": "timeout",
    "retries": "retries",
    "retry_delay": "retry_delay",
    "price_in": "price_in",
    "price_out": "price_out",
    "max_cost": "max_cost",
    "max_total_tokens": "max_total_tokens",
}


def _llm_config(args: argparse.Namespace):
    """The LLM settings that shape the search (None for the symbolic proposer)."""
    from sldagent.search.llm import LLMConfig

    if args.proposer in (None, "symbolic"):
        if args.model:
            raise ValueError("--model is for --proposer llm or mix")
        return None
    if not args.model:
        raise ValueError(f"--proposer {args.proposer} needs --model (the LLM to ask)")
    given = {"temperature": args.temperature, "max_tokens": args.max_tokens}
    return LLMConfig(model=args.model, **{k: v for k, v in given.items() if v is not None})


def _chat_client(args: argparse.Namespace, config, saved: dict | None, run_dir: Path):
    """The chat client of an LLM run: flags, else the run's saved settings, else defaults;
    the key comes from $OPENAI_API_KEY only and is never written anywhere."""
    from sldagent.llm_client import ChatClient, ClientSettings

    if config.proposer == "symbolic":
        return None
    old = dict((saved or {}).get("llm_client") or {})
    fields = {}
    for flag, name in _CLIENT_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            fields[name] = value
        elif name in old:
            fields[name] = old[name]
    base_url = args.base_url or old.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None
    replay = bool(args.replay) or bool(old.get("replay", False))
    settings = ClientSettings(base_url=base_url, replay=replay, **fields)
    run_dir.mkdir(parents=True, exist_ok=True)
    return ChatClient(
        settings,
        run_dir / "llm_cache.jsonl",
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        seed=config.seed,
    )


def _replay_source(source: Path, run_dir: Path) -> dict:
    """The saved config of the run to replay; its LLM cache is copied into the new run."""
    saved = _run_config(source)
    cache = source / "llm_cache.jsonl"
    if not cache.is_file():
        raise ValueError(f"{cache} not found: --replay needs a run made with --proposer llm or mix")
    if run_dir.resolve() == source.resolve():
        raise ValueError("--replay writes a new run: give another --run-dir than the replayed run")
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "llm_cache.jsonl").exists():
        shutil.copyfile(cache, run_dir / "llm_cache.jsonl")
    return saved


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

    from sldagent.custom_task import run_task, write_run_task
    from sldagent.evaluation import score_best, test_rows
    from sldagent.llm_client import LLMUnavailable
    from sldagent.search.fitness import SelectionConfig
    from sldagent.search.loop import Search, SearchConfig
    from sldagent.task import load_train

    backend = _backend_context(args)
    root = resolve_data_root(args.data_dir)
    saved = None
    if args.resume and args.replay:
        raise ValueError("give --resume RUN_DIR or --replay RUN_DIR, not both")
    if args.resume:
        run_dir = Path(args.resume)
        saved = _run_config(run_dir)
        task = run_task(run_dir)
        config = SearchConfig.from_dict(saved["search"])
    elif args.replay:
        task = run_task(Path(args.replay))
        run_dir = _run_dir(args, task.name)
        saved = _replay_source(Path(args.replay), run_dir)
        config = SearchConfig.from_dict(saved["search"])
        if task.source is not None:
            write_run_task(task, run_dir)
    else:
        task = _custom_task(args)
        if task is None and not args.task:
            raise ValueError(
                "name a TASK (see `sldagent tasks`), give --csv FILE or --demo, "
                "or give --resume RUN_DIR"
            )
        task = task or load_task(args.task)
        run_dir = _run_dir(args, task.name)
        write_run_task(task, run_dir)
        config = SearchConfig(
            budget=args.budget,
            seed=args.seed,
            seed_human=args.seed_human,
            selection=SelectionConfig(),
            proposer=args.proposer or "symbolic",
            llm_share=args.llm_share,
            llm=_llm_config(args),
        )
    train = load_train(task, root)
    chat = _chat_client(args, config, saved, run_dir)
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
        if p.stage != "search":
            bar.set_postfix_str(p.stage, refresh=True)
            return
        spent = f", LLM {p.llm_tokens / 1000:.1f}k tok ${p.llm_cost:.3f}" if chat else ""
        bar.set_postfix_str(f"best val R² {_fmt(p.best_validation_r2)}{spent}", refresh=False)

    search = Search(task, train, config, run_dir, chat)
    try:
        with backend:
            result = search.run(
                jobs=jobs, backend=args.backend, time_limit=args.time_limit, progress=progress
            )
    except LLMUnavailable as err:
        raise LLMUnavailable(
            f"{err}; the run's log is intact: continue with `sldagent discover --resume {run_dir}`"
        ) from None
    finally:
        bar.close()
    best = result.best
    has_test = task.source is None or task.source.extrapolate is not None
    test_r2 = score_best(best, task, root) if has_test else None
    human = task.human.published_r2 if task.human else None
    truth = None
    if getattr(args, "demo", False):
        from sldagent.demo import true_law_r2

        truth = true_law_r2(test_rows(task, root))
    label = " (human law seeded)" if config.seed_human else ""
    print(f"task        {task.name}{label}")
    print(f"law         {best['law']}")
    print(f"latex       {best['latex']}")
    print(f"params      {best['n_params']} per group (budget {task.param_budget or 'none'})")
    print(f"validation  R² {_fmt(best['validation_r2'])}")
    if task.human:
        print(f"test        R² {_fmt(test_r2)}   (human law, published: {_fmt(human, 3)})")
    elif has_test:
        rule = task.source.extrapolate.text
        print(f"test        R² {_fmt(test_r2)}   (held-out rows {rule}; no human law)")
    else:
        print("test        —   (no held-out rows: give --extrapolate to hold some out)")
    if truth is not None:
        print(f"true law    R² {_fmt(truth)}   (the formula that generated the demo data)")
    print(f"run         {run_dir}  ({result.candidates} candidates, {result.seconds:.0f}s)")
    if chat is not None:
        u = chat.usage
        print(
            f"LLM         {u.requests} requests, {u.prompt_tokens} prompt + "
            f"{u.completion_tokens} completion tokens, ${chat.cost:.4f}"
        )
    if result.stopped:
        print(f"stopped     {result.stopped}")
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
                    "true_law_test_r2": _json_number(truth),
                    "run_dir": str(run_dir),
                    "candidates": result.candidates,
                    "seconds": round(result.seconds, 2),
                    "seed_human": config.seed_human,
                    "proposer": config.proposer,
                    "stopped": result.stopped,
                    "llm_usage": chat.usage_dict() if chat is not None else None,
                }
            )
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sldagent.export import export, latex_table

    run_dir = Path(args.run_dir)
    if args.format == "latex-table":
        text = latex_table(run_dir)
    else:
        saved = _run_config(run_dir)
        text = export(run_dir, args.format, saved["features"], saved["targets"])
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


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


def cmd_init_task(args: argparse.Namespace) -> int:
    from sldagent.custom_task import task_toml

    if not args.csv:
        raise ValueError("init-task needs --csv FILE (plus --features and --target)")
    sys.stdout.write(task_toml(_custom_task(args)))
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
    _run_config(run_dir)
    task = run_task(run_dir)
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


def cmd_holdout(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sldagent.search.holdout import holdout
    from sldagent.search.loop import SearchConfig
    from sldagent.task import load_train

    task = load_task(args.task)
    train = load_train(task, resolve_data_root(args.data_dir))
    run_dir = _run_dir(args, task.name + "-holdout")
    config = SearchConfig(budget=args.budget, seed=args.seed)
    res = holdout(train, config, run_dir, jobs=args.jobs or -1)
    if args.json:
        print(
            json.dumps(
                {k: _json_number(v) if isinstance(v, float) else v for k, v in asdict(res).items()}
                | {"run_dir": str(run_dir)}
            )
        )
    else:
        print(f"{task.name}: search on train minus its validation slice, scored on that slice")
        print(f"  chosen law        R² {_fmt(res.chosen_r2)}   {res.chosen_law}")
        print(f"  human law (refit) R² {_fmt(res.human_r2)}")
        print(f"  run {run_dir}  ({res.candidates} candidates, {res.seconds:.0f}s)")
    return 0


def _add_llm_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "LLM proposer (any OpenAI-compatible server; the key comes from $OPENAI_API_KEY)"
    )
    g.add_argument(
        "--proposer",
        choices=["symbolic", "llm", "mix"],
        default=None,
        help="who proposes laws (default symbolic: no LLM)",
    )
    g.add_argument(
        "--llm-share",
        type=float,
        default=0.5,
        help="mix: share of each generation's slots the LLM fills (default 0.5)",
    )
    g.add_argument("--model", help="model name as the server knows it")
    g.add_argument(
        "--base-url", help="server URL, e.g. http://localhost:8000/v1 (else $OPENAI_BASE_URL)"
    )
    g.add_argument("--temperature", type=float, default=None, help="sampling temperature (0.8)")
    g.add_argument("--max-tokens", type=int, default=None, help="tokens per reply (4096)")
    g.add_argument("--request-timeout", type=float, default=None, help="seconds per request (120)")
    g.add_argument("--retries", type=int, default=None, help="retries on timeouts, 429 and 5xx (6)")
    g.add_argument(
        "--retry-delay",
        type=float,
        default=None,
        help="first backoff in seconds, doubled every retry, with jitter (2)",
    )
    g.add_argument("--price-in", type=float, default=None, help="USD per 1M prompt tokens (0)")
    g.add_argument("--price-out", type=float, default=None, help="USD per 1M completion tokens (0)")
    g.add_argument("--max-cost", type=float, default=None, help="stop the run at this many USD")
    g.add_argument(
        "--max-total-tokens", type=int, default=None, help="stop the run at this many tokens"
    )
    g.add_argument(
        "--replay",
        metavar="RUN_DIR",
        help="re-run an LLM run from its cached replies (no server) into a new --run-dir",
    )


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
    p.add_argument("task", nargs="?", help="task name (see `sldagent tasks`) or a task .toml")
    p.add_argument(
        "--demo",
        action="store_true",
        help="run on the built-in generated example (Chinchilla-like, true law known)",
    )
    _add_csv_task(p)
    p.add_argument("--budget", type=int, default=300, help="candidates to evaluate (default 300)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop after this many seconds (a run cut by time is not reproducible)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=0, help="parallel workers (default: all cores)")
    p.add_argument(
        "--backend",
        default="loky",
        choices=["loky", "threading", "multiprocessing", "sequential", "dask"],
        help="joblib backend (default loky; dask needs --scheduler)",
    )
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
    _add_llm_arguments(p)
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser(
        "init-task",
        help="write a custom task over your CSV as TOML (for `sldagent discover FILE.toml`)",
    )
    _add_csv_task(p)
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
    _add_data_dir(p)
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
    _add_data_dir(p)
    p.set_defaults(func=cmd_holdout)

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
    _add_data_dir(p)
    p.set_defaults(func=cmd_benchmark)

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
    _add_data_dir(p)
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
