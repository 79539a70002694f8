"""A whole search rehearsed inside the training rows, to judge the search itself without the
test rows: the task's validation slice is held out as a pseudo-test, the search runs on the
rest (carving its own validation slice from it), and its chosen law is scored on the held-out
slice, beside the human law refit on the same rows.

This is the yardstick for changes to selection, budgets and proposers (DESIGN invariant 1:
the test rows stay sealed while the engine is being designed, too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sldagent.fitters import FitRecipe, fit_groups, predict_groups
from sldagent.law import parse_law
from sldagent.metrics import r2
from sldagent.search.loop import Search, SearchConfig
from sldagent.task import Dataset, split_validation


@dataclass(frozen=True)
class HoldoutResult:
    """Pseudo-test R² of the run's chosen law and of the human law."""

    task: str
    seed: int
    budget: int
    chosen_r2: float
    human_r2: float | None
    chosen_law: str
    candidates: int
    seconds: float


def _score(law_text: str | dict, recipe: FitRecipe, fit_rows: Dataset, held: Dataset) -> float:
    task = fit_rows.task
    law = parse_law(law_text, task.features, task.targets)
    fits = fit_groups(law, fit_rows.groups(), recipe)
    y_true, y_pred = predict_groups(law, held.groups(), fits)
    return r2(y_true, y_pred)


def holdout(
    train: Dataset,
    config: SearchConfig,
    run_dir: Path,
    jobs: int = 1,
    backend: str = "loky",
) -> HoldoutResult:
    """Search on train minus its validation slice; score on that slice."""
    task = train.task
    rest, held = split_validation(train)
    inner = Dataset(task, rest.frame, train.path, "train")
    result = Search(task, inner, config, run_dir).run(jobs=jobs, backend=backend)
    saved = json.loads((Path(run_dir) / "config.json").read_text())
    saved["holdout"] = True  # predict/export/rehearse refuse it: its law never saw the slice
    (Path(run_dir) / "config.json").write_text(json.dumps(saved, indent=2) + "\n")
    best = result.best
    chosen = _score(best["law"], FitRecipe.from_dict(best["recipe"]), inner, held)
    human_r2 = None
    if task.human is not None:
        h = task.human
        recipe = FitRecipe(bounds=dict(h.bounds), init=dict(h.init), seed=config.seed)
        human_r2 = _score(h.formula, recipe, inner, held)
    return HoldoutResult(
        task=task.name,
        seed=config.seed,
        budget=config.budget,
        chosen_r2=chosen,
        human_r2=human_r2,
        chosen_law=str(best["law"]),
        candidates=result.candidates,
        seconds=result.seconds,
    )
