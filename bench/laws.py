"""Generic law forms of three sizes and synthetic groups drawn from them (seeded).

They are not any task's law: sums of power laws and a ratio term, the shapes the symbolic
proposer builds, over features already scaled to O(1) ranges as the proposer scales them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sldagent.law import Law, parse_law


@dataclass(frozen=True)
class Form:
    """A law form with the parameter values groups are drawn around."""

    name: str
    text: str
    features: tuple[str, ...]
    truth: dict[str, float]

    def law(self) -> Law:
        return parse_law(self.text, self.features, ("y",))


FORMS = (
    Form("power law + offset (3 params)", "A*x**(-a) + E", ("x",), {"A": 2.0, "a": 0.5, "E": 1.0}),
    Form(
        "two power laws + offset (5 params)",
        "A*x**(-a) + B*z**(-b) + E",
        ("x", "z"),
        {"A": 1.5, "a": 0.35, "B": 2.0, "b": 0.3, "E": 1.7},
    ),
    Form(
        "three power laws + ratio term + offset (9 params)",
        "A*x**(-a) + B*z**(-b) + C*u**(-c) + G*(x/z)**g + E",
        ("x", "z", "u"),
        {"A": 1.5, "a": 0.35, "B": 2.0, "b": 0.3, "C": 0.5, "c": 0.6, "G": 0.2, "g": 0.4, "E": 1.7},
    ),
)


def synthetic_groups(
    form: Form, n_groups: int, rows: int, seed: int = 0, noise: float = 0.005
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Groups of rows from the form: features log-uniform on [0.1, 100], each group's
    parameters within +-20% of the form's, multiplicative noise of `noise`."""
    rng = np.random.default_rng(seed)
    law = form.law()
    out = []
    for g in range(n_groups):
        X = 10.0 ** rng.uniform(-1.0, 2.0, (rows, len(form.features)))
        theta = np.array([form.truth[p] for p in law.params]) * rng.uniform(
            0.8, 1.2, len(law.params)
        )
        y = law.predict(X, theta)[:, 0] * np.exp(rng.normal(0.0, noise, rows))
        out.append((f"g{g}", X, y))
    return out
