"""`sldagent benchmark`: discover on every task x seed, score each best law once on the sealed
test rows (through sldagent.evaluation), score the baselines, hand everything to the report.

Runs live in OUT/runs/<task>/seed<S>/. A run with best.json is finished and reused untouched; a
run with only a log is resumed by the search's own replay; a run's wall time is accumulated in
its wall_time.json (segments that ended normally or by Ctrl-C; a SIGKILLed segment is lost).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sldagent import __version__
from sldagent.evaluation import baseline, score_best, score_predictor
from sldagent.published import published_sldagent
from sldagent.search.fitness import SelectionConfig
from sldagent.search.loop import Search, SearchConfig
from sldagent.search.runlog import RunLog
from sldagent.srbaseline import SRConfig, SRModel, fit_sr, predictor
from sldagent.task import Task, list_tasks, load_task, load_train

PROPOSERS = ("symbolic",)
WALL_TIME = "wall_time.json"


@dataclass(frozen=True)
class BenchmarkConfig:
    """What to run; the search settings of every run follow from (budget, seed, proposer)."""

    tasks: tuple[str, ...]  # task names or TOML paths
    data_root: Path
    out: Path = Path("report")
    seeds: int = 5
    budget: int = 300
    proposer: str = "symbolic"
    jobs: int = 1
    backend: str = "loky"
    sr: SRConfig = field(default_factory=SRConfig)

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.budget < 1:
            raise ValueError("--seeds and --budget must be >= 1")
        if self.proposer not in PROPOSERS:
            raise ValueError(
                f"unknown proposer {self.proposer!r}; choose one of {', '.join(PROPOSERS)}"
            )


def parse_tasks(spec: str) -> tuple[str, ...]:
    """'all' or a comma-separated list of task names / TOML paths."""
    if spec.strip() == "all":
        return tuple(list_tasks())
    names = tuple(s.strip() for s in spec.split(",") if s.strip())
    if not names:
        raise ValueError("--tasks: give 'all' or task names separated by commas")
    return names


def load_tasks(specs: Sequence[str]) -> list[Task]:
    tasks = [load_task(s) for s in specs]
    seen: set[str] = set()
    for t in tasks:
        if t.name in seen:
            raise ValueError(f"--tasks names task {t.name!r} twice")
        seen.add(t.name)
    return tasks


def run_dir_of(out: Path, task: str, seed: int) -> Path:
    return Path(out) / "runs" / task / f"seed{seed}"


def search_config(config: BenchmarkConfig, seed: int) -> SearchConfig:
    """The same settings `sldagent discover --budget B --seed S` uses."""
    return SearchConfig(budget=config.budget, seed=seed, selection=SelectionConfig())


@dataclass(frozen=True)
class RunOutcome:
    """One finished discover run of the benchmark."""

    task: Task
    seed: int
    run_dir: Path
    best: dict
    reused: bool


def _check_finished(run_dir: Path, wanted: SearchConfig, proposer: str) -> None:
    saved = json.loads((run_dir / "config.json").read_text())
    if (
        saved.get("search") != json.loads(json.dumps(wanted.to_dict()))
        or saved.get("proposer", "symbolic") != proposer
    ):
        search = saved.get("search", {})
        raise ValueError(
            f"{run_dir}/config.json: the run was made with other search settings (budget "
            f"{search.get('budget')}, seed {search.get('seed')}, proposer "
            f"{saved.get('proposer')}, or another version's defaults) than this benchmark asks "
            "for; use another --out or remove that run"
        )


def _add_wall_time(run_dir: Path, seconds: float) -> None:
    path = run_dir / WALL_TIME
    old = json.loads(path.read_text()) if path.exists() else {"seconds": 0.0, "segments": 0}
    new = {"seconds": round(old["seconds"] + seconds, 3), "segments": old["segments"] + 1}
    path.write_text(json.dumps(new) + "\n")


def run_all(
    config: BenchmarkConfig, tasks: Sequence[Task], stream: TextIO | None = sys.stderr
) -> list[RunOutcome]:
    """Every task x seed, seed-major (an interrupted benchmark has whole seeds done first);
    one overall progress bar in candidates on `stream` (None: no bar)."""
    from tqdm import tqdm

    plan = [(t, s) for s in range(config.seeds) for t in tasks]
    bar = tqdm(
        total=len(plan) * config.budget,
        desc="benchmark",
        unit="cand",
        file=stream,
        disable=stream is None,
        dynamic_ncols=True,
    )
    outcomes = []
    try:
        for i, (task, seed) in enumerate(plan):
            base = i * config.budget
            outcomes.append(_one_run(config, task, seed, bar, base))
            bar.update(base + config.budget - bar.n)
    finally:
        bar.close()
    return outcomes


def _one_run(config: BenchmarkConfig, task: Task, seed: int, bar, base: int) -> RunOutcome:
    run_dir = run_dir_of(config.out, task.name, seed)
    wanted = search_config(config, seed)
    if (run_dir / "best.json").exists():
        _check_finished(run_dir, wanted, config.proposer)
        best = json.loads((run_dir / "best.json").read_text())
        return RunOutcome(task, seed, run_dir, best, reused=True)
    train = load_train(task, config.data_root)
    bar.set_postfix_str(f"{task.name} seed {seed}", refresh=False)

    def progress(p) -> None:
        bar.update(base + p.done - bar.n)

    start = time.monotonic()
    try:
        result = Search(task, train, wanted, run_dir).run(
            jobs=config.jobs, backend=config.backend, progress=progress
        )
    finally:
        if (run_dir / "config.json").exists():
            _add_wall_time(run_dir, time.monotonic() - start)
    return RunOutcome(task, seed, run_dir, result.best, reused=False)


# ----------------------------------------------------------------- scoring


def llm_usage(run_dir: Path) -> dict | None:
    """Token usage a run recorded in its config.json (any table with total_tokens), else None
    (the symbolic proposer uses no LLM)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None

    def find(node):
        if isinstance(node, dict):
            if "total_tokens" in node:
                return node
            for value in node.values():
                hit = find(value)
                if hit is not None:
                    return hit
        return None

    return find(json.loads(path.read_text()))


