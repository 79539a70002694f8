"""FittedLaw: a discovered law with its constants per group, ready to predict, print and save.

This is what `ScalingLawSearch(...).fit(df).best_` holds. It differs from `sldagent.law.Law`
(the parsed formula without constants). Save it with `to_json()` and load it back with
`FittedLaw.from_json(text)`; loading re-parses the law text through the safe parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sympy

from sldagent.fitters import FitRecipe
from sldagent.law import Law, LawError, parse_law

FORMAT = "sldagent.FittedLaw/1"


@dataclass(frozen=True, eq=False)
class FittedLaw:
    """One formula and one constant vector per group (DESIGN invariant 3)."""

    law: Law
    params_: dict[str, dict[str, float]]  # group -> parameter -> value
    group: str | None = None  # column naming each row's group; None: the law has one group
    recipe: FitRecipe = FitRecipe()

    @classmethod
    def from_best(cls, best: Mapping, features, targets, group: str | None) -> FittedLaw:
        """From a run's best.json (the law refit on all training rows)."""
        law = parse_law(best["law"], features, targets)
        params = {str(g): {p: float(v[p]) for p in law.params} for g, v in best["params"].items()}
        return cls(law, params, group, FitRecipe.from_dict(best["recipe"]))

    @property
    def features(self) -> tuple[str, ...]:
        return self.law.features

    @property
    def targets(self) -> tuple[str, ...]:
        return self.law.targets

    @property
    def text(self) -> str | dict[str, str]:
        """The law in the law language."""
        return self.law.text

    def __str__(self) -> str:
        text = self.law.text
        return text if isinstance(text, str) else json.dumps(text)

    def latex(self) -> str:
        return self.law.latex()

    def sympy(self, group: str | None = None):
        """The sympy expression (a dict target -> expression for several targets); with a group,
        its constants substituted."""
        exprs = self.law.exprs
        if group is not None:
            values = self._constants(group)
            subs = {sympy.Symbol(p, real=True): values[p] for p in self.law.params}
            exprs = tuple(e.xreplace(subs) for e in exprs)
        if len(exprs) == 1:
            return exprs[0]
        return dict(zip(self.targets, exprs, strict=True))

    def predict(self, data: pd.DataFrame | Mapping) -> np.ndarray:
        """Predictions for the rows of `data` (columns: the features and, with several groups,
        the group column): shape (n,) for one target, (n, n_targets) for several."""
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(dict(data))
        need = [*self.features, *([self.group] if self.group and len(self.params_) > 1 else [])]
        for column in need:
            if column not in frame.columns:
                raise ValueError(
                    f"predict: missing column '{column}'; the law needs {', '.join(need)}"
                )
        X = np.empty((len(frame), len(self.features)))
        for j, f in enumerate(self.features):
            try:
                X[:, j] = pd.to_numeric(frame[f], errors="raise").to_numpy(dtype=float)
            except (ValueError, TypeError):
                raise ValueError(f"predict: column '{f}' must be numeric") from None
        if self.group and self.group in frame.columns:
            labels = frame[self.group].astype(str).str.strip().to_numpy(dtype=object)
        else:
            labels = np.full(len(frame), next(iter(self.params_)), dtype=object)
        out = np.full((len(frame), len(self.targets)), np.nan)
        for name in sorted(set(labels)):
            rows = labels == name
            out[rows] = self.law.predict(X[rows], self.theta(name))
        return out[:, 0] if len(self.targets) == 1 else out

    def _constants(self, group: str) -> dict[str, float]:
        if group not in self.params_:
            raise ValueError(
                f"unknown group '{group}'; the law has constants for {', '.join(self.params_)}"
            )
        return self.params_[group]

    def theta(self, group: str) -> np.ndarray:
        """A group's constants in the law's parameter order."""
        values = self._constants(group)
        return np.array([values[p] for p in self.law.params], dtype=float)

    def to_json(self) -> str:
        """A JSON document from_json reads back to an equal FittedLaw."""
        return json.dumps(
            {
                "format": FORMAT,
                "law": self.law.text,
                "features": list(self.features),
                "targets": list(self.targets),
                "param_names": list(self.law.params),
                "group": self.group,
                "params": self.params_,
                "recipe": self.recipe.to_dict(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> FittedLaw:
        """Inverse of to_json; the law text goes through the safe parser, never eval."""
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} document (format {d.get('format')!r})")
            names = tuple(d["param_names"])
            law = parse_law(d["law"], d["features"], d["targets"], params=names)
            params = {
                str(g): {p: float(values[p]) for p in names} for g, values in d["params"].items()
            }
            return cls(law, params, d.get("group"), FitRecipe.from_dict(d["recipe"]))
        except LawError as exc:
            raise ValueError(f"FittedLaw.from_json: bad law: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"FittedLaw.from_json: {exc!s}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FittedLaw):
            return NotImplemented
        return (
            self.law.key == other.law.key
            and set(self.law.params) == set(other.law.params)
            and self.params_ == other.params_
            and self.group == other.group
            and self.recipe == other.recipe
        )
