"""The discovery loop: propose -> parse -> de-duplicate -> fit on folds -> score -> insert.

Deterministic by construction: generation g's proposals come from a generator seeded with
(seed, g, slot) and the population state after generation g-1; evaluation runs in parallel
(joblib) but results are inserted in proposal order. Every evaluated candidate is appended to
candidates.jsonl as it completes; resuming replays the log instead of re-evaluating.
Proposers: the symbolic one, an LLM (search/llm.py) or a mix; LLM replies come from the run's
cache (llm_cache.jsonl) when it has them, so a resumed or replayed run sees the same proposals.
The search sees training rows only (DESIGN invariant 1): it never imports the evaluation module.

The stages live in their own modules, in the order of the data: search/proposal.py (what is
evaluated), search/candidates.py (its log record), search/finish.py (the final choice and
best.json); search/rundir.py keeps config.json. This module runs them and re-exports the
search's public names.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from sldagent.custom_task import write_run_task
from sldagent.fitters import FitRecipe
from sldagent.law import Law
from sldagent.llm_client import ChatClient, LLMUnavailable, ProposerStopped
from sldagent.search.candidates import TIMING_FIELDS, candidate_record, check_replay
from sldagent.search.choice import judging_rows
from sldagent.search.config import PROPOSERS, Progress, SearchConfig, SearchResult
from sldagent.search.finish import best_summary, final_choice, nothing_fitted, write_best
from sldagent.search.fitness import Evaluation, SelectionConfig, evaluate
from sldagent.search.folds import (
    Fold,
    group_subset,
    rehearsal_folds,
    restrict_groups,
    with_far_fold,
)
from sldagent.search.llm import LLMProposer
from sldagent.search.population import Population
from sldagent.search.proposal import MIX_STREAM, Proposer
from sldagent.search.rundir import data_fingerprint, run_config, usage, write_config, write_usage
from sldagent.search.runlog import CANDIDATE_KEYS, RunLog, run_lock
from sldagent.search.workers import worker_options
from sldagent.task import Dataset, Task

__all__ = [
    "MIX_STREAM",
    "PROPOSERS",
    "TIMING_FIELDS",
    "Progress",
    "Search",
    "SearchConfig",
    "SearchResult",
    "data_fingerprint",
]


def _job(
    law: Law,
    recipe: FitRecipe,
    folds: list[Fold],
    target_var: np.ndarray,
    selection: SelectionConfig,
    reject_above: float,
) -> Evaluation:
    # one candidate's evaluation in a worker; Dask names its tasks after it (test_cluster.py)
    return evaluate(law, recipe, folds, target_var, selection, reject_above)


class Search:
    """One discovery run over one task's training rows."""

    def __init__(
        self,
        task: Task,
        train: Dataset,
        config: SearchConfig,
        run_dir: Path,
        chat: ChatClient | None = None,
    ):
        if train.split != "train":
            raise ValueError("the search takes training rows only")
        self.task, self.train, self.config = task, train, config
        self.run_dir = Path(run_dir)
        folds = rehearsal_folds(train, config.selection.folds)
        if config.selection.far_fold:
            folds = with_far_fold(folds)
        subset = group_subset(train, config.selection.max_groups)
        self.folds = restrict_groups(folds, subset)
        self.judging = judging_rows(train, config.selection)  # the final choice's rows
        self.target_var = self.judging.target_var
        self.population = Population(config.islands)
        self.log = RunLog(self.run_dir / "candidates.jsonl", CANDIDATE_KEYS)
        self.chat = chat
        rejected = self.run_dir / "llm_rejected.jsonl"
        self.proposer = Proposer(task, train, config, self.population, chat, rejected)
        self.stopped: str | None = None
        self.timed_out = False  # --time-limit ended the search

    @property
    def llm(self) -> LLMProposer | None:
        """The LLM proposer (None in a symbolic search): its reply counts, for the CLI."""
        return self.proposer.llm

    @property
    def llm_stopped(self) -> str | None:
        """Mix: why the LLM proposes no more this run (None while it does)."""
        return self.proposer.llm_stopped

    # -- the run ---------------------------------------------------------------------------------
    def run(
        self,
        jobs: int = 1,
        backend: str = "loky",
        time_limit: float | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> SearchResult:
        """Search until the budget (or time limit) is spent; resumes from an existing log, and
        holds the run directory's lock meanwhile."""
        with run_lock(self.run_dir):
            return self._run(jobs, backend, time_limit, progress)

    def _run(
        self,
        jobs: int,
        backend: str,
        time_limit: float | None,
        progress: Callable[[Progress], None] | None,
    ) -> SearchResult:
        records = self.log.read()
        self._write_config(jobs, backend, len(records))
        write_run_task(self.task, self.run_dir)
        logged = {(r["generation"], r["index"]): r for r in records}
        start = time.monotonic()
        done, generation = 0, 0
        best_r2 = -math.inf
        # "dask" comes from the caller's joblib.parallel_config (sldagent.cluster.dask_client):
        # naming it here would make joblib build a second, unconfigured Dask backend
        chosen = None if backend == "dask" else backend
        # the loky workers end with this process (search/workers.py), even after a SIGKILL
        options = worker_options(backend)
        with Parallel(n_jobs=jobs, backend=chosen, return_as="generator", **options) as parallel:
            while done < self.config.budget:
                if time_limit is not None and time.monotonic() - start > time_limit:
                    self.timed_out = True
                    break
                try:
                    if generation == 0:
                        batch = self.proposer.initial()
                    else:
                        batch = self.proposer.propose(generation, self.config.batch)
                except ProposerStopped as stop:  # a cost/token cap, or a model run dry
                    self.stopped = str(stop)
                    break
                except LLMUnavailable:  # the log is intact; the run resumes from it
                    self._write_usage()
                    raise
                batch = batch[: self.config.budget - done]
                if not batch:
                    generation += 1
                    if generation > 10 * (self.config.budget // max(1, self.config.batch) + 10):
                        break  # the proposer has run dry
                    continue
                check_replay(self.log.path, generation, batch, logged)
                todo = [p for p in batch if (generation, p.index) not in logged]
                best = self.population.best()
                bar = best.fitness + self.config.selection.reject_margin if best else math.inf
                fresh = parallel(
                    delayed(_job)(
                        p.law, p.recipe, self.folds, self.target_var, self.config.selection, bar
                    )
                    for p in todo
                )
                fresh_iter = iter(fresh)
                for p in batch:
                    rec = logged.get((generation, p.index))
                    if rec is None:
                        ev = next(fresh_iter)
                        rec = candidate_record(generation, p, ev, cid=done)
                        self.log.append(rec)
                    self.proposer.insert(p, rec)
                    done += 1
                    if rec["ok"]:
                        best = self.population.best()
                        if best is not None and best.id == rec["id"]:
                            best_r2 = rec["validation_r2"]
                    if progress is not None:
                        progress(
                            Progress(
                                done,
                                self.config.budget,
                                best_r2,
                                time.monotonic() - start,
                                *usage(self.chat),
                            )
                        )
                for _ in fresh_iter:  # drain (cannot happen unless batch logic changes)
                    pass
                generation += 1
                if generation % self.config.migrate_every == 0:
                    self.population.migrate()
            self._write_usage()

            def report(stage: str) -> None:
                if progress is not None:
                    elapsed = time.monotonic() - start
                    spent = usage(self.chat)
                    progress(Progress(done, self.config.budget, best_r2, elapsed, *spent, stage))

            pool = self.config.selection.final_pool
            report(f"final choice: judging the {pool} best laws again")
            best = self._finish(done, parallel, report)
        return SearchResult(self.run_dir, best, done, time.monotonic() - start, self.stopped)

    def _write_config(self, jobs: int, backend: str, logged: int = 0) -> None:
        """Write config.json, after checking that an existing one (and the `logged` candidates
        of the log) belong to this search: same task, rows and settings, budget not below."""
        config = run_config(
            self.task, self.train, self.config, len(self.folds), jobs, backend, self.chat
        )
        write_config(self.run_dir / "config.json", config, self.log.path, logged)

    def _write_usage(self) -> None:
        """Bring the token and cost totals in config.json up to date."""
        write_usage(self.run_dir / "config.json", self.chat, self.llm, self.llm_stopped)

    def _finish(self, done: int, parallel: Parallel, report: Callable[[str], None]) -> dict:
        """Choose among the best-fitness candidates within the final choice's time budget,
        refit the chosen one on all training rows and write best.json / best.tex."""
        records = {r["id"]: r for r in self.log.read()}
        if self.population.best() is None:
            raise ValueError(
                nothing_fitted(
                    self.run_dir,
                    self.log.path,
                    len(records),
                    self.stopped,
                    self.llm,
                    self.timed_out,
                )
            )
        selection = self.config.selection
        finalists, cut = final_choice(
            list(records.values()), self.train, self.judging, selection, parallel, report
        )
        pareto = self.population.pareto()
        seed_human = self.config.seed_human
        best = best_summary(
            self.task, self.train, records, finalists, cut, pareto, seed_human, done
        )
        write_best(self.run_dir, best)
        return best
