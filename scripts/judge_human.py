"""Would the final choice prefer the human law? Its train-only measurements beside a run's.

For each `sldagent discover` run directory given, the human law of the run's task is judged
exactly as the search's finalists are (search/choice.py, with the run's selection settings:
errors on up to 3 rehearsal folds, stability gap, final score; lower is better) and printed
beside the run's chosen law. Train rows only: this tells whether the judge, not the proposer,
stands between a run and the human law.

    python scripts/judge_human.py RUN_DIR [...] [--law TEXT ...]

--law judges further law texts the same way (default fitting recipe), e.g. a form of your own;
on a task with several targets, give it as a JSON object {target: formula}.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from sldagent.custom_task import run_task
from sldagent.evaluation import human_law, human_recipe
from sldagent.law import LawError, parse_law
from sldagent.search.choice import final_score, judge_finalist, judging_rows
from sldagent.search.fitness import SelectionConfig
from sldagent.task import DataError, load_train, resolve_data_root


def _fmt(errors: list, gap: float | None, score: float | None) -> str:
    """Table cells; a failed fit (null or inf) shows as a dash."""

    def cell(x: float | None, digits: int) -> str:
        return f"{x:.{digits}f}" if x is not None and math.isfinite(x) else "—"

    folds = " ".join(cell(e, 3) for e in errors) or "—"
    return f"[{folds}] | {cell(gap, 4)} | {cell(score, 3)} |"


def _law_text(text: str) -> str | dict:
    """A formula, or {target: formula} given as JSON."""
    return json.loads(text) if text.lstrip().startswith("{") else text


def judge_run(run: Path, laws: list[str], data_dir: str | None) -> list[str]:
    """Table rows for one run: its chosen law, the human law, then each of `laws`."""
    task = run_task(run)  # refuses holdout runs: their law never saw the validation slice
    best_path = run / "best.json"
    if not best_path.is_file():
        raise ValueError(f"{best_path} not found: the run has not finished (resume it first)")
    best = json.loads(best_path.read_text())
    name = f"{run.parent.name}/{run.name}"
    if task.validation.kind == "random":
        kept = "(random validation rule: the best-fitness law is kept, unscored)"
        return [f"| {name} | {kept} | | | |"]
    chosen = [f for f in best.get("finalists", []) if f["id"] == best["id"]]
    if not chosen:
        raise ValueError(f"{best_path} lists no finalists: made before the final choice existed")
    saved = json.loads((run / "config.json").read_text())["search"].get("selection", {})
    selection = SelectionConfig(**saved)
    train = load_train(task, resolve_data_root(data_dir))
    judging = judging_rows(train, selection)
    c = chosen[0]
    rows = [f"| {name} | chosen | " + _fmt(c["fold_errors"], c["gap"], c["score"])]
    others = []
    if task.human is not None:
        others.append((human_law(task), human_recipe(task).to_dict(), "human"))
    for text in laws:
        others.append((parse_law(_law_text(text), task.features, task.targets), {}, f"`{text}`"))
    for law, recipe, label in others:
        rec = {"law": law.text, "recipe": recipe}
        errors, gap = judge_finalist(
            rec, judging.folds, judging.first, train, judging.target_var, selection
        )
        score = final_score(errors, gap, law.complexity, selection.complexity_weight)
        rows.append(f"| {name} | {label} | " + _fmt(list(errors), gap, score))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--law", action="append", default=[], help="another law to judge")
    args = ap.parse_args()
    print("| run | law | log10 fold errors | stability gap | final score |")
    print("|---|---|---|---|---|")
    for run in args.runs:
        try:
            rows = judge_run(run, args.law, args.data_dir)
        except (ValueError, LawError, DataError, OSError) as err:
            sys.exit(f"judge_human: {run}: {err}")
        print("\n".join(rows), flush=True)


if __name__ == "__main__":
    main()
