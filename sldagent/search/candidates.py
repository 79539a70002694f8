"""An evaluated proposal as a line of candidates.jsonl, and the check that a logged line is
the proposal it stands in for when a run is resumed or replayed."""

from __future__ import annotations

import json
from pathlib import Path

from sldagent.search.fitness import Evaluation
from sldagent.search.proposal import Proposal

TIMING_FIELDS = ("seconds",)  # the fields of a record that differ between identical runs


def candidate_record(generation: int, p: Proposal, ev: Evaluation, cid: int) -> dict:
    """The candidates.jsonl record of proposal p of a generation, evaluated as ev, with id cid."""
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


def check_replay(log: Path, generation: int, batch: list[Proposal], logged: dict) -> None:
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
                f"{log}: candidate {rec.get('id')} was made by a search with other "
                "settings (config.json edited, or another sldagent version); "
                "start a new run instead of resuming this one"
            )