def _number(value: float | None) -> float | None:
    """JSON has no infinities: a non-finite R² (the law predicted inf/NaN) is written as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def run_record(outcome: RunOutcome, config: BenchmarkConfig) -> dict:
    """results.json object of one run, with its test R² (scored once, here)."""
    run_dir = outcome.run_dir
    best = outcome.best
    wall = run_dir / WALL_TIME
    saved = json.loads((run_dir / "config.json").read_text())
    evals = sum(float(r.get("seconds") or 0.0) for r in RunLog(run_dir / "candidates.jsonl").read())
    return {
        "kind": "sldagent",
        "task": outcome.task.name,
        "seed": outcome.seed,
        "proposer": saved.get("proposer", "symbolic"),
        "law": best["law"],
        "latex": best["latex"],
        "n_params": best["n_params"],
        "complexity": best["complexity"],
        "validation_r2": _number(best["validation_r2"]),
        "test_r2": _number(score_best(best, outcome.task, config.data_root)),
        "seconds": json.loads(wall.read_text())["seconds"] if wall.exists() else None,
        "eval_seconds": round(evals, 3),
        "candidates": best.get("candidates"),
        "budget": config.budget,
        "reused": outcome.reused,
        "run_dir": str(run_dir.relative_to(config.out)),
        "llm": llm_usage(run_dir),
    }


def _sr_model(task: Task, config: BenchmarkConfig) -> SRModel:
    """The SR baseline, cached in OUT/sr/<task>.json for the same settings (it is seeded)."""
    path = Path(config.out) / "sr" / f"{task.name}.json"
    settings = {"sr": config.sr.to_dict(), "version": __version__}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("settings") == settings:
            return SRModel.from_dict(saved["model"])
    model = fit_sr(load_train(task, config.data_root), config.sr)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"settings": settings, "model": model.to_dict()}, indent=2) + "\n")
    return model


def baseline_records(task: Task, config: BenchmarkConfig) -> list[dict]:
    """results.json objects of the baselines: human law (published, published constants,
    refit by us), the SR baseline, SLDAgent's published numbers."""
    out = []
    if task.human is not None:
        b = baseline(task, config.data_root)
        out.append(
            {
                "kind": "human_published",
                "task": task.name,
                "test_r2": b.published_r2,
                "source": task.human.citation,
            }
        )
        if b.constants_r2 is not None:
            out.append(
                {
                    "kind": "human_constants",
                    "task": task.name,
                    "test_r2": _number(b.constants_r2),
                    "constants": task.human.constants,
                }
            )
        out.append(
            {
                "kind": "human_refit",
                "task": task.name,
                "law": b.law,
                "n_params": len(task.human.params),
                "test_r2": _number(b.refit_r2),
                "seconds": round(b.fit_seconds, 3),
                "constants": b.refit_constants,
            }
        )
    sr = _sr_model(task, config)
    r2 = score_predictor(task, config.data_root, predictor(task, sr)) if sr.method else None
    out.append(
        {
            "kind": "sr",
            "task": task.name,
            "method": sr.method,
            "note": sr.note,
            "test_r2": _number(r2),
            "seconds": round(sr.seconds, 3),
            "formulas": sr.formulas,
            "nodes": sr.nodes,
            "settings": config.sr.to_dict(),
        }
    )
    for source, entry in published_sldagent(task.name).items():
        out.append({"kind": "published_sldagent", "task": task.name, "source": source} | entry)
    return out


def benchmark(
    config: BenchmarkConfig, stream: TextIO | None = sys.stderr, command: str = ""
) -> dict:
    """Run, score and write the report; returns what results.json holds."""
    from sldagent.report import write_report

    tasks = load_tasks(config.tasks)
    start = time.monotonic()
    outcomes = run_all(config, tasks, stream)
    records = [run_record(o, config) for o in outcomes]
    for task in tasks:
        if stream is not None:
            print(f"baselines: {task.name}", file=stream, flush=True)
        records.extend(baseline_records(task, config))
    results = {
        "sldagent_version": __version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command,
        "config": {
            "tasks": [t.name for t in tasks],
            "task_files": {t.name: str(t.path) for t in tasks},
            "seeds": config.seeds,
            "budget": config.budget,
            "proposer": config.proposer,
            "jobs": config.jobs,
            "data_root": str(config.data_root),
            "sr": config.sr.to_dict(),
        },
        "search_seconds": round(
            sum(r["seconds"] or 0.0 for r in records if r["kind"] == "sldagent"), 1
        ),
        "invocation_seconds": round(time.monotonic() - start, 1),
        "results": records,
    }
    write_report(config.out, results)
    return results
