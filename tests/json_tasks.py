"""Small self-made task.json folders (the development corpus's layout) for tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def task_json(name: str, per_group: bool = False, budget: int | None = 4) -> dict:
    """A task.json for two groups: loss = E + A * N**-alpha, and a signed feature x."""
    return {
        "name": name,
        "features": ["N", "x"],
        "target": "loss",
        "group": "group",
        "split": "test = N >= 40; train = N < 40",
        "units": {"N": "parameters", "loss": "nats/token"},
        "param_budget": budget,
        "source": {"repo": "none/synthetic", "paper": "tests only"},
        "baselines": [
            {
                "name": "power_law_plus_offset",
                "law": "E + A*N**(-alpha)",
                "params_per_group": 3,
                "test_r2": 0.99,
                "notes": "the generating law",
            },
            {
                "name": "fixed_floor",
                "law": "r + A*N**(-alpha)",
                "params_per_group": 2,
                "test_r2": 0.9,
                "notes": "r is fixed per group in the source",
            },
            {
                "name": "unsafe",
                "law": "__import__('os').getcwd()",
                "params_per_group": 1,
                "test_r2": -1.0,
                "notes": "must not parse",
            },
        ],
        "extrapolate": {"column": "N", "per_group": per_group, "direction": "above"},
    }


def write_task(root: Path, name: str = "toy_power", data: dict | None = None, **kw) -> Path:
    """root/name/{task.json, train.csv, test.csv, description.md}; returns the folder."""
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.json").write_text(json.dumps(data or task_json(name, **kw), indent=1))
    rng = np.random.default_rng(0)
    rows = {"train": [], "test": []}
    for g, (E, A) in {"a": (2.0, 5.0), "b": (2.5, 4.0)}.items():
        for N in [1, 2, 3, 4, 6, 8, 11, 15, 20, 26, 32, 38, 45, 52, 60]:
            x = float(rng.normal())
            loss = E + A * N**-0.3 + 0.002 * float(rng.normal())
            rows["train" if N < 40 else "test"].append(f"{g},{N},{x:.6f},{loss:.6f}")
    for split, lines in rows.items():
        (folder / f"{split}.csv").write_text("group,N,x,loss\n" + "\n".join(lines) + "\n")
    (folder / "description.md").write_text(
        f"# {name}\n\nSynthetic losses of two model families against size N.\n\n"
        "## Baselines\nE + A*N**(-alpha) (must not reach the task description)\n"
    )
    return folder
