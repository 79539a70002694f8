"""Plumbing figures of the LLM proposer, with and without the reply schema: requests, tokens,
seconds per request and laws proposed / accepted / rejected, for the local SmolLM2-135M
(`discover --local-model`) and for the scripted test server (tests/llm_server.py).

    python scripts/llm_plumbing.py [--budget 16] [--max-tokens 256] [--skip-local]

Each row is one `sldagent discover --demo --proposer llm` run (seed 0) in a temporary
directory; the figures come from its config.json and llm_cache.jsonl. Not accuracy figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from llm_server import LLMServer, law_pool, pool_responder  # noqa: E402

from sldagent.cli import main  # noqa: E402
from sldagent.search.runlog import RunLog  # noqa: E402


def run(source: list[str], fmt: str, budget: int, max_tokens: int, run_dir: Path) -> dict:
    argv = [
        "discover", "--demo", "--proposer", "llm", "--reply-format", fmt, "--budget",
        str(budget), "--max-tokens", str(max_tokens), "--run-dir", str(run_dir), "--jobs", "1",
        "--quiet", *source,
    ]  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    config = json.loads((run_dir / "config.json").read_text())
    cache = [e for e in RunLog(run_dir / "llm_cache.jsonl").read() if "content" in e]
    seconds = [e["seconds"] for e in cache]
    records = RunLog(run_dir / "candidates.jsonl").read()
    return {
        "exit": code,
        "candidates": len(records),
        "usage": config["llm_usage"],
        "replies": config["llm_replies"],
        "s_per_request": sum(seconds) / len(seconds) if seconds else float("nan"),
        "error": err.getvalue().strip().splitlines()[-1][:160] if code else "",
        "test_r2": next(
            (line.split()[2] for line in out.getvalue().splitlines() if line.startswith("test ")),
            "—",
        ),
    }


def row(name: str, r: dict) -> str:
    u, p = r["usage"], r["replies"]
    used = p["reply_format_used"]
    asked = p["reply_format_asked"]
    fmt = asked if asked == used else f"{asked} → {used}"
    share = "—" if p["accepted_share"] is None else f"{p['accepted_share']:.2f}"
    return (
        f"| {name} | {fmt} | {u['requests']} | {u['prompt_tokens']} | {u['completion_tokens']} "
        f"| {r['s_per_request']:.1f} | {p['laws_proposed']} | {p['laws_accepted']} "
        f"| {p['laws_rejected']} | {p['replies_with_accepted_law']}/{p['replies']} ({share}) "
        f"| {r['candidates']} | {r['test_r2']} | {r['exit']} |"
    )


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--skip-local", action="store_true", help="only the scripted server")
    args = ap.parse_args()
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("json_schema", "text"):
            with LLMServer(responder=pool_responder(law_pool(("N", "D"), 6))) as server:
                source = ["--base-url", server.url, "--model", "test"]
                r = run(source, fmt, args.budget, args.max_tokens, Path(tmp) / f"scripted-{fmt}")
            rows.append(row("scripted server", r))
            if not args.skip_local:
                r = run(["--local-model"], fmt, args.budget, args.max_tokens, Path(tmp) / fmt)
                rows.append(row("SmolLM2-135M (local)", r))
                if r["error"]:
                    notes.append(f"SmolLM2 {fmt}: {r['error']}")
    print(
        "| model | reply format | requests | prompt tokens | completion tokens | s/request "
        "| laws proposed | accepted | rejected | replies with a usable law | candidates "
        "| test R² | exit |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    for n in notes:
        print(f"\n{n}")


if __name__ == "__main__":
    main_()
