"""The discovery loop: propose -> parse -> de-duplicate -> fit on folds -> score -> insert.

Deterministic by construction: generation g's proposals come from a generator seeded with
(seed, g, slot) and the population state after generation g-1; evaluation runs in parallel
(joblib) but results are inserted in proposal order. Every evaluated candidate is appended to
candidates.jsonl as it completes; resuming replays the log instead of re-evaluating.
Proposers: the symbolic one, an LLM (search/llm.py) or a mix; LLM replies come from the run's
cache (llm_cache.jsonl) when it has them, so a resumed or replayed run sees the same proposals.
The search sees training rows only (DESIGN invariant 1): it never imports the evaluation module.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from sldagent import __version__
from sldagent.custom_task import write_run_task
from sldagent.fitters import FitRecipe, fit_groups
from sldagent.law import Law, LawError, parse_law
from sldagent.llm_client import ChatClient, LLMUnavailable, ProposerStopped
from sldagent.search.choice import finite_or_none, judging_rows, rank_finalists
from sldagent.search.fitness import Evaluation, SelectionConfig, evaluate
from sldagent.search.folds import (
    Fold,
    group_subset,
    rehearsal_folds,
    restrict_groups,
    with_far_fold,
)
from sldagent.search.genome import Genome
from sldagent.search.llm import LLMConfig, LLMProposer, Shown, shown_law
from sldagent.search.population import Entry, Population, cell_of
from sldagent.search.runlog import CANDIDATE_KEYS, RunLog, run_lock
from sldagent.search.symbolic import SymbolicProposer
from sldagent.search.workers import worker_options
from sldagent.task import Dataset, Task

TIMING_FIELDS = ("seconds",)
PROPOSERS = ("symbolic", "llm", "mix")
MIX_STREAM = 1  # extra seed word of the generator that assigns mix-mode slots


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines a search's result (jobs and backend do not)."""

    budget: int = 300  # candidates evaluated
    seed: int = 0
    islands: int = 4
    batch: int = 16
    migrate_every: int = 4
    crossover_rate: float = 0.25
    seed_human: bool = False
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    proposer: str = "symbolic"  # symbolic | llm | mix
    llm_share: float = 0.5  # mix: chance that a slot of a generation goes to the LLM
    llm: LLMConfig | None = None

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"--budget must be at least 1 candidate (got {self.budget})")
        if self.proposer not in PROPOSERS:
            raise ValueError(f"--proposer must be one of {', '.join(PROPOSERS)}")
        if self.proposer != "symbolic" and self.llm is None:
            raise ValueError(f"--proposer {self.proposer} needs --model (the LLM to ask)")
        if not 0 < self.llm_share <= 1:
            raise ValueError("--llm-share must be in (0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        d = dict(d)
        d["selection"] = SelectionConfig(**d.get("selection", {}))
        if d.get("llm") is not None:
            d["llm"] = LLMConfig(**d["llm"])
        return cls(**d)


def data_fingerprint(task: Task, train: Dataset) -> str:
    """sha256 of the task definition (columns, budget, validation and split rules) and of the
    training rows: a run directory holds the search of these rows only."""
    rule = task.source.extrapolate.text if task.source and task.source.extrapolate else None
    definition = {
        "task": task.name,
        "columns": list(task.columns),
        "split_columns": list(task.split_columns),
        "param_budget": task.param_budget,
        "validation": asdict(task.validation),
        "extrapolate": rule,
    }
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode())
    for column in train.frame.columns:  # the rows, column by column, in canonical order
        values = train.frame[column]
        digest.update(json.dumps(str(column)).encode())
        if column == task.group:
            digest.update(json.dumps([str(v) for v in values]).encode())
        else:
            digest.update(values.to_numpy(dtype="<f8").tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Progress:
    """What a progress display needs after each candidate."""

    done: int
    budget: int
    best_validation_r2: float
    elapsed: float
    llm_tokens: int = 0
    llm_cost: float = 0.0
    stage: str = "search"  # or what the run is doing after the search (the final choice)


@dataclass(frozen=True)
class SearchResult:
    """The chosen law refit on all training rows, plus where the run lives."""

    run_dir: Path
    best: dict
    candidates: int
    seconds: float
    stopped: str | None = None  # why the search ended before its budget, if it did


def _llm_changes_added(old: dict, new: dict) -> bool:
    """The new search settings are the old ones plus LLM settings changes made on a resume."""
    if not (old.get("llm") and new.get("llm")):
        return False
    old_changes, new_changes = list(old["llm"]["changes"]), list(new["llm"]["changes"])
    same_rest = {**old, "llm": {**old["llm"], "changes": []}} == {
        **new,
        "llm": {**new["llm"], "changes": []},
    }
    return same_rest and new_changes[: len(old_changes)] == old_changes


def _job(
    law: Law,
    recipe: FitRecipe,
    folds: list[Fold],
    target_var: np.ndarray,
    selection: SelectionConfig,
    reject_above: float,
) -> Evaluation:
    return evaluate(law, recipe, folds, target_var, selection, reject_above)


@dataclass(frozen=True)
class _Proposal:
    """A parsed candidate waiting for evaluation, with where it came from."""

    index: int
    island: int
    genome: Genome | None
    text: str | dict
    recipe: FitRecipe
    law: Law
    operator: str
    parents: tuple
    proposer: str
    note: dict | None = None  # LLM proposals: request key and rationale


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
        self.proposer = SymbolicProposer(train)
        self.population = Population(config.islands)
        self.seen: set[str] = set()
        self.log = RunLog(self.run_dir / "candidates.jsonl", CANDIDATE_KEYS)
        self.chat = chat
        self.llm = None
        if config.proposer != "symbolic":
            if chat is None:
                raise ValueError(f"--proposer {config.proposer} needs a chat client")
            rejected = self.run_dir / "llm_rejected.jsonl"
            self.llm = LLMProposer(train, config.llm, chat, config.seed, rejected)
        self.shown: dict[int, Shown] = {}
        self.stopped: str | None = None
        self.timed_out = False  # --time-limit ended the search
        self.llm_stopped: str | None = None  # mix: why the LLM proposes no more this run
        self.human = self._human_seed()

    def _human_seed(self) -> Law | None:
        """The human law --seed-human asks for, parsed as `baseline` parses it; a task without
        one, or one the parser refuses, is a one-line error instead of a run seeded with nothing."""
        if not self.config.seed_human:
            return None
        task, h = self.task, self.task.human
        if h is None:
            raise ValueError(f"--seed-human: task {task.name} has no [human] law to seed")
        try:
            return parse_law(
                h.formula,
                task.features,
                task.targets,
                params=h.params,
                max_params=task.param_budget,
            )
        except LawError as err:
            raise LawError(f"--seed-human: task {task.name}: human law: {err}") from None

    # -- proposals -------------------------------------------------------------------------------
    def _parse(self, text: str | dict) -> Law | None:
        try:
            return parse_law(
                text, self.task.features, self.task.targets, max_params=self.task.param_budget
            )
        except LawError:
            return None

    def _initial(self) -> list[_Proposal]:
        out = []
        if self.human is not None:
            h = self.task.human
            recipe = FitRecipe(bounds=dict(h.bounds), init=dict(h.init), seed=self.config.seed)
            out.append(
                _Proposal(
                    index=0,
                    island=0,
                    genome=None,
                    text=h.formula,
                    recipe=recipe,
                    law=self.human,
                    operator="human",
                    parents=(),
                    proposer="human",
                )
            )
        for g in self.proposer.initial() if self.config.proposer != "llm" else []:
            text, recipe = self.proposer.render(g, self.config.seed)
            law = self._parse(text)
            if law is None or law.key in self.seen or any(p.law.key == law.key for p in out):
                continue
            out.append(
                _Proposal(
                    index=len(out),
                    island=len(out) % self.config.islands,
                    genome=g,
                    text=text,
                    recipe=recipe,
                    law=law,
                    operator="initial",
                    parents=(),
                    proposer="symbolic",
                )
            )
        if self.llm is not None:
            n = self.config.batch if self.config.proposer == "llm" else self._mix_count()
            slots = list(range(len(out), len(out) + n))
            out.extend(self._llm_proposals(0, slots, {p.law.key for p in out}))
        return out

    def _llm_dry(self, stop: ProposerStopped) -> None:
        """The LLM proposes no more: a pure LLM search ends; a mix goes on, symbolic only."""
        if self.config.proposer == "llm":
            raise stop
        self.llm_stopped = str(stop)

    def _mix_count(self) -> int:
        return max(1, round(self.config.llm_share * self.config.batch))

    def _llm_slots(self, generation: int, size: int) -> list[int]:
        """The slots of a generation the LLM fills: all of them, none, or (mix) each with
        probability llm_share, decided by a generator seeded with (seed, generation, slot)."""
        if self.config.proposer == "symbolic":
            return []
        if self.config.proposer == "llm":
            return list(range(size))
        seed = self.config.seed
        return [
            s
            for s in range(size)
            if np.random.default_rng([seed, generation, s, MIX_STREAM]).random()
            < self.config.llm_share
        ]

    def _llm_proposals(self, generation: int, slots: list[int], taken: set[str]) -> list[_Proposal]:
        """LLM candidates for the given slots (in slot order; fewer if the replies ran short)."""
        if self.llm_stopped is not None or not slots:
            return []
        taken = self.seen | taken
        try:
            got = self.llm.propose(generation, len(slots), self.population, self.shown, taken)
        except ProposerStopped as stop:
            self._llm_dry(stop)
            return []
        return [
            _Proposal(
                index=slot,
                island=slot % self.config.islands,
                genome=None,
                text=c.text,
                recipe=c.recipe,
                law=c.law,
                operator="llm",
                parents=c.parents,
                proposer="llm",
                note=c.note,
            )
            for slot, c in zip(slots, got, strict=False)
        ]

    def _propose(self, generation: int, size: int) -> list[_Proposal]:
        batch_keys: set[str] = set()
        llm_slots = [] if self.llm_stopped else self._llm_slots(generation, size)
        out = [self._symbolic(generation, s, batch_keys) for s in range(size) if s not in llm_slots]
        if llm_slots:
            got = self._llm_proposals(generation, llm_slots, batch_keys)
            batch_keys |= {p.law.key for p in got}
            if self.config.proposer == "mix":  # slots the LLM left empty go to the symbolic half
                filled = {p.index for p in got}
                out += [
                    self._symbolic(generation, s, batch_keys) for s in llm_slots if s not in filled
                ]
            out.extend(got)
        return sorted((p for p in out if p is not None), key=lambda p: p.index)

    def _symbolic(self, generation: int, slot: int, batch_keys: set[str]) -> _Proposal | None:
        """The symbolic proposal of one slot (a generator seeded with seed, generation, slot)."""
        island = slot % self.config.islands
        rng = np.random.default_rng([self.config.seed, generation, slot])
        for _attempt in range(12):
            parents = self.population.parents(island, rng, k=2)
            parents = [p for p in parents if p.genome is not None]
            if not parents:
                best = self.population.best()
                parents = [best] if best is not None and best.genome is not None else []
            if not parents:
                g, op, pids = self.proposer.initial()[0], "initial", ()
            elif len(parents) == 2 and rng.random() < self.config.crossover_rate:
                g = self.proposer.crossover(parents[0].genome, parents[1].genome, rng)
                g = self.proposer.mutate(g, rng) if rng.random() < 0.5 else g
                op, pids = "crossover", (parents[0].id, parents[1].id)
            else:
                g = parents[0].genome
                for _ in range(1 + int(rng.integers(2))):
                    g = self.proposer.mutate(g, rng)
                op, pids = "mutate", (parents[0].id,)
            text, recipe = self.proposer.render(g, self.config.seed)
            law = self._parse(text)
            if law is None or law.key in self.seen or law.key in batch_keys:
                continue
            batch_keys.add(law.key)
            return _Proposal(
                index=slot,
                island=island,
                genome=g,
                text=text,
                recipe=recipe,
                law=law,
                operator=op,
                parents=pids,
                proposer="symbolic",
            )
        return None

    # -- records ---------------------------------------------------------------------------------
    def _record(self, generation: int, p: _Proposal, ev: Evaluation, cid: int) -> dict:
        return {
            "id": cid,
            "generation": generation,
            "index": p.index,
            "island": p.island,
            "proposer": p.proposer,
            "operator": p.operator,
            "parents": list(p.parents),
            "genome": p.genome.to_dict() if p.genome is not None else None,
            "law": p.law.text,
            "recipe": p.recipe.to_dict(),
            "key": p.law.key,
            "ok": ev.ok,
            "fitness": ev.fitness,
            "fold_errors": list(ev.fold_errors),
            "validation_r2": ev.validation_r2,
            "complexity": p.law.complexity,
            "n_params": len(p.law.params),
            "param_names": list(p.law.params),
            "params": ev.params,
            "message": ev.message,
            "seconds": round(ev.seconds, 4),
        } | ({"llm": p.note} if p.note is not None else {})

    def _insert(self, p: _Proposal, rec: dict) -> None:
        self.seen.add(rec["key"])
        self.shown[rec["id"]] = shown_law(rec)
        outer = p.genome.outer if p.genome is not None else p.proposer
        entry = Entry(
            id=rec["id"],
            genome=p.genome,
            fitness=float(rec["fitness"]),
            complexity=int(rec["complexity"]),
            n_params=int(rec["n_params"]),
            cell=cell_of(int(rec["n_params"]), int(rec["complexity"]), outer),
        )
        self.population.insert(p.island, entry)

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
                        batch = self._initial()
                    else:
                        batch = self._propose(generation, self.config.batch)
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
                self._check_replay(generation, batch, logged)
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
                        rec = self._record(generation, p, ev, cid=done)
                        self.log.append(rec)
                    self._insert(p, rec)
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
                                *self._usage(),
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
                    usage = self._usage()
                    progress(Progress(done, self.config.budget, best_r2, elapsed, *usage, stage))

            pool = self.config.selection.final_pool
            report(f"final choice: judging the {pool} best laws again")
            best = self._finish(done, parallel, report)
        return SearchResult(self.run_dir, best, done, time.monotonic() - start, self.stopped)

    def _check_replay(self, generation: int, batch: list[_Proposal], logged: dict) -> None:
        """A logged record stands in for a proposal only if it is that proposal (same law and
        recipe); else the log came from other settings (e.g. an edited config.json) or another
        version, and replaying it would splice two different searches together."""
        for p in batch:
            rec = logged.get((generation, p.index))
            if rec is None:
                continue
            recipe = json.loads(json.dumps(p.recipe.to_dict(), allow_nan=True))
            if rec.get("key") != p.law.key or rec.get("recipe") != recipe:
                raise ValueError(
                    f"{self.log.path}: candidate {rec.get('id')} was made by a search with other "
                    "settings (config.json edited, or another sldagent version); "
                    "start a new run instead of resuming this one"
                )

    def _write_config(self, jobs: int, backend: str, logged: int = 0) -> None:
        """Write config.json, after checking that an existing one (and the `logged` candidates
        of the log) belong to this search: same task, rows and settings, budget not below."""
        path = self.run_dir / "config.json"
        config = {
            "task": self.task.name,
            "version": __version__,
            "search": self.config.to_dict(),
            "features": list(self.task.features),
            "targets": list(self.task.targets),
            "param_budget": self.task.param_budget,
            "folds": len(self.folds),
            "proposer": self.config.proposer,
            "jobs": jobs,
            "backend": backend,
            "seed_human": self.config.seed_human,
            "data_fingerprint": data_fingerprint(self.task, self.train),
        }
        if self.chat is not None:
            config["llm_client"] = self.chat.settings.to_dict()
            config["llm_usage"] = self.chat.usage_dict()
        if path.exists():
            old = json.loads(path.read_text())
            try:  # compare with defaults filled in: a run made before a setting existed resumes
                old_search = SearchConfig.from_dict(old.get("search", {})).to_dict()
            except (TypeError, ValueError):
                old_search = None
            self._check_data(path, old, config["data_fingerprint"])
            if old_search is not None:  # the budget may grow on a resume: "go on to N"
                old_search["budget"] = config["search"]["budget"]
            if old_search is not None and _llm_changes_added(old_search, config["search"]):
                old_search = config["search"]  # a resume's LLM flags, recorded in llm.changes
            if old.get("task") != self.task.name or old_search != config["search"]:
                raise ValueError(
                    f"{path}: this run was started with other settings; "
                    "resume it with the same task, seed and budget, or use a new run"
                )
        if logged > self.config.budget:
            raise ValueError(
                f"{self.log.path} already holds {logged} candidates: --budget "
                f"{self.config.budget} would end before them; give --budget {logged} or more"
            )
        path.write_text(json.dumps(config, indent=2) + "\n")

    def _check_data(self, path: Path, old: dict, fingerprint: str) -> None:
        """A run directory holds one search of one set of training rows: refuse other rows, or
        another task definition (runs made before fingerprints were recorded resume as before)."""
        if old.get("data_fingerprint", fingerprint) != fingerprint:
            raise ValueError(
                f"{path}: this run was made on other training rows or another task definition "
                "(its data fingerprint differs); give a new --run-dir, or restore that data to "
                "resume it"
            )

    def _usage(self) -> tuple[int, float]:
        """LLM token count and USD spent so far (zero without an LLM)."""
        if self.chat is None:
            return 0, 0.0
        return self.chat.usage.total_tokens, self.chat.cost

    def _write_usage(self) -> None:
        """Bring the token and cost totals in config.json up to date."""
        path = self.run_dir / "config.json"
        if self.chat is None or not path.exists():
            return
        config = json.loads(path.read_text())
        config["llm_usage"] = self.chat.usage_dict()
        if self.llm is not None:
            config["llm_replies"] = self.llm.stats() | {"llm_stopped": self.llm_stopped}
        path.write_text(json.dumps(config, indent=2) + "\n")

    def _nothing_fitted(self, evaluated: int) -> str:
        """Why the run has no law, from what it logged (not a file it never wrote)."""
        why = f" ({self.stopped})" if self.stopped else ""
        if evaluated:
            return (
                f"none of the {evaluated} candidates could be fitted in {self.run_dir}{why}; "
                f"see {self.log.path.name} (field message)"
            )
        if self.llm is not None:
            n = self.llm.counts["laws_rejected"] + self.llm.counts["replies_without_candidates"]
            return (
                f"no law was accepted{why}: the LLM's {self.llm.counts['replies']} replies gave "
                f"{n} refusals and no usable law; the reasons are in "
                f"{self.run_dir / 'llm_rejected.jsonl'}"
            )
        if self.timed_out:
            return f"no candidate was evaluated in {self.run_dir}; give a longer --time-limit"
        return f"no candidate was proposed in {self.run_dir}{why}"

    def _finish(self, done: int, parallel: Parallel, report: Callable[[str], None]) -> dict:
        """Choose among the best-fitness candidates (search/choice.py) within the final choice's
        time budget, refit the chosen one on all training rows and write best.json / best.tex."""
        records = {r["id"]: r for r in self.log.read()}
        if self.population.best() is None:
            raise ValueError(self._nothing_fitted(len(records)))
        selection = self.config.selection
        fitting = sum(float(r.get("seconds") or 0.0) for r in records.values())
        budget = max(selection.final_min_seconds, selection.final_time_factor * fitting)
        judged = [0, 0]

        def on_judged(k: int, n: int, seconds: float) -> None:
            judged[:] = [k, n]
            report(f"final choice: finalist {k}/{n} judged ({seconds:.0f}s of {budget:.0f}s)")

        finalists = rank_finalists(
            list(records.values()),
            self.judging.folds,
            self.judging.first,
            self.train,
            self.judging.target_var,
            selection,
            parallel,
            time_budget=budget,
            on_judged=on_judged,
        )
        cut = None
        if judged[0] < judged[1]:
            cut = (
                f"the final choice's time budget ({budget:.0f}s: "
                f"{selection.final_time_factor:g}x the search's {fitting:.0f}s of fitting) was "
                f"spent after {judged[0]} of {judged[1]} finalists; the rest were not judged"
            )
        rec = records[finalists[0].id]
        law = parse_law(rec["law"], self.task.features, self.task.targets)
        fits = fit_groups(law, self.train.groups(), FitRecipe.from_dict(rec["recipe"]))
        bad = [g for g, f in fits.items() if not f.ok]
        if bad:
            raise ValueError(
                f"refit of the best law failed for group {bad[0]!r}: {fits[bad[0]].message}"
            )
        best = {
            "task": self.task.name,
            "id": rec["id"],
            "law": law.text,
            "latex": law.latex(),
            "recipe": rec["recipe"],
            "param_names": list(law.params),
            "params": {
                g: dict(zip(law.params, map(float, f.theta), strict=True)) for g, f in fits.items()
            },
            "n_params": len(law.params),
            "complexity": law.complexity,
            "fitness": rec["fitness"],
            "validation_r2": rec["validation_r2"],
            "stability_gap": finite_or_none(finalists[0].gap),
            "final_score": finite_or_none(finalists[0].score),
            "finalists": [f.to_dict() for f in finalists],
            "final_choice_cut": cut,
            "proposer": rec["proposer"],
            "seed_human": self.config.seed_human,
            "candidates": done,
            "pareto": [
                {
                    "id": e.id,
                    "law": records[e.id]["law"],
                    "complexity": e.complexity,
                    "fitness": e.fitness,
                    "validation_r2": records[e.id]["validation_r2"],
                }
                for e in self.population.pareto()
            ],
        }
        (self.run_dir / "best.json").write_text(json.dumps(best, indent=2) + "\n")
        (self.run_dir / "best.tex").write_text(f"\\[ {law.latex()} \\]\n")
        return best
