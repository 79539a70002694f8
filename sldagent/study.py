"""`sldagent study`: measure selection rules on a suite of tasks x seeds.

Every task x seed is a `discover` run, made (or reused, or resumed) exactly as `sldagent
benchmark` makes them (sldagent.benchmark.run_all, OUT/runs/<task>/seed<S>). Only once all runs
have ended does the study open test rows, through sldagent.evaluation: for each run, each
registered selection rule (sldagent/search/rules.py) picks one of the run's logged candidates
from what the run logged on training rows, and that law is scored on the test rows. Output: a
table (task x rule: clipped test R², mean over seeds), and per rule the corpus mean,
wins/ties/losses against the shipped rule and a seeded paired bootstrap 95% interval of the
mean difference over tasks.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from sldagent import __version__
from sldagent.benchmark import BenchmarkConfig, RunOutcome, run_all
from sldagent.evaluation import score_choices, score_refit
from sldagent.metrics import clip_r2
from sldagent.search.refit_rules import REFIT_RULES
from sldagent.search.rules import RULES, describe, run_view
from sldagent.search.runlog import RunLog
from sldagent.task import Task, list_tasks, load_task, load_train
from sldagent.task_json import TASK_JSON, paper_baselines, task_json_names

SUITES = ("devbench", "sldbench", "both")
TIE = 1e-6  # |mean clipped R² difference| at or below this is a tie
RESAMPLES = 10_000
ALL_RULES = {**RULES, **REFIT_RULES}


@dataclass(frozen=True)
class StudyConfig:
    """What to run and score; the runs' search settings follow from (budget, seed)."""

    tasks: tuple[tuple[Task, Path], ...]  # each task with its data root
    out: Path = Path("study")
    seeds: int = 3
    budget: int = 300
    jobs: int = 1
    rules: tuple[str, ...] = tuple(ALL_RULES)
    bootstrap_seed: int = 0

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.budget < 1:
            raise ValueError("--seeds and --budget must be >= 1")
        unknown = [r for r in self.rules if r not in ALL_RULES]
        if unknown:
            known = ", ".join(ALL_RULES)
            raise ValueError(f"--rules: unknown rule {unknown[0]!r}; known: {known}")
        if "shipped" not in self.rules:
            raise ValueError("--rules must include 'shipped' (the rule the others are paired with)")
        names = [t.name for t, _ in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError("the suite names a task twice")


def suite_tasks(spec: str, devbench: Path | None, sldbench: Path) -> tuple[tuple[Task, Path], ...]:
    """'devbench', 'sldbench', 'both', or TASK,TASK (a devbench name if --devbench has it,
    else a shipped task name or a task file), each with its data root."""
    spec = spec.strip()
    out: list[tuple[Task, Path]] = []
    if spec in ("devbench", "both"):
        names = task_json_names(devbench) if devbench is not None else []
        if not names:
            raise ValueError(
                f"--suite {spec}: no task.json tasks under {devbench}; give --devbench DIR "
                "(the development corpus, e.g. ../shared/devbench)"
            )
        out += [(load_task(n, devbench), devbench) for n in names]
    if spec in ("sldbench", "both"):
        out += [(load_task(n), sldbench) for n in list_tasks()]
    if spec not in SUITES:
        names = [s.strip() for s in spec.split(",") if s.strip()]
        if not names:
            raise ValueError("--suite: give devbench, sldbench, both, or TASK,TASK")
        for name in names:
            if devbench is not None and (devbench / name / TASK_JSON).is_file():
                out.append((load_task(name, devbench), devbench))
            else:
                out.append((load_task(name, sldbench), sldbench))
    return tuple(out)


def run_suite(config: StudyConfig, stream: TextIO | None = sys.stderr) -> list[RunOutcome]:
    """Every task x seed, made or reused as `sldagent benchmark` does; all have ended on return."""
    outcomes = []
    roots = list(dict.fromkeys(root for _, root in config.tasks))
    for root in roots:
        tasks = [t for t, r in config.tasks if r == root]
        bench = BenchmarkConfig(
            tasks=tuple(t.name for t in tasks),
            data_root=root,
            out=config.out,
            seeds=config.seeds,
            budget=config.budget,
            jobs=config.jobs,
        )
        outcomes += run_all(bench, tasks, stream)
    return outcomes


def score_run(outcome: RunOutcome, root: Path, rules: Sequence[str]) -> dict[str, dict]:
    """For one ended run: each rule's chosen candidate and its test R² (through evaluation)."""
    run_dir = outcome.run_dir
    if not (run_dir / "best.json").is_file():
        raise ValueError(f"{run_dir}: the run has not ended (no best.json); run it first")
    best = json.loads((run_dir / "best.json").read_text())
    records = RunLog(run_dir / "candidates.jsonl").read()
    saved = json.loads((run_dir / "config.json").read_text())
    weight = saved["search"]["selection"]["complexity_weight"]
    train = load_train(outcome.task, root)
    rows = len(train) / max(1, train.frame[outcome.task.group].nunique())
    view = run_view(best, records, weight, rows)
    chosen = {rule: RULES[rule](view) for rule in rules if rule in RULES}
    refits = {rule: REFIT_RULES[rule](view, train) for rule in rules if rule in REFIT_RULES}
    by_id = {r["id"]: r for r in records}
    ids = list(chosen.values()) + [p.id for p in refits.values() if p.fit_rows is None]
    scores = score_choices(outcome.task, root, best, by_id, ids)
    test_r2 = {rule: scores[cid] for rule, cid in chosen.items()}
    for rule, pick in refits.items():
        chosen[rule] = pick.id
        test_r2[rule] = (
            scores[pick.id]
            if pick.fit_rows is None
            else score_refit(outcome.task, root, by_id[pick.id], pick.fit_rows)
        )
    return {
        rule: {
            "id": chosen[rule],
            "law": by_id[chosen[rule]]["law"],
            "n_params": by_id[chosen[rule]]["n_params"],
            "refit": rule in refits and refits[rule].fit_rows is not None,
            "test_r2": test_r2[rule] if math.isfinite(test_r2[rule]) else None,
        }
        for rule in rules
    }


def paired_interval(diffs: Sequence[float], seed: int, resamples: int = RESAMPLES):
    """Seeded paired bootstrap 95% interval of the mean of per-task differences."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return (float(d.mean()), float(d.mean())) if len(d) else (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def summarize(records: list[dict], rules: Sequence[str], seed: int) -> dict:
    """Per task and rule the mean clipped test R² over seeds; per rule the corpus mean, W/T/L
    against 'shipped' and the paired bootstrap interval of the mean difference."""
    tasks = list(dict.fromkeys(r["task"] for r in records))
    cell: dict[str, dict[str, dict]] = {t: {} for t in tasks}
    for t in tasks:
        runs = sorted((r for r in records if r["task"] == t), key=lambda r: r["seed"])
        for rule in rules:
            values = [clip_r2(_r2(r["rules"][rule]["test_r2"])) for r in runs]
            same = sum(
                r["rules"][rule]["id"] == r["rules"]["shipped"]["id"]
                and not r["rules"][rule].get("refit")
                for r in runs
            )
            cell[t][rule] = {"mean": statistics.fmean(values), "seeds": values, "same": same}
    summary = {}
    for rule in rules:
        diffs = [cell[t][rule]["mean"] - cell[t]["shipped"]["mean"] for t in tasks]
        summary[rule] = {
            "mean": statistics.fmean(cell[t][rule]["mean"] for t in tasks),
            "diff": statistics.fmean(diffs),
            "wins": sum(d > TIE for d in diffs),
            "ties": sum(abs(d) <= TIE for d in diffs),
            "losses": sum(d < -TIE for d in diffs),
            "interval": paired_interval(diffs, seed),
        }
    return {"tasks": cell, "rules": summary}


def _r2(value: float | None) -> float:
    return -math.inf if value is None else value  # a non-finite R² counts as -inf (clip: -1)


def study(config: StudyConfig, stream: TextIO | None = sys.stderr, command: str = "") -> dict:
    """Run (or reuse) every task x seed, then score every rule's choice; returns study.json."""
    start = time.monotonic()
    outcomes = run_suite(config, stream)  # every run has ended before any test row is opened
    roots = {t.name: root for t, root in config.tasks}
    records = []
    for o in outcomes:
        if stream is not None:
            print(f"scoring {o.task.name} seed {o.seed}", file=stream, flush=True)
        records.append(
            {
                "task": o.task.name,
                "seed": o.seed,
                "run_dir": str(o.run_dir),
                "reused": o.reused,
                "rules": score_run(o, roots[o.task.name], config.rules),
            }
        )
    baselines = {
        t.name: [b.__dict__ for b in paper_baselines(t)] for t, _ in config.tasks if t.path
    }
    result = {
        "sldagent_version": __version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command,
        "config": {
            "tasks": {t.name: str(root) for t, root in config.tasks},
            "seeds": config.seeds,
            "budget": config.budget,
            "rules": list(config.rules),
            "bootstrap_seed": config.bootstrap_seed,
        },
        "seconds": round(time.monotonic() - start, 1),
        "runs": records,
        "summary": summarize(records, config.rules, config.bootstrap_seed),
        "paper_baselines": {k: v for k, v in baselines.items() if v},
    }
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "study.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def markdown(result: dict) -> str:
    """SELECTION.md: the rules' summary, the task x rule table, the paper baselines."""
    cfg, summary = result["config"], result["summary"]
    rules, tasks = cfg["rules"], list(summary["tasks"])
    lines = [
        "# Selection rules on a suite of tasks",
        "",
        f"Written by `{result['command'] or 'sldagent study'}` (sldagent "
        f"{result['sldagent_version']}, {result['created']}): {len(tasks)} tasks x "
        f"{cfg['seeds']} seeds, budget {cfg['budget']}, symbolic proposer, no LLM. Each rule picks"
        " one logged candidate of each run from what the run logged on training rows; the pick is"
        " scored once on the task's test rows. R² is clipped to [-1, 1] per run, then averaged "
        f"over seeds; a tie is a difference of at most {TIE:g}; the interval is a paired "
        f"bootstrap over tasks ({RESAMPLES} resamples, seed {cfg['bootstrap_seed']}).",
        "",
        "| rule | what it does | corpus mean | mean diff vs shipped | W/T/L vs shipped | "
        "95% interval of the diff |",
        "|---|---|---|---|---|---|",
    ]
    for rule in rules:
        s = summary["rules"][rule]
        lo, hi = s["interval"]
        lines.append(
            f"| {rule} | {describe(ALL_RULES[rule])} | {s['mean']:.3f} | {s['diff']:+.3f} | "
            f"{s['wins']}/{s['ties']}/{s['losses']} | [{lo:+.3f}, {hi:+.3f}] |"
        )
    lines += [
        "",
        "## Per task",
        "",
        "Mean clipped test R² over seeds (per-seed values; runs where the rule picked the shipped"
        " law).",
        "",
        "| task | rule | mean | seeds | same as shipped |",
        "|---|---|---|---|---|",
    ]
    for t in tasks:
        for rule in rules:
            c = summary["tasks"][t][rule]
            seeds = ", ".join(f"{v:.3f}" for v in c["seeds"])
            lines.append(
                f"| {t} | {rule} | {c['mean']:.3f} | {seeds} | {c['same']}/{len(c['seeds'])} |"
            )
    if result.get("paper_baselines"):
        lines += [
            "",
            "## The source papers' baselines (from task.json, as published there)",
            "",
            "Test R² as task.json gives it (fitted train-only by the corpus author); the law"
            " text is checked by sldagent's whitelist parser, and a baseline whose text it"
            " rejects, or whose free constants differ from the source's count, is noted.",
            "",
            "| task | baseline | published test R² | parsed |",
            "|---|---|---|---|",
        ]
        for t, entries in result["paper_baselines"].items():
            for b in entries:
                r2 = "—" if b["published_r2"] is None else f"{b['published_r2']:.3f}"
                parsed = "yes" if b["law"] else b["note"]
                lines.append(f"| {t} | {b['name']} | {r2} | {parsed} |")
    return "\n".join(lines) + "\n"
