"""Could the final choice reuse what a run already computed? Measured on a finished run.

For each of the run's finalists: is fold 1's error, refitted as the final choice does, equal to
the logged fold_errors[0] (and are the law's parameters in the logged order)? Is the stability
gap's all-rows fit of the chosen law equal to best.json's params? Seconds per part.

    python scripts/final_choice_reuse.py RUN_DIR DATA_DIR
"""

import json
import math
import sys
import time
from pathlib import Path

from sldagent.custom_task import run_task
from sldagent.fitters import FitRecipe, fit_groups
from sldagent.law import parse_law
from sldagent.search.choice import judging_rows
from sldagent.search.fitness import SelectionConfig, evaluate
from sldagent.task import load_train, resolve_data_root

run, data = Path(sys.argv[1]), sys.argv[2]
task = run_task(run, resolve_data_root(data))
saved = json.loads((run / "config.json").read_text())["search"].get("selection", {})
sel = SelectionConfig(**saved)
train = load_train(task, resolve_data_root(data))
J = judging_rows(train, sel)
recs = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
ok = [r for r in recs if r["ok"] and math.isfinite(r["fitness"])]
fin = sorted(ok, key=lambda r: (r["fitness"], r["id"]))[: sel.final_pool]
best = json.loads((run / "best.json").read_text())
tf = [0.0] * len(J.folds)
tin = tout = 0.0
same = nm = 0
for r in fin:
    law = parse_law(r["law"], task.features, task.targets)
    rec = FitRecipe.from_dict(r["recipe"])
    for i in range(len(J.folds)):
        t = time.perf_counter()
        ev = evaluate(law, rec, [J.folds[i]], J.target_var, sel)
        tf[i] += time.perf_counter() - t
        if i == 0:
            match = list(law.params) == r["param_names"]
            eq = ev.fold_errors[0] == r["fold_errors"][0]
            nm += match
            same += eq
            if match and not eq:
                print("MISMATCH with same param order", r["id"], ev.fold_errors, r["fold_errors"])
    t = time.perf_counter()
    fit_groups(law, J.first.fit.groups(), rec)
    tin += time.perf_counter() - t
    t = time.perf_counter()
    outer = fit_groups(law, train.groups(), rec)
    tout += time.perf_counter() - t
    if r["id"] == best["id"]:
        p = {g: dict(zip(law.params, map(float, f.theta), strict=True)) for g, f in outer.items()}
        assert p == best["params"], "outer != best params"
        print("chosen", r["id"], "outer fit == best.json params")
print("search fitting seconds (log)", round(sum(r["seconds"] for r in recs), 1))
folds = [round(x, 1) for x in tf]
print(f"{run.name}: fold 1 equal to the log for {same}/{len(fin)} finalists", end="")
print(f" (parameters in the logged order: {nm}); seconds: fold fits {folds},", end="")
print(f" gap fit rows {tin:.1f}, gap all rows {tout:.1f}")
