"""Population: islands of MAP-Elites cells, ring migration, and the Pareto front.

Each island keeps the best candidate per cell (cell = parameter count × complexity band ×
outer form), so small and large, additive and multiplicative laws survive side by side. Parents
come from a tournament over an island's elites; every few generations each island's best moves
to the next island. All choices take an explicit random generator: the population itself holds
no randomness, so a replayed log rebuilds it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Entry:
    """An evaluated candidate as the population sees it."""

    id: int
    genome: object
    fitness: float
    complexity: int
    n_params: int
    cell: tuple


@dataclass
class Island:
    """One island: best entry per cell."""

    cells: dict[tuple, Entry] = field(default_factory=dict)

    def insert(self, e: Entry) -> bool:
        cur = self.cells.get(e.cell)
        if cur is None or (e.fitness, e.id) < (cur.fitness, cur.id):
            self.cells[e.cell] = e
            return True
        return False

    def elites(self) -> list[Entry]:
        return sorted(self.cells.values(), key=lambda e: (e.fitness, e.id))


class Population:
    """Islands plus the record of everything evaluated (for the Pareto front)."""

    def __init__(self, n_islands: int):
        self.islands = [Island() for _ in range(n_islands)]
        self.all: list[Entry] = []

    def insert(self, island: int, e: Entry) -> None:
        self.all.append(e)
        if math.isfinite(e.fitness):
            self.islands[island].insert(e)

    def best(self) -> Entry | None:
        ok = [e for e in self.all if math.isfinite(e.fitness)]
        return min(ok, key=lambda e: (e.fitness, e.id)) if ok else None

    def parents(
        self, island: int, rng: np.random.Generator, k: int = 1, size: int = 3
    ) -> list[Entry]:
        """Tournament selection among the island's elites (the global best if it is empty)."""
        elites = self.islands[island].elites()
        if not elites:
            elites = sorted(
                (e for e in self.all if math.isfinite(e.fitness)), key=lambda e: (e.fitness, e.id)
            )
        if not elites:
            return []
        out = []
        for _ in range(k):
            picks = rng.choice(len(elites), size=min(size, len(elites)), replace=False)
            out.append(elites[int(min(picks))])
        return out

    def migrate(self) -> None:
        """Ring migration: each island's best enters the next island."""
        bests = [isl.elites()[0] if isl.cells else None for isl in self.islands]
        for i, b in enumerate(bests):
            if b is not None:
                self.islands[(i + 1) % len(self.islands)].insert(b)

    def pareto(self) -> list[Entry]:
        """Non-dominated entries by (fitness, complexity), simplest first."""
        front: list[Entry] = []
        for e in sorted(
            (e for e in self.all if math.isfinite(e.fitness)),
            key=lambda e: (e.complexity, e.fitness, e.id),
        ):
            if not front or e.fitness < front[-1].fitness:
                front.append(e)
        return front


def cell_of(n_params: int, complexity: int, outer: str) -> tuple:
    """MAP-Elites cell: parameter count, complexity band (log2), outer form."""
    return (n_params, int(math.log2(max(1, complexity))), outer)
