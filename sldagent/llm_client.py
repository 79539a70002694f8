"""Chat requests to any OpenAI-compatible server, with our own retries, a cache and a bill.

Every request is keyed by the hash of its JSON body (model, messages, temperature, max_tokens,
seed, response_format) and every reply is appended to the run directory's `llm_cache.jsonl`
with its token usage, so a resumed run asks nothing twice and `--replay` re-runs a search with
no server.
Retries (connection errors, 429, 5xx) back off exponentially with seeded jitter; when they run
out, `LLMUnavailable` ends the run with its log intact. A timeout is not retried unchanged (the
same request would time out again while the server goes on generating the abandoned reply):
`RequestTimedOut` lets the proposer ask for less. A server's refusal of `response_format` is
`FormatRefused`, so the proposer can step down to a simpler mode. Timeouts and refusals are
cached too, so a resumed or replayed run takes the same steps. The API key lives only in the
`openai` client object: it is never part of a request body, the cache or config.json.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sldagent.search.runlog import RunLog

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429})  # plus every 5xx


class LLMUnavailable(ValueError):
    """The server could not answer (outage, refused request, replay miss): the run stops here,
    resumable from its log. The message is one line."""


class RequestTimedOut(LLMUnavailable):
    """No reply within the request timeout: the server may be up but slower than the timeout
    allows for this request, so resending it unchanged would not help."""


class FormatRefused(LLMUnavailable):
    """The server refused the request's `response_format` (e.g. HTTP 400/422 naming it)."""


FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema")


class ProposerStopped(Exception):
    """The LLM proposer will propose no more in this run (a cost/token cap was reached, or the
    model keeps replying with nothing usable); the search ends cleanly with what it has."""


@dataclass(frozen=True)
class ClientSettings:
    """How to reach the server and what the run may spend. Only the timeout can change a
    result (a timed-out request is asked again for less); it is saved in config.json."""

    base_url: str | None = None  # None: the openai package's default (api.openai.com)
    timeout: float = 120.0  # seconds per request
    retries: int = 6  # attempts after the first, on connection errors, 429 and 5xx
    retry_delay: float = 2.0  # first backoff in seconds; doubles every retry, with jitter
    max_delay: float = 60.0
    price_in: float = 0.0  # USD per 1M prompt tokens
    price_out: float = 0.0  # USD per 1M completion tokens
    max_cost: float | None = None  # USD; no request is started once the run has spent this
    max_total_tokens: int | None = None  # same, in prompt + completion tokens
    replay: bool = False  # answer from the cache only; a miss is an error

    def __post_init__(self) -> None:
        if not self.timeout > 0 or self.retries < 0 or self.retry_delay < 0:
            raise ValueError("request timeout must be > 0, retries and retry delay >= 0")
        if self.price_in < 0 or self.price_out < 0:
            raise ValueError("token prices must be >= 0 (USD per 1M tokens)")
        if self.max_cost is not None and self.max_cost <= 0:
            raise ValueError("--max-cost must be > 0 USD")
        if self.max_cost is not None and self.price_in == 0 and self.price_out == 0:
            raise ValueError(
                "--max-cost needs the model's prices: give --price-in and --price-out "
                "(USD per 1M tokens)"
            )
        if self.max_total_tokens is not None and self.max_total_tokens <= 0:
            raise ValueError("--max-total-tokens must be > 0")

    def to_dict(self) -> dict:
        """JSON-ready, for config.json (the base URL without credentials or query)."""
        d = asdict(self)
        d["base_url"] = redact_url(self.base_url)
        return d


