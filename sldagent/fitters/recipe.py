"""FitRecipe (how to fit; part of a candidate, so it can evolve with the law) and FitResult."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

LOSSES = ("linear", "huber", "soft_l1")


@dataclass(frozen=True)
class FitRecipe:
    """How one law is fitted per group; seeded, with a hard time budget per fit."""

    loss: str = "linear"
    f_scale: float = 0.1  # robust-loss scale, in units of the target's std in the group
    log_target: bool = False
    n_starts: int = 64  # quasi-random points screened over the nonlinear parameters
    n_local: int = 4  # best screened points refined by variable projection
    n_polish: int = 2  # best refined points polished jointly
    iterations: int = 50  # function evaluations per parameter (+1) allowed to each local solve
    tol: float = 1e-10  # relative tolerance on cost and step (scipy's ftol/xtol/gtol)
    seed: int = 0
    time_limit: float = 20.0  # seconds per group (fit_groups: the groups share it x their number)
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    init: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if min(self.n_starts, self.n_local, self.n_polish, self.iterations) < 1:
            raise ValueError("n_starts, n_local, n_polish and iterations must be at least 1")
        if not 0 < self.tol < 1:
            raise ValueError("tol must be between 0 and 1")
        if not self.time_limit > 0 or not self.f_scale > 0:
            raise ValueError("time_limit and f_scale must be positive")
        for kind, table in (("bounds", self.bounds), ("init", self.init)):
            for name, (lo, hi) in table.items():
                if not lo <= hi:
                    raise ValueError(f"{kind} for {name!r}: low {lo} is above high {hi}")

    def start_range(self, name: str) -> tuple[float, float, bool]:
        """(low, high, log-uniform?) that starting values of parameter `name` are drawn from:
        its init range, else its bounds (an open side 4 wide), else -2..2; log-uniform when
        positive and wider than 100x."""
        if name in self.init:
            lo, hi = self.init[name]
        else:
            blo, bhi = self.bounds.get(name, (-math.inf, math.inf))
            if math.isfinite(blo):
                lo, hi = blo, bhi if math.isfinite(bhi) else min(2.0, blo + 4.0)
            else:
                lo, hi = (max(-2.0, bhi - 4.0), bhi) if math.isfinite(bhi) else (-2.0, 2.0)
        lo, hi = float(min(lo, hi)), float(max(lo, hi))
        return lo, hi, lo > 0 and hi / lo > 100

    def to_dict(self) -> dict:
        """JSON-ready form (for run logs)."""
        return {
            "loss": self.loss,
            "f_scale": self.f_scale,
            "log_target": self.log_target,
            "n_starts": self.n_starts,
            "n_local": self.n_local,
            "n_polish": self.n_polish,
            "iterations": self.iterations,
            "tol": self.tol,
            "seed": self.seed,
            "time_limit": self.time_limit,
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "init": {k: list(v) for k, v in self.init.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> FitRecipe:
        """Inverse of to_dict."""
        d = dict(d)
        d["bounds"] = {k: (float(v[0]), float(v[1])) for k, v in d.get("bounds", {}).items()}
        d["init"] = {k: (float(v[0]), float(v[1])) for k, v in d.get("init", {}).items()}
        return cls(**d)


@dataclass(frozen=True)
class FitResult:
    """Outcome of fitting one group: ok=False carries a message instead of parameters."""

    ok: bool
    theta: np.ndarray | None
    train_loss: float
    message: str
    seconds: float
    n_evals: int
