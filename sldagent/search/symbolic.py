"""The built-in symbolic proposer: mutation and crossover of genomes (no LLM needed).

It starts from generic forms (a constant; a power law in each feature; a sum and a product of
power laws over all features) and explores by structural edits. It knows the task only through
feature names, which features are positive, their ranges in the training rows and the budget.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sldagent.fitters import LOSSES, FitRecipe
from sldagent.search.genome import (
    OUTERS,
    POSITIVE_KINDS,
    SIGNED_KINDS,
    Factor,
    FeatureScale,
    Genome,
    Renderer,
    Term,
)
from sldagent.task import Dataset, Task

MAX_TERMS = 4
UNLIMITED_BUDGET = 16  # per target, when the task sets no parameter budget


def ratio_scales(task: Task, X: np.ndarray) -> list[FeatureScale]:
    """Dimensionless ratios of positive features that share a unit (two counts of the same
    thing, e.g. how many times each item was seen): natural variables of a law by dimensional
    analysis, built from the units the task declares, never from its name."""
    out = []
    positive = [j for j, f in enumerate(task.features) if f in task.positive]
    for a, i in enumerate(positive):
        for j in positive[a + 1 :]:
            fi, fj = task.features[i], task.features[j]
            unit = task.feature_info[fi].unit if fi in task.feature_info else ""
            if not unit or unit != (task.feature_info[fj].unit if fj in task.feature_info else ""):
                continue
            ratio = X[:, j] / X[:, i]
            if np.all(ratio > 0) and np.ptp(np.log(ratio)) > 1e-9:
                out.append(FeatureScale.from_values(f"{fj}/{fi}", ratio, True))
    return out


class SymbolicProposer:
    """Proposes genomes for one task; `render` turns them into law text and a fit recipe."""

    name = "symbolic"

    def __init__(self, train: Dataset):
        task = train.task
        X = train.X
        self.scales = [
            FeatureScale.from_values(f, X[:, j], f in task.positive)
            for j, f in enumerate(task.features)
        ]
        self.n_features = len(self.scales)
        self.scales += ratio_scales(task, X)
        self.n_targets = len(task.targets)
        budget = task.param_budget
        self.budget = (budget // self.n_targets) if budget else UNLIMITED_BUDGET
        self.renderer = Renderer(self.scales, task.targets, frozenset(task.columns))
        self.positive = [j for j, s in enumerate(self.scales) if s.positive]
        self.positive_target = bool(np.all(train.y > 0))
        self.max_terms = max(MAX_TERMS, len(self.scales))

    # -- helpers ---------------------------------------------------------------------------------
    def fits_budget(self, g: Genome) -> bool:
        """Within the per-target parameter budget and the size limits (and fittable)."""
        if g.log_target and not self.positive_target:
            return False
        if not g.terms:
            return g.offset
        return len(g.terms) <= self.max_terms and g.n_params(1) <= self.budget

    def render(self, g: Genome, seed: int = 0) -> tuple[str | dict[str, str], FitRecipe]:
        return self.renderer.render(g, seed)

    def _kinds(self, j: int) -> tuple[str, ...]:
        return POSITIVE_KINDS if self.scales[j].positive else SIGNED_KINDS

    def _random_factor(self, rng: np.random.Generator, j: int | None = None) -> Factor:
        if j is None:
            j = int(rng.integers(len(self.scales)))
        kinds = self._kinds(j)
        kind = str(kinds[int(rng.integers(len(kinds)))])
        other = -1
        if kind in ("powlog", "logquad2"):
            others = [i for i in self.positive if i != j]
            if not others:
                kind = "pow" if kind == "powlog" else "logquad"
            else:
                other = int(others[int(rng.integers(len(others)))])
        return Factor(kind, j, other)

    def _default_factor(self, j: int) -> Factor:
        return Factor("pow" if self.scales[j].positive else "lin", j)

    # -- the initial population: generic forms only (DESIGN invariant 4) --------------------------
    def initial(self) -> list[Genome]:
        n = self.n_features  # derived ratios enter by mutation only
        out = [Genome(terms=())]
        for j in range(n):
            out.append(Genome(terms=(Term((self._default_factor(j),)),)))
        out.append(Genome(terms=tuple(Term((self._default_factor(j),)) for j in range(n))))
        # products: of powers (positive features) and exponentials (signed features), i.e.
        # log-linear in log x and in x; and the same inside exp (log-linear in the target)
        product = Term(tuple(self._product_factor(j) for j in range(n)))
        out.append(Genome(terms=(product,)))
        out.append(
            Genome(
                terms=tuple(Term((Factor("log", j),)) for j in self.positive if j < n), outer="exp"
            )
        )
        for j in range(n):
            if not self.scales[j].positive:
                out.append(Genome(terms=(Term((Factor("exp", j),)),)))
        return [g for g in out if self.fits_budget(g)]

    def _product_factor(self, j: int) -> Factor:
        return Factor("pow" if self.scales[j].positive else "exp", j)

    # -- variation -------------------------------------------------------------------------------
    def mutate(self, g: Genome, rng: np.random.Generator) -> Genome:
        ops = [
            self._add_term,
            self._drop_term,
            self._change_kind,
            self._add_factor,
            self._drop_factor,
            self._toggle_offset,
            self._change_outer,
            self._change_recipe,
            self._change_feature,
        ]
        for _ in range(20):
            op = ops[int(rng.integers(len(ops)))]
            child = op(g, rng)
            if child is not None and child != g and self.fits_budget(child):
                return child
        return g

    def crossover(self, a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
        pool = list(a.terms) + [t for t in b.terms if t not in a.terms]
        for _ in range(20):
            k = int(rng.integers(1, min(self.max_terms, len(pool)) + 1)) if pool else 0
            idx = sorted(rng.choice(len(pool), size=k, replace=False).tolist()) if k else []
            child = dataclasses.replace(a, terms=tuple(pool[i] for i in idx))
            if self.fits_budget(child):
                return child
        return a

    def _add_term(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        if len(g.terms) >= self.max_terms:
            return None
        k = 1 if rng.random() < 0.6 else 2
        js = rng.choice(len(self.scales), size=min(k, len(self.scales)), replace=False)
        term = Term(tuple(self._random_factor(rng, int(j)) for j in sorted(js.tolist())))
        return dataclasses.replace(g, terms=(*g.terms, term))

    def _drop_term(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        if not g.terms:
            return None
        i = int(rng.integers(len(g.terms)))
        return dataclasses.replace(g, terms=g.terms[:i] + g.terms[i + 1 :])

    def _pick_factor(self, g: Genome, rng: np.random.Generator) -> tuple[int, int] | None:
        spots = [(i, j) for i, t in enumerate(g.terms) for j in range(len(t.factors))]
        return spots[int(rng.integers(len(spots)))] if spots else None

    def _replace_factor(self, g: Genome, i: int, j: int, f: Factor | None) -> Genome:
        factors = list(g.terms[i].factors)
        if f is None:
            del factors[j]
        else:
            factors[j] = f
        terms = list(g.terms)
        terms[i] = Term(tuple(factors))
        return dataclasses.replace(g, terms=tuple(terms))

    def _change_kind(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        spot = self._pick_factor(g, rng)
        if spot is None:
            return None
        i, j = spot
        return self._replace_factor(
            g, i, j, self._random_factor(rng, g.terms[i].factors[j].feature)
        )

    def _change_feature(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        spot = self._pick_factor(g, rng)
        if spot is None:
            return None
        i, j = spot
        return self._replace_factor(g, i, j, self._random_factor(rng))

    def _add_factor(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        if not g.terms:
            return None
        i = int(rng.integers(len(g.terms)))
        if len(g.terms[i].factors) >= max(3, len(self.scales)):
            return None
        terms = list(g.terms)
        terms[i] = Term((*g.terms[i].factors, self._random_factor(rng)))
        return dataclasses.replace(g, terms=tuple(terms))

    def _drop_factor(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        spot = self._pick_factor(g, rng)
        if spot is None or len(g.terms[spot[0]].factors) < 2:
            return None
        return self._replace_factor(g, spot[0], spot[1], None)

    def _toggle_offset(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        return dataclasses.replace(g, offset=not g.offset) if g.terms else None

    def _change_outer(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        choices = [o for o in OUTERS if o != g.outer]
        return dataclasses.replace(g, outer=choices[int(rng.integers(len(choices)))])

    def _change_recipe(self, g: Genome, rng: np.random.Generator) -> Genome | None:
        if rng.random() < 0.5:
            choices = [x for x in LOSSES if x != g.loss]
            return dataclasses.replace(g, loss=choices[int(rng.integers(len(choices)))])
        return dataclasses.replace(g, log_target=not g.log_target)
