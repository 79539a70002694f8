"""What a search is given and what it hands back: its settings (config.json's `search`), the
progress it reports after each candidate, and its result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from sldagent.search.fitness import SelectionConfig
from sldagent.search.llm import LLMConfig

PROPOSERS = ("symbolic", "llm", "mix")


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