@dataclass(frozen=True)
class Usage:
    """Tokens the run's requests consumed (as the server's `usage` fields reported them)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def cost(self, settings: ClientSettings) -> float:
        """USD at the configured prices."""
        return (
            self.prompt_tokens * settings.price_in + self.completion_tokens * settings.price_out
        ) / 1e6

    def plus(self, prompt_tokens: int, completion_tokens: int) -> Usage:
        return Usage(
            self.requests + 1,
            self.prompt_tokens + prompt_tokens,
            self.completion_tokens + completion_tokens,
        )


@dataclass(frozen=True)
class ChatReply:
    """One reply: its text and the key of the request that produced it."""

    key: str
    content: str
    cached: bool


def request_key(request: dict) -> str:
    """The cache key: SHA-256 of the request body as canonical JSON."""
    body = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def redact_url(url: str | None) -> str | None:
    """A base URL without user:password@ or ?query (where some proxies carry keys)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def backoff_delays(settings: ClientSettings, seed: int, key: str) -> list[float]:
    """The waits before each retry: retry_delay * 2**i, capped, times a seeded jitter factor in
    [0.5, 1) (so two runs hitting a limit together do not retry in lockstep)."""
    rng = random.Random(f"{seed}:{key}")
    return [
        min(settings.max_delay, settings.retry_delay * 2**i) * (0.5 + 0.5 * rng.random())
        for i in range(settings.retries)
    ]


