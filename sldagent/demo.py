"""The demo task: a generated, Chinchilla-like set of runs whose true law is known.

Every row is one training run of a model family (group `model`) with N parameters trained on
D tokens; its final loss follows

    loss = E + A / N**alpha + B / D**beta + noise

with each family's own constants (CONSTANTS), Gaussian noise of standard deviation NOISE
(seeded), N log-uniform in [1e7, 5e9] and D = N times a tokens-per-parameter ratio log-uniform in
[5, 100]; N and D are rounded to 4 significant digits before the loss is computed. The held-out
test rows are the runs with N >= 1e9. `python examples/make_demo.py` writes the CSV; the package
ships the same bytes (sldagent/examples/chinchilla_like.csv) for `sldagent discover --demo`.
This is our own synthetic data, not SLDBench.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from sldagent.task import Dataset, Task

TRUE_LAW = "E + A / N**alpha + B / D**beta"
CONSTANTS = {  # per model family; arch_a has the constants of Hoffmann et al. 2022 (approach 3)
    "arch_a": {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28},
    "arch_b": {"E": 1.82, "A": 520.0, "alpha": 0.36, "B": 380.0, "beta": 0.29},
    "arch_c": {"E": 1.60, "A": 300.0, "alpha": 0.32, "B": 450.0, "beta": 0.27},
}
RUNS_PER_GROUP = 100
NOISE = 0.01  # nats
SEED = 20240601
FEATURES = ("N", "D")
TARGET = "loss"
GROUP = "model"
EXTRAPOLATE = "N >= 1e9"
CSV = Path(__file__).resolve().parent / "examples" / "chinchilla_like.csv"


def generate(seed: int = SEED) -> str:
    """The demo CSV's text (deterministic: same bytes on every run); other seeds draw fresh
    runs from the same law, for studies that must not look at the shipped example."""
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    out.write(f"{GROUP},{','.join(FEATURES)},{TARGET}\n")
    for name, c in CONSTANTS.items():
        n = 10 ** rng.uniform(7.0, np.log10(5e9), RUNS_PER_GROUP)
        ratio = 10 ** rng.uniform(np.log10(5.0), 2.0, RUNS_PER_GROUP)
        noise = rng.normal(0.0, NOISE, RUNS_PER_GROUP)
        for n_i, r_i, e_i in zip(n, ratio, noise, strict=True):
            n_i = float(f"{n_i:.4g}")
            d_i = float(f"{n_i * r_i:.4g}")
            loss = c["E"] + c["A"] / n_i ** c["alpha"] + c["B"] / d_i ** c["beta"] + e_i
            out.write(f"{name},{n_i:.4g},{d_i:.4g},{loss:.4f}\n")
    return out.getvalue()


def demo_task(param_budget: int | None = None) -> Task:
    """The demo as a custom task over the shipped CSV."""
    from sldagent.custom_task import task_from_csv

    return task_from_csv(CSV, FEATURES, (TARGET,), GROUP, EXTRAPOLATE, param_budget)


def true_law_r2(rows: Dataset) -> float:
    """R² of the generating law, with its true constants, on the given rows (e.g. test)."""
    from sldagent.evaluation import score_with_constants
    from sldagent.law import parse_law

    law = parse_law(TRUE_LAW, FEATURES, (TARGET,), params=tuple(CONSTANTS["arch_a"]))
    return score_with_constants(law, CONSTANTS, rows)
