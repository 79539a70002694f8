"""The LLM proposer: a mutation operator that reads the task and the best laws so far and
proposes new law forms with fitting recipes.

The prompt (templates in `prompts/`) holds the task's description, features with units and the
ranges of the training rows, targets, group count, parameter budget, the law language, and the
best and a few structurally different laws of the population with their validation R². It never
holds test rows or scores, failed or rejected attempts (each request starts fresh from the good
laws), or the human law unless the run seeded it. Every proposed law goes through the whitelist
parser with the task's budget and must use a feature; refusals are appended to
`llm_rejected.jsonl`, never run. Replies are constrained to a JSON schema where the server
allows it (search/reply_format.py); a timed-out request is asked again for less.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping, Set
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template

import numpy as np

from sldagent.fitters import LOSSES, FitRecipe
from sldagent.law import Law, LawError, parse_law
from sldagent.llm_client import (
    ChatClient,
    FormatRefused,
    LLMUnavailable,
    ProposerStopped,
    RequestTimedOut,
)
from sldagent.search.llm_reply import ReplyError, candidate_objects, param_ranges
from sldagent.search.population import Population
from sldagent.search.reply_format import REPLY_FORMATS, reply_schema, response_format
from sldagent.search.runlog import RunLog
from sldagent.task import Dataset

PROMPTS = Path(__file__).resolve().parent / "prompts"
MAX_LOGGED_CHARS = 2000  # of a rejected law text, in llm_rejected.jsonl
MIN_TOKENS = 256  # a timed-out request is asked again with half its max_tokens, down to this
CHANGEABLE = ("model", "temperature", "max_tokens", "reply_format")  # on --resume

log = logging.getLogger(__name__)


class LLMTimedOut(LLMUnavailable):
    """Requests kept timing out although each asked for less than the last."""


@dataclass(frozen=True)
class LLMConfig:
    """What the LLM is asked and how (part of a search's result-determining settings)."""

    model: str
    temperature: float = 0.8
    max_tokens: int = 4096  # per reply
    per_request: int = 8  # laws asked for in one request
    max_requests: int = 4  # per generation
    k_best: int = 5  # best laws shown in the prompt
    k_diverse: int = 3  # structurally different laws shown besides
    patience: int = 8  # consecutive replies with no usable law before the proposer gives up
    reply_format: str = "json_schema"  # the first mode tried (see search/reply_format.py)
    # settings changed on --resume: ({"from_generation": g, "max_tokens": 1024, ...}, ...)
    changes: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(dict(c) for c in self.changes))
        if self.reply_format not in REPLY_FORMATS:
            raise ValueError(f"--reply-format must be one of {', '.join(REPLY_FORMATS)}")
        for change in self.changes:
            unknown = set(change) - {"from_generation", *CHANGEABLE}
            if unknown or not isinstance(change.get("from_generation"), int):
                raise ValueError(f"config.json: an LLM settings change {change} is not valid")
        if not self.model:
            raise ValueError("the LLM proposer needs --model")
        if min(self.max_tokens, self.per_request, self.max_requests, self.patience) < 1:
            raise ValueError("max_tokens, per_request, max_requests and patience must be >= 1")
        if not 0 <= self.temperature <= 2:
            raise ValueError("--temperature must be between 0 and 2")

    def at(self, generation: int) -> LLMConfig:
        """The settings in effect for a generation (the changes made on resumes applied)."""
        out = replace(self, changes=())
        for change in self.changes:
            if change["from_generation"] <= generation:
                out = replace(out, **{k: v for k, v in change.items() if k in CHANGEABLE})
        return out

    def with_change(self, generation: int, **given) -> LLMConfig:
        """These settings from `generation` on (a resume's flags); unchanged ones are dropped."""
        now = self.at(generation)
        diff = {k: v for k, v in given.items() if v is not None and getattr(now, k) != v}
        if not diff:
            return self
        replace(now, **diff)  # validates the new values
        change = {"from_generation": generation, **diff}
        return replace(self, changes=(*self.changes, change))


@dataclass(frozen=True)
class Shown:
    """A law of the population as the prompt shows it."""

    id: int
    law: str | dict
    validation_r2: float
    n_params: int
    loss: str
    log_target: bool


@dataclass(frozen=True)
class LLMCandidate:
    """A parsed, new law from a reply, with its recipe and where it came from."""

    law: Law
    text: str | dict
    recipe: FitRecipe
    parents: tuple[int, ...]
    note: dict  # request key and rationale, for the candidate log


