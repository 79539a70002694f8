"""Genome: a law as a structure of generic scaling-law building blocks, rendered to law text.

A genome is an offset plus a sum of terms; each term is a linear amplitude times a product of
factors; each factor applies one block (power, shifted power, saturation, exponential, log,
valley, sigmoid, linear) to one feature. An optional outer transform wraps the sum. Nothing here
knows any task: feature scales (reference values for normalisation, initial ranges) come from
the training rows the proposer was built with.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from sldagent.fitters import FitRecipe

POSITIVE_KINDS = (
    "pow",
    "inv",
    "shiftpow",
    "sat",
    "logquad",
    "logquad2",
    "log",
    "logpow",
    "loginv",
    "powlog",
)
SIGNED_KINDS = ("lin", "exp", "quad", "tanh")
OUTERS = ("id", "exp", "pow")
_FACTOR_PARAMS = {
    "pow": 1,
    "inv": 0,
    "logpow": 2,
    "loginv": 1,
    "logquad2": 2,
    "shiftpow": 2,
    "sat": 2,
    "logquad": 1,
    "log": 0,
    "powlog": 2,
    "lin": 0,
    "exp": 1,
    "quad": 1,
    "tanh": 2,
}


@dataclass(frozen=True)
class Factor:
    """One building block applied to one feature (index into the task's features)."""

    kind: str
    feature: int
    other: int = -1  # second feature for interaction blocks (powlog: x**(e + g*log(other)))


@dataclass(frozen=True)
class Term:
    """An amplitude (a linear parameter) times a product of factors."""

    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Genome:
    """offset + sum of terms, optionally inside an outer transform; plus the fitting recipe."""

    terms: tuple[Term, ...]
    offset: bool = True
    outer: str = "id"
    loss: str = "linear"
    log_target: bool = False

    def n_params(self, n_targets: int = 1) -> int:
        per = int(self.offset) + sum(
            1 + sum(_FACTOR_PARAMS[f.kind] for f in t.factors) for t in self.terms
        )
        per += 1 if self.outer in ("pow", "exp") and self.terms else 0
        return per * n_targets

    def to_dict(self) -> dict:
        return {
            "terms": [[[f.kind, f.feature, f.other] for f in t.factors] for t in self.terms],
            "offset": self.offset,
            "outer": self.outer,
            "loss": self.loss,
            "log_target": self.log_target,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Genome:
        terms = tuple(Term(tuple(Factor(k, int(f), int(o)) for k, f, o in t)) for t in d["terms"])
        return cls(
            terms=terms,
            offset=bool(d["offset"]),
            outer=d["outer"],
            loss=d["loss"],
            log_target=bool(d["log_target"]),
        )


def _round_sig(v: float, digits: int = 3) -> float:
    if v == 0 or not math.isfinite(v):
        return 0.0
    return float(f"{v:.{digits}g}")


@dataclass(frozen=True)
class FeatureScale:
    """What the proposer knows of one feature, computed from the training rows only."""

    name: str
    positive: bool
    ref: float  # positive: geometric mean; signed: mean
    spread: float  # positive: decades spanned (log range); signed: std
    log_lo: float  # positive: log(min/ref); signed: (min-mean)/std
    log_hi: float

    @classmethod
    def from_values(cls, name: str, values: np.ndarray, positive: bool) -> FeatureScale:
        v = np.asarray(values, dtype=float)
        if positive and np.all(v > 0):
            ref = _round_sig(float(np.exp(np.mean(np.log(v)))))
            lo, hi = float(np.log(v.min() / ref)), float(np.log(v.max() / ref))
            return cls(name, True, ref, hi - lo, lo, hi)
        mean = _round_sig(float(v.mean()))
        std = _round_sig(float(v.std())) or 1.0
        small = float(np.abs(v).max()) <= 10.0
        if small:  # keep small signed features as they are: simpler laws
            return cls(name, False, 0.0, 1.0, float(v.min()), float(v.max()))
        return cls(
            name, False, mean, std, float((v.min() - mean) / std), float((v.max() - mean) / std)
        )

    def text(self) -> str:
        """Normalised feature: x/ref for positive features (O(1) with logs of O(1))."""
        if self.positive:
            return f"({self.name}/{self.ref!r})"
        if self.ref == 0.0 and self.spread == 1.0:
            return self.name
        return f"(({self.name} - {self.ref!r})/{self.spread!r})"


class Renderer:
    """Turns genomes into (law text, recipe) with per-parameter bounds and initial ranges.
    Constant names skip `reserved` (the task's column names): a constant named like a column
    would be read as that column."""

    def __init__(
        self,
        scales: list[FeatureScale],
        targets: tuple[str, ...],
        reserved: frozenset[str] = frozenset(),
    ):
        self.scales = scales
        self.targets = targets
        self.reserved = reserved

    def render(self, g: Genome, seed: int = 0) -> tuple[str | dict[str, str], FitRecipe]:
        bounds: dict[str, tuple[float, float]] = {}
        init: dict[str, tuple[float, float]] = {}
        texts = {}
        for j, target in enumerate(self.targets):
            suffix = f"_{j + 1}" if len(self.targets) > 1 else ""
            texts[target] = self._render_one(g, suffix, bounds, init)
        text: str | dict[str, str] = texts if len(self.targets) > 1 else texts[self.targets[0]]
        recipe = FitRecipe(
            loss=g.loss, log_target=g.log_target, bounds=bounds, init=init, seed=seed
        )
        return text, recipe

    def _render_one(self, g: Genome, sfx: str, bounds: dict, init: dict) -> str:
        counter = itertools.count()

        def param(prefix: str, b: tuple[float, float], i: tuple[float, float] | None) -> str:
            name = f"{prefix}{next(counter)}{sfx}"
            while name in self.reserved:
                name = f"{prefix}{next(counter)}{sfx}"
            bounds[name] = b
            if i is not None:
                init[name] = i
            return name

        parts = []
        for term in g.terms:
            if g.outer == "pow":  # a power of the sum: keep the sum positive
                amp = param("a", (0.0, math.inf), (1e-3, 1e3))
            else:
                amp = param("a", (-math.inf, math.inf), (-1.0, 1.0))
            factors = [self._factor(f, param) for f in term.factors]
            parts.append("*".join([amp, *factors]))
        body = " + ".join(parts) if parts else ""
        if g.outer == "pow":
            q = param("q", (-4.0, 4.0), (0.2, 2.0))
            body = f"({body})**{q}" if body else ""
        elif g.outer == "exp" and body:
            k = param("k", (-math.inf, math.inf), (-1.0, 1.0))
            body = f"exp({k} + {body})"
        if g.offset:
            off = param("c", (-math.inf, math.inf), (-1.0, 1.0))
            body = f"{off} + {body}" if body else off
        return body or param("c", (-math.inf, math.inf), (-1.0, 1.0))

    def _factor(self, f: Factor, param) -> str:
        s = self.scales[f.feature]
        x = s.text()
        k = f.kind
        if k == "pow":
            e = param("e", (-4.0, 4.0), (-1.0, 1.0))
            return f"{x}**{e}"
        if k == "shiftpow":
            sh = param(
                "s",
                (0.0, math.exp(s.log_hi) * 1e3),
                (math.exp(s.log_lo) * 0.01, math.exp(s.log_hi)),
            )
            e = param("e", (-4.0, 4.0), (-1.0, 1.0))
            return f"({x} + {sh})**{e}"
        if k == "sat":
            sh = param("s", (0.0, 1e6), (1e-3, 1e3))
            e = param("e", (0.0, 6.0), (0.2, 2.0))
            return f"(1 + {sh}*{x}**{e})**(-1)"
        if k == "logquad":
            c = param("m", (s.log_lo - 3 * s.spread, s.log_hi + 3 * s.spread), (s.log_lo, s.log_hi))
            return f"(log({x}) - {c})**2"
        if k == "log":
            return f"log({x})"
        if k == "inv":
            return f"{x}**(-1)"
        if k in ("logpow", "loginv"):
            sh = param("s", (1e-3, 1e3), (1e-2, 10.0))
            base = f"(log({x}) - {round(s.log_lo, 6)!r} + {sh})"
            if k == "loginv":
                return f"{base}**(-1)"
            e = param("e", (-4.0, 4.0), (-1.0, 1.0))
            return f"{base}**{e}"
        if k == "logquad2":
            other = self.scales[f.other].text() if f.other >= 0 else x
            c = param("m", (s.log_lo - 3 * s.spread, s.log_hi + 3 * s.spread), (s.log_lo, s.log_hi))
            kk = param("g", (-3.0, 3.0), (-1.0, 1.0))
            return f"(log({x}) - {c} - {kk}*log({other}))**2"
        if k == "powlog":
            other = self.scales[f.other].text()
            e = param("e", (-4.0, 4.0), (-1.0, 1.0))
            gg = param("g", (-2.0, 2.0), (-0.2, 0.2))
            return f"{x}**({e} + {gg}*log({other}))"
        if k == "lin":
            return x
        if k == "exp":
            width = max(s.log_hi - s.log_lo, 1e-9)
            r = param("r", (-30.0 / width, 30.0 / width), (-3.0 / width, 3.0 / width))
            return f"exp({r}*{x})"
        if k == "quad":
            c = param(
                "m",
                (s.log_lo - (s.log_hi - s.log_lo), s.log_hi + (s.log_hi - s.log_lo)),
                (s.log_lo, s.log_hi),
            )
            return f"({x} - {c})**2"
        if k == "tanh":
            width = max(s.log_hi - s.log_lo, 1e-9)
            r = param("r", (-50.0 / width, 50.0 / width), (-5.0 / width, 5.0 / width))
            c = param("m", (s.log_lo - width, s.log_hi + width), (s.log_lo, s.log_hi))
            return f"tanh({r}*({x} - {c}))"
        raise ValueError(f"unknown factor kind {k!r}")
