"""`python -m bench`: measure fit throughput, search throughput and scaling; write RESULTS.md.

python -m bench --out bench/RESULTS.md                 # everything (about an hour on 2 cores)
python -m bench --only fit --tasks sft_scaling_law     # a part, printed to stdout
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench import fit, machine, scaling, search
from bench.laws import FORMS
from sldagent.task import list_tasks, resolve_data_root

SECTIONS = ("fit", "search", "scaling")


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def _r2(value: float) -> str:
    return f"{value:.6f}" if math.isfinite(value) else str(value)


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def fit_section(timings: list[fit.FitTiming], repeats: int) -> str:
    lines = [
        "## Fit throughput",
        "",
        f"Median wall time over {repeats} repeats to fit the law to every group and score it "
        "(train R², pooled over groups), each repeat on a freshly parsed law so that compiling "
        "it is paid every time, as for a new candidate. (a) our default fitter "
        "(`fit_groups` with the task's `human_recipe`; the default `FitRecipe()` for the generic "
        "forms); (b) the reference in the style of SLDBench's published evaluator: `Law.predict` "
        'as the numpy function, `scipy.optimize.minimize(method="BFGS")` on the MSE from '
        f"all-ones parameters, per group; (c) (b) plus {fit.RESTARTS} random restarts "
        "(seeded, drawn from the same start ranges as ours), best MSE kept. Speed-up = time of "
        '(b) or (c) / time of (a), measured in the same process run. "As good": our train R² '
        f"is at least theirs − {fit.R2_TOLERANCE:g}. Our fitter keeps every parameter inside "
        'the bounds the task\'s TOML declares; the reference knows no bounds, and "out" counts '
        "the groups whose fitted parameters it left outside them. Generic forms: 8 synthetic "
        "groups × 50 rows from `bench/laws.py`, no bounds.",
        "",
        "| law | groups | rows | params | (a) s | (a) R² | (b) s | (b) R² | (b) out | (c) s "
        "| (c) R² | (c) out | speed-up vs (b) | as good as (b) | speed-up vs (c) "
        "| as good as (c) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in timings:
        lines.append(
            f"| {t.case.name} | {len(t.case.groups)} | {t.case.rows} | {t.n_params} "
            f"| {_s(t.seconds['ours'])} | {_r2(t.r2['ours'])} "
            f"| {_s(t.seconds['bfgs'])} | {_r2(t.r2['bfgs'])} | {t.outside['bfgs']} "
            f"| {_s(t.seconds['bfgs+restarts'])} | {_r2(t.r2['bfgs+restarts'])} "
            f"| {t.outside['bfgs+restarts']} "
            f"| {t.speedup('bfgs'):.1f}× | {_mark(t.as_good('bfgs'))} "
            f"| {t.speedup('bfgs+restarts'):.1f}× | {_mark(t.as_good('bfgs+restarts'))} |"
        )
    return "\n".join(lines)


def search_section(timings: list[search.SearchTiming], budget: int) -> str:
    lines = [
        "## Search throughput",
        "",
        f"`Search(task, train, SearchConfig(budget={budget}, seed=0)).run(jobs=N)` (what "
        f"`sldagent discover TASK --budget {budget} --jobs N` runs): candidates evaluated per "
        "second of wall time, including proposing, parsing, logging and the final refit of the "
        "best law. With 2 jobs the loky workers are started (and have imported the search) "
        "before the clock starts.",
        "",
        "| task | jobs | candidates | seconds | candidates/s |",
        "|---|---|---|---|---|",
    ]
    for t in timings:
        lines.append(f"| {t.task} | {t.jobs} | {t.candidates} | {t.seconds:.1f} | {t.rate:.2f} |")
    return "\n".join(lines)


def scaling_section(by_rows: list, by_groups: list) -> str:
    def table(points: list, what: str) -> list[str]:
        out = [
            f"| {what} | rows | seconds | µs per row | fit peak MiB | data MiB | process peak "
            "RSS MiB | train R² |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in points:
            key = p.rows if what == "rows" else p.groups
            out.append(
                f"| {key} | {p.rows} | {_s(p.seconds)} | {1e6 * p.seconds / p.rows:.1f} "
                f"| {p.fit_peak_bytes / 2**20:.1f} | {p.data_bytes / 2**20:.1f} "
                f"| {p.max_rss_bytes / 2**20:.0f} | {_r2(p.train_r2)} |"
            )
        return out

    lines = [
        "## Scaling",
        "",
        f"One candidate's fit (`fit_groups` with the search's recipe: "
        "`search_recipe(FitRecipe(), SelectionConfig())`) of the law "
        f"`{scaling.FORM.text}` to synthetic rows drawn from it (`bench/laws.py`), each point "
        "in its own Python process. Time: median of up to 3 runs (one when a run takes "
        "over 2 s), each on a freshly parsed law. Fit peak: the peak of numpy and Python "
        "allocations during one fit (`tracemalloc`), the data excluded. Process peak RSS: "
        "`getrusage` maximum resident set of that process, imports included.",
        "",
        "By rows (one group):",
        "",
        *table(by_rows, "rows"),
        "",
        f"By groups ({scaling.ROWS_PER_GROUP} rows each):",
        "",
        *table(by_groups, "groups"),
    ]
    return "\n".join(lines)


def header(argv: Sequence[str], started: str, load_before: str) -> str:
    info = machine.describe()
    lines = [
        "# Benchmark results",
        "",
        "Reproduce with (from the repository root, data root as for the tests):",
        "",
        "```bash",
        f"SLDAGENT_DATA=../shared/sldbench python -m bench {shlex.join(argv)}",
        "```",
        "",
        f"Run {started}. Machine: {info['cores (nproc)']} cores (`nproc`), {info['CPU']}; "
        f"Python {info['Python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"sympy {info['sympy']}; commit {info['commit']}. Load average (1/5/15 min) at the "
        f"start: {load_before}, at the end: {machine.load()}.",
        "",
        "The machine's cores are shared with other jobs while this runs, so absolute times are "
        "noisy; the ratios compare methods measured side by side in the same process run.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["scaling-point"]:  # internal: one scaling point, in its own process
        point = scaling.run_point(int(argv[1]), int(argv[2]))
        print(json.dumps(dataclasses.asdict(point)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these parts")
    parser.add_argument("--tasks", nargs="*", help="tasks (default: all 8)")
    parser.add_argument("--repeats", type=int, default=3, help="fit timings: repeats (median)")
    parser.add_argument("--budget", type=int, default=48, help="search: candidates per run")
    parser.add_argument("--data-dir", help="data root (else $SLDAGENT_DATA)")
    parser.add_argument("--out", help="write the results here (default: print them)")
    args = parser.parse_args(argv)
    sections = args.only or list(SECTIONS)
    tasks = args.tasks or list_tasks()
    root = resolve_data_root(args.data_dir)
    started, load_before = time.strftime("%Y-%m-%d %H:%M %Z"), machine.load()
    parts = []
    if "fit" in sections:
        cases = [fit.task_case(t, root) for t in tasks] + [fit.form_case(f) for f in FORMS]
        timings = []
        for case in cases:
            timings.append(fit.measure(case, args.repeats))
            print(f"fit {case.name}: {timings[-1].seconds}", file=sys.stderr, flush=True)
        parts.append(fit_section(timings, args.repeats))
    if "search" in sections:
        rows = []
        for t in tasks:
            for jobs in (1, 2):
                rows.append(search.measure(t, root, args.budget, jobs))
                print(f"search {t} jobs {jobs}: {rows[-1].rate:.2f}/s", file=sys.stderr)
        parts.append(search_section(rows, args.budget))
    if "scaling" in sections:
        by_rows = [scaling.measure(1, n) for n in scaling.ROWS]
        by_groups = [scaling.measure(g, scaling.ROWS_PER_GROUP) for g in scaling.GROUPS]
        parts.append(scaling_section(by_rows, by_groups))
    text = "\n\n".join([header(argv, started, load_before), *parts]) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
