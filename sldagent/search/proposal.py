"""Where a search's candidates come from: the initial population (the seeded human law, the
symbolic initial forms, the LLM's first laws), then each generation's symbolic mutations and
crossovers and LLM laws, slot by slot, each parsed and de-duplicated against all laws seen.

Deterministic: a slot's symbolic proposal comes from a generator seeded with (seed,
generation, slot), and in mix mode so does the choice of the slots the LLM fills."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sldagent.fitters import FitRecipe
from sldagent.law import Law, LawError, parse_law
from sldagent.llm_client import ChatClient, ProposerStopped
from sldagent.search.config import SearchConfig
from sldagent.search.genome import Genome
from sldagent.search.llm import LLMProposer, Shown, shown_law
from sldagent.search.population import Entry, Population, cell_of
from sldagent.search.symbolic import SymbolicProposer
from sldagent.task import Dataset, Task

MIX_STREAM = 1  # extra seed word of the generator that assigns mix-mode slots


@dataclass(frozen=True)
class Proposal:
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


def human_seed(task: Task, config: SearchConfig) -> Law | None:
    """The human law --seed-human asks for, parsed as `baseline` parses it; a task without
    one, or one the parser refuses, is a one-line error instead of a run seeded with nothing."""
    if not config.seed_human:
        return None
    h = task.human
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


class Proposer:
    """The search's proposer (symbolic, LLM or a mix, per SearchConfig.proposer), and what it
    remembers of the evaluated candidates: the laws seen and the laws the LLM may be shown."""

    def __init__(
        self,
        task: Task,
        train: Dataset,
        config: SearchConfig,
        population: Population,
        chat: ChatClient | None,
        rejected: Path,
    ):
        self.task, self.config, self.population = task, config, population
        self.symbolic = SymbolicProposer(train)
        self.seen: set[str] = set()
        self.llm = None
        if config.proposer != "symbolic":
            if chat is None:
                raise ValueError(f"--proposer {config.proposer} needs a chat client")
            self.llm = LLMProposer(train, config.llm, chat, config.seed, rejected)
        self.shown: dict[int, Shown] = {}
        self.llm_stopped: str | None = None  # mix: why the LLM proposes no more this run
        self.human = human_seed(task, config)

    def _parse(self, text: str | dict) -> Law | None:
        try:
            return parse_law(
                text, self.task.features, self.task.targets, max_params=self.task.param_budget
            )
        except LawError:
            return None

    def initial(self) -> list[Proposal]:
        """Generation 0: the human law (if seeded), the symbolic initial forms (not in "llm")
        and the LLM's first laws."""
        out = []
        if self.human is not None:
            h = self.task.human
            recipe = FitRecipe(bounds=dict(h.bounds), init=dict(h.init), seed=self.config.seed)
            out.append(
                Proposal(
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
        for g in self.symbolic.initial() if self.config.proposer != "llm" else []:
            text, recipe = self.symbolic.render(g, self.config.seed)
            law = self._parse(text)
            if law is None or law.key in self.seen or any(p.law.key == law.key for p in out):
                continue
            out.append(
                Proposal(
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

    def _llm_proposals(self, generation: int, slots: list[int], taken: set[str]) -> list[Proposal]:
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
            Proposal(
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

    def propose(self, generation: int, size: int) -> list[Proposal]:
        """A later generation's proposals, in slot order (a slot nothing new came for is left
        out)."""
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

    def _symbolic(self, generation: int, slot: int, batch_keys: set[str]) -> Proposal | None:
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
                g, op, pids = self.symbolic.initial()[0], "initial", ()
            elif len(parents) == 2 and rng.random() < self.config.crossover_rate:
                g = self.symbolic.crossover(parents[0].genome, parents[1].genome, rng)
                g = self.symbolic.mutate(g, rng) if rng.random() < 0.5 else g
                op, pids = "crossover", (parents[0].id, parents[1].id)
            else:
                g = parents[0].genome
                for _ in range(1 + int(rng.integers(2))):
                    g = self.symbolic.mutate(g, rng)
                op, pids = "mutate", (parents[0].id,)
            text, recipe = self.symbolic.render(g, self.config.seed)
            law = self._parse(text)
            if law is None or law.key in self.seen or law.key in batch_keys:
                continue
            batch_keys.add(law.key)
            return Proposal(
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

    def insert(self, p: Proposal, rec: dict) -> None:
        """An evaluated candidate (its candidates.jsonl record) joins p's island; its law is
        seen and may be shown to the LLM."""
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