def shown_law(record: Mapping) -> Shown:
    """A candidate log record reduced to what a prompt shows."""
    recipe = record.get("recipe") or {}
    return Shown(
        id=int(record["id"]),
        law=record["law"],
        validation_r2=float(record["validation_r2"]),
        n_params=int(record["n_params"]),
        loss=str(recipe.get("loss", "linear")),
        log_target=bool(recipe.get("log_target", False)),
    )


def laws_to_show(
    population: Population, shown: Mapping[int, Shown], k_best: int, k_diverse: int
) -> tuple[list[Shown], list[Shown]]:
    """The k best laws, then the best law of up to k_diverse other MAP-Elites cells (other
    parameter counts, sizes or outer forms), best first."""
    ranked = sorted(
        (e for e in population.all if math.isfinite(e.fitness)), key=lambda e: (e.fitness, e.id)
    )
    best = ranked[:k_best]
    cells = {e.cell for e in best}
    diverse = []
    for e in ranked[k_best:]:
        if len(diverse) >= k_diverse:
            break
        if e.cell not in cells:
            cells.add(e.cell)
            diverse.append(e)
    return [shown[e.id] for e in best], [shown[e.id] for e in diverse]


def request_seed(seed: int, generation: int, request: int) -> int:
    """The `seed` sent with a request: distinct per (run seed, generation, request), so two
    requests of one generation are two cache entries and two samples."""
    digest = hashlib.sha256(f"{seed}/{generation}/{request}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def _num(v: float) -> str:
    return f"{v:.4g}"


class LLMProposer:
    """Asks the model for laws, one generation at a time, and keeps the usable ones."""

    name = "llm"

    def __init__(
        self,
        train: Dataset,
        config: LLMConfig,
        chat: ChatClient | None,
        seed: int = 0,
        rejected_path: Path | None = None,
    ):
        self.task = train.task
        self.config, self.chat, self.seed = config, chat, seed
        self.rejected = RunLog(rejected_path) if rejected_path is not None else None
        self._logged = (
            {(r["request"], r["item"]) for r in self.rejected.read()} if self.rejected else set()
        )
        self.empty_streak = 0
        self.format = REPLY_FORMATS.index(config.reply_format)  # the mode now used
        self.format_refusals: list[str] = []
        self.shrink = 0  # halvings of laws asked and max_tokens after timeouts
        self.counts = dict.fromkeys(
            ("replies", "replies_with_accepted_law", "laws_proposed", "laws_accepted"), 0
        )
        self.counts |= {"laws_rejected": 0, "replies_without_candidates": 0, "timeouts": 0}
        self.system = (PROMPTS / "system.txt").read_text(encoding="utf-8").strip()
        self.template = Template((PROMPTS / "propose.txt").read_text(encoding="utf-8"))
        self.task_text = self._task_fields(train)

    # -- the prompt ------------------------------------------------------------------------------
    def _task_fields(self, train: Dataset) -> dict[str, str]:
        task = self.task
        X, y = train.X, train.y

        def line(name: str, values: np.ndarray) -> str:
            info = task.feature_info.get(name)
            unit = f" [{info.unit}]" if info and info.unit else ""
            what = f": {info.description}" if info and info.description else ""
            lo, hi = float(np.min(values)), float(np.max(values))
            sign = ", always > 0" if lo > 0 else ""
            return f"- {name}{unit}{what}; from {_num(lo)} to {_num(hi)}{sign}"

        features = [line(f, X[:, j]) for j, f in enumerate(task.features)]
        targets = [line(t, y[:, j]) for j, t in enumerate(task.targets)]
        budget = task.param_budget
        multi = len(task.targets) > 1
        f1 = task.features[0]
        f2 = task.features[1] if len(task.features) > 1 else task.features[0]
        examples = [
            f"E + A*{f1}**(-alpha)",
            f"E + A*{f1}**(-alpha) + B*{f2}**(-beta)",
            f"c0 + c1*log({f1}) + c2*exp(-k*{f2})",
            f"L0 + A/(1 + ({f1}/s)**(-q))",
        ]
        if multi:
            shape = (
                "With several targets, a law is a JSON object with one formula per target, "
                f"keys {', '.join(task.targets)}; constants may be shared between targets."
            )
            law_example = "{" + ", ".join(f'"{t}": "<formula>"' for t in task.targets) + "}"
        else:
            shape = ""
            law_example = '"<formula>"'
        reply = (
            '{"laws": [\n'
            f'  {{"law": {law_example},\n'
            '   "params": [{"name": "A", "bounds": [0, null], "init": [0.1, 10]}, '
            '{"name": "alpha", "bounds": [0, 3], "init": [0.1, 1]}],\n'
            '   "loss": "linear", "log_target": false,\n'
            '   "rationale": "why this form should extrapolate"}\n'
            "]}"
        )
        return {
            "description": task.description or task.name,
            "features": "\n".join(features),
            "targets": "\n".join(targets),
            "groups": str(len(set(train.group_labels.tolist()))),
            "budget": str(budget) if budget else "any number of",
            "budget_note": "counted over all targets together" if multi else "in total",
            "law_shape": shape,
            "examples": "\n".join(f"  {e}" for e in examples),
            "reply_format": reply,
        }

    def _law_line(self, s: Shown) -> str:
        if isinstance(s.law, Mapping):
            text = json.dumps({t: s.law[t] for t in self.task.targets if t in s.law})
        else:
            text = str(s.law)
        fit = []
        if s.loss != "linear":
            fit.append(f"{s.loss} loss")
        if s.log_target:
            fit.append("log target")
        how = f", fitted with {' and '.join(fit)}" if fit else ""
        return f"[validation R² {_num(s.validation_r2)}, {s.n_params} constants{how}] {text}"

    def messages(self, best: list[Shown], diverse: list[Shown], ask: int) -> list[dict]:
        """The chat messages of one request."""
        if best:
            parts = [
                "The best so far, best first (validation R²: R² on the largest training runs "
                "after fitting on the others; 1 is perfect):"
            ]
            parts += [f"{i}. {self._law_line(s)}" for i, s in enumerate(best, start=1)]
            if diverse:
                parts.append("Structurally different ones:")
                parts += [f"- {self._law_line(s)}" for s in diverse]
            laws = "\n".join(parts)
        else:
            laws = "None yet: start from simple, generic forms of different shapes."
        user = self.template.substitute(self.task_text, laws=laws, ask=str(ask))
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": user.strip()},
        ]

    def request(
        self,
        messages: list[dict],
        generation: int,
        r: int,
        ask: int = 8,
        max_tokens: int | None = None,
        mode: str = "text",
    ) -> dict:
        """The request body: everything that determines the reply (and so the cache key)."""
        c = self.config.at(generation)
        body = {
            "model": c.model,
            "messages": messages,
            "temperature": c.temperature,
            "max_tokens": max_tokens or c.max_tokens,
            "seed": request_seed(self.seed, generation, r),
        }
        schema = reply_schema(self.task.features, self.task.targets, ask)
        fmt = response_format(mode, schema)
        if fmt is not None:
            body["response_format"] = fmt
        return body

    @property
    def reply_format(self) -> str:
        return REPLY_FORMATS[self.format]

    def stats(self) -> dict:
        """What the replies held, for config.json (the accepted share is of replies that held at
        least one usable new law)."""
        replies = self.counts["replies"]
        share = self.counts["replies_with_accepted_law"] / replies if replies else None
        return {
            "reply_format_asked": self.config.reply_format,
            "reply_format_used": self.reply_format,
            "format_refusals": list(self.format_refusals),
            **self.counts,
            "accepted_share": share,
        }

    def _ask(
        self, generation: int, r: int, best: list[Shown], diverse: list[Shown], ask: int
    ) -> object:
        """One reply: a refused response_format steps down to
        the next mode, a timeout asks again for half the laws and max_tokens, never the same."""
        cfg = self.config.at(generation)
        floor = min(MIN_TOKENS, cfg.max_tokens)
        while True:
            ask_now = max(1, ask >> self.shrink)
            max_tokens = max(floor, cfg.max_tokens >> self.shrink)
            messages = self.messages(best, diverse, ask_now)
            body = self.request(messages, generation, r, ask_now, max_tokens, self.reply_format)
            try:
                return self.chat.complete(body)
            except FormatRefused as err:
                if self.reply_format == "text":
                    raise
                self.format_refusals.append(f"{self.reply_format}: {err}")
                self.format += 1
                log.warning("%s; asking with reply format %s from now on", err, self.reply_format)
            except RequestTimedOut as err:
                self.counts["timeouts"] += 1
                if ask_now == 1 and max_tokens == floor:
                    raise LLMTimedOut(
                        f"{err}, even asking for 1 law with max_tokens {max_tokens}: raise "
                        "--request-timeout (a small CPU model needs minutes per reply)"
                    ) from None
                self.shrink += 1
                log.warning(
                    "%s; asking for %d law(s) with max_tokens %d instead",
                    err,
                    max(1, ask >> self.shrink),
                    max(floor, cfg.max_tokens >> self.shrink),
                )

    # -- proposals -------------------------------------------------------------------------------
    def propose(
        self,
        generation: int,
        n: int,
        population: Population,
        shown: Mapping[int, Shown],
        taken: Set[str],
    ) -> list[LLMCandidate]:
        """Up to n new laws for one generation (fewer if max_requests replies hold fewer)."""
        if self.chat is None:
            raise ValueError("the LLM proposer needs a chat client")
        best, diverse = laws_to_show(population, shown, self.config.k_best, self.config.k_diverse)
        parents = tuple(s.id for s in best + diverse)
        out: list[LLMCandidate] = []
        keys = set(taken)
        cfg = self.config.at(generation)
        for r in range(cfg.max_requests):
            if len(out) >= n:
                break
            reply = self._ask(generation, r, best, diverse, min(cfg.per_request, n - len(out)))
            got = self._read(reply.content, reply.key, generation, keys, parents)
            out.extend(got[: n - len(out)])
            self.counts["replies"] += 1
            self.counts["replies_with_accepted_law"] += bool(got)
            self.empty_streak = 0 if got else self.empty_streak + 1
            if self.empty_streak >= self.config.patience:
                raise ProposerStopped(
                    f"the model's last {self.empty_streak} replies held no usable new law "
                    f"(see llm_rejected.jsonl)"
                )
        return out

    def _read(
        self, content: str, key: str, generation: int, taken: set[str], parents: tuple[int, ...]
    ) -> list[LLMCandidate]:
        try:
            items = candidate_objects(content)
        except ReplyError as err:
            self.counts["replies_without_candidates"] += 1
            self._reject(generation, key, 0, content, str(err))
            return []
        out: list[LLMCandidate] = []
        self.counts["laws_proposed"] += len(items)
        for i, item in enumerate(items):
            try:
                cand = self.candidate(item, key, parents)
            except (LawError, ValueError, TypeError) as err:
                raw = item.get("law") if isinstance(item, dict) else item
                self.counts["laws_rejected"] += 1
                self._reject(generation, key, i, raw, " ".join(str(err).split()))
                continue
            if cand.law.key in taken:
                self.counts["laws_rejected"] += 1
                self._reject(generation, key, i, cand.text, "duplicate of a law already proposed")
                continue
            taken.add(cand.law.key)
            self.counts["laws_accepted"] += 1
            out.append(cand)
        return out

    def candidate(self, item: object, key: str, parents: tuple[int, ...]) -> LLMCandidate:
        """One reply object as a parsed law and recipe; raises with the reason it is refused."""
        if isinstance(item, str):  # a bare formula
            item = {"law": item}
        if not isinstance(item, dict):
            raise ValueError(f"a candidate must be a JSON object, got {type(item).__name__}")
        text = item.get("law")
        targets = self.task.targets
        if isinstance(text, dict) and len(targets) == 1 and list(text) == list(targets):
            text = text[targets[0]]  # {target: formula} for a single target
        if not isinstance(text, str | dict) or not text:
            raise ValueError('a candidate needs "law": a formula (one per target)')
        law = parse_law(
            text, self.task.features, self.task.targets, max_params=self.task.param_budget
        )
        features = set(self.task.features)
        for target, expr in zip(law.targets, law.exprs, strict=True):
            if not any(s.name in features for s in expr.free_symbols):
                raise ValueError(
                    f"law for {target!r} uses no feature ({', '.join(self.task.features)}): "
                    "a law of constants alone predicts nothing"
                )
        bounds, init = param_ranges(item.get("params"), law.params)
        loss = item.get("loss", "linear") or "linear"
        if loss not in LOSSES:
            raise ValueError(f"loss {str(loss)[:40]!r} is not one of {', '.join(LOSSES)}")
        log_target = item.get("log_target")
        log_target = False if log_target is None else log_target
        if not isinstance(log_target, bool):
            raise ValueError('"log_target" must be true or false')
        recipe = FitRecipe(
            loss=loss, log_target=log_target, bounds=bounds, init=init, seed=self.seed
        )
        rationale = item.get("rationale")
        note = {"request": key[:16]}
        if isinstance(rationale, str) and rationale.strip():
            note["rationale"] = " ".join(rationale.split())[:300]
        return LLMCandidate(law, law.text, recipe, parents, note)

    def _reject(self, generation: int, key: str, item: int, raw: object, reason: str) -> None:
        if self.rejected is None or (key, item) in self._logged:
            return
        self._logged.add((key, item))
        law = raw if isinstance(raw, str | dict) else repr(raw)
        if isinstance(law, str) and len(law) > MAX_LOGGED_CHARS:
            law = law[:MAX_LOGGED_CHARS] + "..."
        self.rejected.append(
            {"generation": generation, "request": key, "item": item, "law": law, "reason": reason}
        )
