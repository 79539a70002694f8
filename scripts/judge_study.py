"""Which fitness would have chosen the best law? Measured on `sldagent holdout` runs only.

A holdout run searched train minus the task's validation slice; that slice is its pseudo-test.
For the run's best-fitness candidates (the search's final pool) this script refits each law on
the run's rows and scores it on the held slice, recomputes the final choice's measurements on
the run's own rows (errors on up to 3 rehearsal folds, the stability gap), and prints, per
rule, the pseudo-test R² of the law the rule would choose. No test row is read. Results are
cached in each run directory (judge_study.pkl).

    python scripts/judge_study.py HOLDOUT_RUN_DIR [...] [--top 30] [--jobs 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pickle
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

import sldagent
from sldagent.fitters import FitRecipe, fit_groups, predict_groups
from sldagent.law import parse_law
from sldagent.metrics import r2
from sldagent.search.choice import final_score, judge_finalist, judging_rows
from sldagent.search.fitness import SelectionConfig
from sldagent.search.runlog import RunLog
from sldagent.task import Dataset, load_task, load_train, resolve_data_root, split_validation


def _held_r2(rec: dict, inner: Dataset, held: Dataset) -> float:
    task = inner.task
    law = parse_law(rec["law"], task.features, task.targets)
    fits = fit_groups(law, inner.groups(), FitRecipe.from_dict(rec["recipe"]))
    if not all(f.ok for f in fits.values()):
        return -math.inf
    y_true, y_pred = predict_groups(law, held.groups(), fits)
    return r2(y_true, y_pred) if np.all(np.isfinite(y_pred)) else -math.inf


def study(run_dir: Path, top: int, jobs: int) -> list[dict]:
    """The studied candidates with their pseudo-test R², 3-fold errors and stability gap
    (cached in RUN_DIR/judge_study.pkl: refitting is the slow part)."""
    cache = run_dir / "judge_study.pkl"
    key = _code_key(top)
    if cache.exists():
        saved = pickle.loads(cache.read_bytes())
        if isinstance(saved, dict) and saved.get("key") == key:
            return saved["rows"]
    rows = _study(run_dir, top, jobs)
    cache.write_bytes(pickle.dumps({"key": key, "rows": rows}))
    return rows


def _code_key(top: int) -> str:
    """What the cached rows depend on: this script, the selection and fitting code, --top."""
    package = Path(sldagent.__file__).parent
    files = [Path(__file__), *sorted((package / "search").glob("*.py"))]
    files += sorted((package / "fitters").glob("*.py")) + [package / "law.py"]
    digest = hashlib.sha256(str(top).encode())
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _study(run_dir: Path, top: int, jobs: int) -> list[dict]:
    config = json.loads((run_dir / "config.json").read_text())
    task = load_task(config["task"])
    train = load_train(task, resolve_data_root(None))
    rest, held = split_validation(train)
    inner = Dataset(task, rest.frame, train.path, "train")
    recs, keys = [], set()
    for rec in sorted(RunLog(run_dir / "candidates.jsonl").read(), key=lambda r: r["fitness"]):
        if rec["ok"] and math.isfinite(rec["fitness"]) and rec["key"] not in keys:
            keys.add(rec["key"])
            recs.append(rec)
    recs = recs[:top]
    par = Parallel(n_jobs=jobs)
    held_r2 = par(delayed(_held_r2)(r, inner, held) for r in recs)
    # the finalists' measurements exactly as the search's final choice takes them
    selection = SelectionConfig()
    on = judging_rows(inner, selection)
    judge = delayed(judge_finalist)
    judged = par(judge(r, on.folds, on.first, inner, on.target_var, selection) for r in recs)
    rows = []
    for rec, h, (errors, gap) in zip(recs, held_r2, judged, strict=True):
        # errors empty: the law failed a fold; every rule but plain fitness ranks it last
        rows.append({"rec": rec, "held_r2": h, "f": tuple(errors), "stab": gap})
    return rows


CW = SelectionConfig().complexity_weight


def _shipped(r: dict) -> float:
    """search/choice.py: a random rule keeps the best-fitness law, others re-rank."""
    if r["random_rule"]:
        return r["rec"]["fitness"]
    return final_score(r["f"], r["stab"], r["rec"]["complexity"], CW)


RULES = {
    "fitness (fold 1 + complexity)": lambda r: r["rec"]["fitness"],
    "up to 3 folds, mean log error": lambda r: (
        np.mean(r["f"]) + CW * r["rec"]["complexity"] if r["f"] else math.inf
    ),
    "fold 1 + stability gap": lambda r: final_score(
        r["f"][:1], r["stab"], r["rec"]["complexity"], CW
    ),
    "up to 3 folds + stability gap (shipped)": _shipped,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument(
        "--top",
        type=int,
        default=SelectionConfig().final_pool,
        help="best-fitness candidates studied (default: the search's final pool)",
    )
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    names = list(RULES)
    print("Pseudo-test R² of the law each rule chooses among the run's finalists:\n")
    print("| run | best available | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    clipped: dict[str, list[float]] = {n: [] for n in names}
    for run in args.runs:
        task = load_task(json.loads((run / "config.json").read_text())["task"])
        random_rule = task.validation.kind == "random"
        rows = [r | {"random_rule": random_rule} for r in study(run, args.top, args.jobs)]
        held = np.array([r["held_r2"] for r in rows])
        cells = []
        for name in names:
            score = np.array([RULES[name](r) for r in rows])
            pick = int(np.argmin(score))
            clipped[name].append(float(np.clip(held[pick], -1, 1)))
            cells.append(f"{held[pick]:.3f}")
        print(f"| {run.name} | {np.max(held):.3f} | " + " | ".join(cells) + " |")
    means = " | ".join(f"{np.mean(clipped[n]):.3f}" for n in names)
    print(f"| mean, R² clipped to [−1, 1] | | {means} |")


if __name__ == "__main__":
    main()
