"""Export a run's best law as a standalone artefact: LaTeX, JSON, sympy or a plain Python module.

The Python module needs only numpy: the law (already whitelisted and re-printed by law.py) plus
the fitted constants per group, so a researcher can drop it into a notebook without sldagent.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import sympy

from sldagent.custom_task import read_run_file
from sldagent.law import parse_law

FORMATS = ("latex", "json", "python", "sympy")
_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
}


def read_best(run_dir: Path) -> dict:
    """The run's best.json, or a one-line error saying the run has not finished."""
    path = Path(run_dir) / "best.json"
    if not path.exists():
        raise ValueError(
            f"{path} not found: the run has not finished; resume it with "
            f"`sldagent discover --resume {run_dir}`"
        )
    return read_run_file(path, ("law", "params"))


def _law(best: dict, features: list[str], targets: list[str]):
    return parse_law(best["law"], features, targets)


def tex_escape(text: str) -> str:
    """Text as inert LaTeX on one line: every special character escaped, and line breaks and
    other control characters (which would end a `%` comment) as spaces."""
    out = []
    for char in str(text):
        if char in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[char])
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def to_latex(best: dict, features: list[str], targets: list[str]) -> str:
    law = _law(best, features, targets)
    rows = []
    for group, values in best["params"].items():
        consts = ", ".join(f"{sympy.latex(sympy.Symbol(k))} = {v:.6g}" for k, v in values.items())
        rows.append(f"% {tex_escape(group)}: {consts}")
    return f"\\[ {law.latex()} \\]\n" + "\n".join(rows) + "\n"


def to_json(best: dict, features: list[str], targets: list[str]) -> str:
    keep = (
        "task",
        "law",
        "latex",
        "param_names",
        "params",
        "n_params",
        "complexity",
        "validation_r2",
        "recipe",
        "proposer",
        "seed_human",
    )
    return (
        json.dumps(
            {k: best[k] for k in keep if k in best} | {"features": features, "targets": targets},
            indent=2,
        )
        + "\n"
    )


def to_sympy(best: dict, features: list[str], targets: list[str]) -> str:
    law = _law(best, features, targets)
    lines = [
        "# The discovered law as a sympy expression (srepr: constructors only).",
        "from sympy import Add, Float, Integer, Max, Min, Mul, Pow, Rational, Symbol  # noqa",
        "from sympy import Abs, exp, log, tanh  # noqa",
        "",
    ]
    for t, e in zip(law.targets, law.exprs, strict=True):
        lines.append(f"{t} = {sympy.srepr(e)}")
    lines.append(f"PARAMS = {json.dumps(best['params'], indent=4)}")
    return "\n".join(lines) + "\n"


def to_python(best: dict, features: list[str], targets: list[str]) -> str:
    law = _law(best, features, targets)
    texts = law.text if isinstance(law.text, dict) else {targets[0]: law.text}
    args = ", ".join(features)
    out = [
        f'"""Scaling law for {best.get("task", "a task")} discovered by sldagent.',
        "",
        "predict(group, "
        + args
        + ") returns the predicted "
        + ", ".join(targets)
        + "; needs only numpy.",
        '"""',
        "",
        "import functools",
        "",
        "import numpy as np",
        "",
        f"PARAMS = {json.dumps(best['params'], indent=4)}",
        "",
        "",
        "def _min(*a):",
        "    return functools.reduce(np.minimum, a)",
        "",
        "",
        "def _max(*a):",
        "    return functools.reduce(np.maximum, a)",
        "",
        "",
        f"def predict(group, {args}):",
        '    """Predicted target(s) for one group (a key of PARAMS); arrays broadcast."""',
        "    exp, log, sqrt, tanh, abs, min, max = (",
        "        np.exp, np.log, np.sqrt, np.tanh, np.abs, _min, _max)",
        "    p = PARAMS[group]",
    ]
    for name in law.params:
        out.append(f"    {name} = p[{name!r}]")
    for f in features:
        out.append(f"    {f} = np.asarray({f}, dtype=float)")
    if len(targets) == 1:
        out.append(f"    return {texts[targets[0]]}")
    else:
        out.append("    return {")
        for t in targets:
            out.append(f"        {t!r}: {texts[t]},")
        out.append("    }")
    return "\n".join(out) + "\n"


def export(run_dir: Path, fmt: str, features: list[str], targets: list[str]) -> str:
    """The artefact text in the given format."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    best = read_best(run_dir)
    return {"latex": to_latex, "json": to_json, "python": to_python, "sympy": to_sympy}[fmt](
        best, features, targets
    )


def latex_table(report_dir: Path) -> str:
    """A booktabs table of a benchmark report (its results.json): per task the law of the run
    with the best validation R², its parameter count, our test R² (mean ± std of clipped R²
    over seeds), the human law refit by us and as published; the clipped mean last."""
    from sldagent.report import RESULTS, displayed_run, fmt, mean_row, records, summarize

    path = Path(report_dir) / RESULTS
    if not path.exists():
        raise ValueError(
            f"{path} not found: give the --out directory of a finished `sldagent benchmark`"
        )
    results = json.loads(path.read_text())
    rows = summarize(results)

    def num(value: float | None) -> str:
        return (
            "--"
            if value is None
            else "$" + fmt(value).replace("−", "-").replace("∞", r"\infty") + "$"
        )

    lines = [
        r"% needs \usepackage{booktabs,amsmath}; from `sldagent export --format latex-table`",
        r"\begin{tabular}{l p{0.46\linewidth} r r r r}",
        r"\toprule",
        r"Task & Law (best validation $R^2$ run) & Params & Ours $R^2$ & Human refit & "
        r"Human published \\",
        r"\midrule",
    ]
    for r in rows:
        run = displayed_run(records(results, "sldagent", r.task))
        law = run["latex"].replace(r"\begin{aligned}", r"\begin{aligned}[t]")
        std = "" if r.ours_std is None else r" \pm " + fmt(r.ours_std)
        ours = "$" + fmt(r.ours_mean).replace("−", "-") + std + "$"
        lines.append(
            f"{tex_escape(r.task)} & ${law}$ & {run['n_params']} & {ours} & "
            f"{num(r.human_refit)} & {num(r.human_published)} \\\\"
        )
    m = mean_row(rows)
    lines += [
        r"\midrule",
        f"Clipped mean ({len(rows)} tasks) & & & {num(m['ours_mean'])} & "
        f"{num(m['human_refit'])} & {num(m['human_published'])} \\\\",
        r"\bottomrule",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"
