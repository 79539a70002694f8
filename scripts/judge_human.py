"""Would the final choice prefer the human law? Its train-only measurements beside a run's.

For each benchmark run directory given, the human law of the run's task is judged exactly as the
search's finalists are (search/choice.py: errors on up to 3 rehearsal folds, stability gap,
final score; lower is better) and printed beside the run's chosen law. Train rows only: this
tells whether the judge, not the proposer, stands between a run and the human law.

    python scripts/judge_human.py RUN_DIR [...] [--law TEXT ...]

--law judges further law texts the same way (default fitting recipe), e.g. a form of your own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sldagent.evaluation import human_law, human_recipe
from sldagent.law import parse_law
from sldagent.search.choice import final_score, judge_finalist
from sldagent.search.fitness import SelectionConfig
from sldagent.search.folds import group_subset, rehearsal_folds, restrict_groups
from sldagent.task import load_task, load_train, resolve_data_root


def _fmt(errors, gap, score) -> str:
    folds = " ".join(f"{e:.3f}" for e in errors)
    return f"[{folds}] | {gap:.4f} | {score:.3f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--law", action="append", default=[], help="another law to judge")
    args = ap.parse_args()
    selection = SelectionConfig()
    print("| run | law | log10 fold errors | stability gap | final score |")
    print("|---|---|---|---|---|")
    for run in args.runs:
        best = json.loads((run / "best.json").read_text())
        task = load_task(json.loads((run / "config.json").read_text())["task"])
        if task.human is None:
            continue
        train = load_train(task, resolve_data_root(args.data_dir))
        final = rehearsal_folds(train, selection.final_folds)
        folds = restrict_groups(final, group_subset(train, selection.max_groups))
        var = np.where(train.y.var(axis=0) > 0, train.y.var(axis=0), 1.0)
        chosen = next(f for f in best["finalists"] if f["id"] == best["id"])
        name = f"{run.parent.name}/{run.name}"
        print(f"| {name} | chosen | " + _fmt(chosen["fold_errors"], chosen["gap"], chosen["score"]))
        human = human_law(task)
        others = [(human, human_recipe(task).to_dict(), "human")]
        others += [(parse_law(t, task.features, task.targets), {}, f"`{t}`") for t in args.law]
        for law, recipe, label in others:
            rec = {"law": law.text, "recipe": recipe}
            errors, gap = judge_finalist(rec, folds, final[0], train, var, selection)
            score = final_score(errors, gap, law.complexity, selection.complexity_weight)
            print(f"| {name} | {label} | " + _fmt(errors, gap, score))


if __name__ == "__main__":
    main()
