"""The end of a search: the final choice among the best-fitness candidates (search/choice.py)
within its time budget, the chosen law refit on all training rows, and best.json / best.tex;
or, when nothing was fitted, the one-line reason why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from joblib import Parallel

from sldagent.fitters import FitRecipe, fit_groups
from sldagent.law import parse_law
from sldagent.search.choice import JudgingRows, Ranked, finite_or_none, rank_finalists
from sldagent.search.fitness import SelectionConfig
from sldagent.search.llm import LLMProposer
from sldagent.search.population import Entry
from sldagent.task import Dataset, Task


def nothing_fitted(
    run_dir: Path,
    log: Path,
    evaluated: int,
    stopped: str | None,
    llm: LLMProposer | None,
    timed_out: bool,
) -> str:
    """Why the run has no law, from what it logged (not a file it never wrote)."""
    why = f" ({stopped})" if stopped else ""
    if evaluated:
        return (
            f"none of the {evaluated} candidates could be fitted in {run_dir}{why}; "
            f"see {log.name} (field message)"
        )
    if llm is not None:
        n = llm.counts["laws_rejected"] + llm.counts["replies_without_candidates"]
        return (
            f"no law was accepted{why}: the LLM's {llm.counts['replies']} replies gave "
            f"{n} refusals and no usable law; the reasons are in "
            f"{run_dir / 'llm_rejected.jsonl'}"
        )
    if timed_out:
        return f"no candidate was evaluated in {run_dir}; give a longer --time-limit"
    return f"no candidate was proposed in {run_dir}{why}"


def final_choice(
    records: list[dict],
    train: Dataset,
    judging: JudgingRows,
    selection: SelectionConfig,
    parallel: Parallel,
    report: Callable[[str], None],
) -> tuple[list[Ranked], str | None]:
    """The finalists ranked within the final choice's time budget (a multiple of the search's
    fitting time), and what the budget cut, if it ran out before every finalist was judged."""
    fitting = sum(float(r.get("seconds") or 0.0) for r in records)
    budget = max(selection.final_min_seconds, selection.final_time_factor * fitting)
    judged = [0, 0]

    def on_judged(k: int, n: int, seconds: float) -> None:
        judged[:] = [k, n]
        report(f"final choice: finalist {k}/{n} judged ({seconds:.0f}s of {budget:.0f}s)")

    finalists = rank_finalists(
        records,
        judging.folds,
        judging.first,
        train,
        judging.target_var,
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
    return finalists, cut


def best_summary(
    task: Task,
    train: Dataset,
    records: dict[int, dict],
    finalists: list[Ranked],
    cut: str | None,
    pareto: list[Entry],
    seed_human: bool,
    candidates: int,
) -> dict:
    """best.json: the first finalist refit on all training rows, with the finalists, the
    Pareto front and where the law came from."""
    rec = records[finalists[0].id]
    law = parse_law(rec["law"], task.features, task.targets)
    fits = fit_groups(law, train.groups(), FitRecipe.from_dict(rec["recipe"]))
    bad = [g for g, f in fits.items() if not f.ok]
    if bad:
        raise ValueError(
            f"refit of the best law failed for group {bad[0]!r}: {fits[bad[0]].message}"
        )
    return {
        "task": task.name,
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
        "seed_human": seed_human,
        "candidates": candidates,
        "pareto": [
            {
                "id": e.id,
                "law": records[e.id]["law"],
                "complexity": e.complexity,
                "fitness": e.fitness,
                "validation_r2": records[e.id]["validation_r2"],
            }
            for e in pareto
        ],
    }


def write_best(run_dir: Path, best: dict) -> None:
    """best.json, and best.tex (the law as a LaTeX display)."""
    (run_dir / "best.json").write_text(json.dumps(best, indent=2) + "\n")
    (run_dir / "best.tex").write_text(f"\\[ {best['latex']} \\]\n")