class ChatClient:
    """Chat completions through the `openai` package (no retries of its own), cached per run."""

    def __init__(
        self,
        settings: ClientSettings,
        cache_path: Path,
        api_key: str | None = None,
        seed: int = 0,
    ):
        self.settings = settings
        self.cache = RunLog(Path(cache_path))
        self.seed = seed
        self.replies: dict[str, dict] = {}
        self.usage = Usage()  # every reply of the run, cached or not
        self.sent = Usage()  # replies this process asked the server for
        self.timeouts = 0
        self.refusals = 0
        for entry in self.cache.read():
            self._remember(entry)
        self._client = None
        if not settings.replay:
            if not api_key and not settings.base_url:
                raise ValueError(
                    "set OPENAI_API_KEY to use the OpenAI API, or give --base-url for a local "
                    "server (vLLM, Ollama, llama.cpp, LM Studio)"
                )
            from openai import OpenAI

            # Local servers ignore the key but the client insists on one.
            self._client = OpenAI(
                base_url=settings.base_url,
                api_key=api_key or "EMPTY",
                timeout=settings.timeout,
                max_retries=0,
            )

    def _remember(self, entry: dict) -> None:
        self.replies[entry["key"]] = entry
        if "timed_out" in entry:
            self.timeouts += 1
            return
        if "refused" in entry:
            self.refusals += 1
            return
        u = entry.get("usage") or {}
        self.usage = self.usage.plus(
            int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
        )

    @property
    def cost(self) -> float:
        return self.usage.cost(self.settings)

    def usage_dict(self) -> dict:
        """Totals over every request this run made (including before a resume), for config.json."""
        return {
            "requests": self.usage.requests,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "total_tokens": self.usage.total_tokens,
            "timed_out": self.timeouts,
            "format_refused": self.refusals,
            "cost_usd": self.cost,
            "price_in_per_1m": self.settings.price_in,
            "price_out_per_1m": self.settings.price_out,
        }

    def complete(self, request: dict) -> ChatReply:
        """The reply to `request`, from the cache if this run asked it before."""
        key = request_key(request)
        hit = self.replies.get(key)
        if hit is not None and "refused" in hit:
            raise FormatRefused(hit["refused"])
        if hit is not None and "timed_out" in hit:
            # a longer --request-timeout than the one that timed out earns a new attempt
            if self.settings.replay or hit["timed_out"] >= self.settings.timeout:
                raise RequestTimedOut(_timed_out(self.settings, hit["timed_out"]))
        elif hit is not None:
            return ChatReply(key, hit["content"], cached=True)
        if self.settings.replay:
            raise LLMUnavailable(
                f"{self.cache.path}: no cached reply for request {key[:12]}; a replay can only "
                "ask what the original run asked (same sldagent version and settings)"
            )
        self._check_caps()
        start = time.monotonic()
        try:
            response, attempts = self._send(request, key)
        except FormatRefused as err:
            self._log({"key": key, "request": request, "refused": str(err)})
            raise
        except RequestTimedOut:
            self._log({"key": key, "request": request, "timed_out": self.settings.timeout})
            raise
        choice = response.choices[0]
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None) or ""
        usage = getattr(response, "usage", None)
        entry = {
            "key": key,
            "request": request,
            "content": content,
            "finish_reason": getattr(choice, "finish_reason", None),
            "model": getattr(response, "model", None),
            "usage": {
                "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            }
            if usage is not None
            else None,
            "attempts": attempts,
            "seconds": round(time.monotonic() - start, 3),
        }
        self._log(entry)
        u = entry["usage"] or {}
        self.sent = self.sent.plus(u.get("prompt_tokens", 0), u.get("completion_tokens", 0))
        return ChatReply(key, content, cached=False)

    def _log(self, entry: dict) -> None:
        self.cache.append(entry)
        self._remember(entry)

    def _check_caps(self) -> None:
        s = self.settings
        if s.max_cost is not None and self.cost >= s.max_cost:
            raise ProposerStopped(
                f"LLM cost cap reached: ${self.cost:.4f} spent of --max-cost ${s.max_cost:g}"
            )
        if s.max_total_tokens is not None and self.usage.total_tokens >= s.max_total_tokens:
            raise ProposerStopped(
                f"LLM token cap reached: {self.usage.total_tokens} tokens of "
                f"--max-total-tokens {s.max_total_tokens}"
            )

    def _send(self, request: dict, key: str):
        """One request with retries; returns (response, attempts) or raises LLMUnavailable."""
        import openai

        delays = backoff_delays(self.settings, self.seed, key)
        for attempt in range(len(delays) + 1):
            try:
                response = self._client.chat.completions.create(**request)
                if getattr(response, "choices", None):
                    return response, attempt + 1
                why, wait_hint = "a reply that is not a chat completion (no choices)", None
            except openai.APIStatusError as err:
                why, retry = _status_reason(err)
                if _refuses_format(err, request):
                    raise FormatRefused(f"the LLM server refused response_format: {why}") from None
                if not retry:
                    raise LLMUnavailable(f"the LLM server refused the request: {why}") from None
                wait_hint = _retry_after(err)
            except openai.APITimeoutError:
                raise RequestTimedOut(_timed_out(self.settings, self.settings.timeout)) from None
            except openai.APIConnectionError as err:
                why, wait_hint = f"cannot connect ({_one_line(err)})", None
            except (openai.APIError, json.JSONDecodeError) as err:  # not a chat completion
                why, wait_hint = f"unreadable reply ({_one_line(err)})", None
            if attempt == len(delays):
                break
            delay = delays[attempt]
            if wait_hint is not None:
                delay = min(self.settings.max_delay, max(delay, wait_hint))
            log.warning(
                "LLM request %s: %s; retry %d of %d in %.3g s",
                key[:12],
                why,
                attempt + 1,
                len(delays),
                delay,
            )
            time.sleep(delay)
        where = redact_url(self.settings.base_url) or "the OpenAI API"
        raise LLMUnavailable(
            f"LLM server {where} unavailable: {why} (gave up after {len(delays) + 1} attempts)"
        )


def _timed_out(settings: ClientSettings, seconds: float) -> str:
    where = redact_url(settings.base_url) or "the OpenAI API"
    return f"LLM request to {where} timed out after {seconds:g} s (--request-timeout)"


def _refuses_format(err, request: dict) -> bool:
    """An error reply about the response_format of a request that has one (400, 422; 500 from
    llama-cpp-python's server, which answers a field it does not know with a validation error)."""
    if "response_format" not in request or err.status_code not in (400, 422, 500, 501):
        return False
    text = f"{err.message} {err.body}".lower()
    return any(word in text for word in FORMAT_WORDS)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:160]


def _status_reason(err) -> tuple[str, bool]:
    """(one-line reason, retry?) for an HTTP error reply."""
    status = err.status_code
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    message = _one_line(inner.get("message") or err.message or "")
    code = inner.get("code") or inner.get("type")
    why = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if code == "insufficient_quota":  # a 429 that waiting does not cure
        return why, False
    return why, status in RETRY_STATUSES or status >= 500


def _retry_after(err) -> float | None:
    try:
        value = float(err.response.headers.get("retry-after", ""))
    except (ValueError, AttributeError):
        return None
    return value if value >= 0 else None
