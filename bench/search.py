"""Search throughput: candidates evaluated per second by `discover` on each task."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from joblib import Parallel, delayed

from sldagent.search.loop import Search, SearchConfig
from sldagent.task import load_task, load_train


@dataclass(frozen=True)
class SearchTiming:
    task: str
    jobs: int
    candidates: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.candidates / self.seconds


def _load_search_modules() -> None:
    import sldagent.search.loop  # noqa: F401


def warm_workers(jobs: int) -> None:
    """Start the worker pool and import the search in it, so a timing is not its start-up."""
    if jobs > 1:
        Parallel(n_jobs=jobs)(delayed(_load_search_modules)() for _ in range(jobs))


def measure(task_name: str, root: Path, budget: int, jobs: int, seed: int = 0) -> SearchTiming:
    """Wall time of Search.run (proposals, fits, log, final refit) with `jobs` workers."""
    task = load_task(task_name)
    train = load_train(task, root)
    warm_workers(jobs)
    with tempfile.TemporaryDirectory() as tmp:
        search = Search(task, train, SearchConfig(budget=budget, seed=seed), Path(tmp) / "run")
        start = time.perf_counter()
        result = search.run(jobs=jobs)
        seconds = time.perf_counter() - start
    return SearchTiming(task_name, jobs, result.candidates, seconds)
