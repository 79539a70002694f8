"""Scaling: time and peak memory of one candidate's fit as rows and groups grow. Synthetic data
from a known law; every point runs in a process of its own so memory peaks do not mix."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass

from bench.laws import FORMS, synthetic_groups
from sldagent.fitters import FitRecipe, fit_groups, predict_groups
from sldagent.metrics import r2
from sldagent.search.fitness import SelectionConfig, search_recipe

FORM = FORMS[1]  # two power laws + offset: 5 parameters, 2 features
ROWS = (1_000, 10_000, 100_000, 1_000_000)  # one group
GROUPS = (1, 10, 100, 1000)  # 50 rows each
ROWS_PER_GROUP = 50


@dataclass(frozen=True)
class ScalingPoint:
    groups: int
    rows_per_group: int
    seconds: float  # median over the timed runs, each on a freshly parsed law
    runs: int
    fit_peak_bytes: int  # peak of numpy/Python allocations during one fit (tracemalloc)
    data_bytes: int  # the rows themselves, for scale
    max_rss_bytes: int  # the whole process's peak resident memory (imports included)
    train_r2: float

    @property
    def rows(self) -> int:
        return self.groups * self.rows_per_group


def run_point(groups: int, rows_per_group: int) -> ScalingPoint:
    """Fit the form to synthetic groups with the recipe a search candidate gets."""
    data = synthetic_groups(FORM, groups, rows_per_group, seed=1)
    recipe = search_recipe(FitRecipe(), SelectionConfig())
    times, score = [], float("nan")
    while len(times) < 3 and sum(times) < 2.0:  # a few runs when they are fast, else one
        law = FORM.law()
        start = time.perf_counter()
        fits = fit_groups(law, data, recipe)
        times.append(time.perf_counter() - start)
        score = r2(*predict_groups(law, data, fits))
    law = FORM.law()
    tracemalloc.start()
    fit_groups(law, data, recipe)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return ScalingPoint(
        groups=groups,
        rows_per_group=rows_per_group,
        seconds=statistics.median(times),
        runs=len(times),
        fit_peak_bytes=peak,
        data_bytes=sum(X.nbytes + y.nbytes for _, X, y in data),
        max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        train_r2=score,
    )


def measure(groups: int, rows_per_group: int) -> ScalingPoint:
    """run_point in a fresh Python process (`python -m bench scaling-point ...`)."""
    cmd = [sys.executable, "-m", "bench", "scaling-point", str(groups), str(rows_per_group)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return ScalingPoint(**json.loads(out.stdout.splitlines()[-1]))
