"""A small OpenAI-compatible chat server for the tests: real HTTP on 127.0.0.1, scripted replies.

It stands in for a remote paid API. `POST /v1/chat/completions` answers with the next scripted
step (a reply, an HTTP error, a slow reply, a body that is not JSON), then with `responder`'s
text. Replies carry `usage` fields (about 4 characters per token), and the server keeps what it
received and the usage it reported, so tests can check the client's bill against it.
`refuse={"json_schema": 400}` refuses requests whose response_format has that type with that
status (as servers without structured output do), so tests can watch the fallback.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """A 200 chat completion with this text."""

    content: str


@dataclass(frozen=True)
class Status:
    """An HTTP error reply (429, 500, 503, 401, ...)."""

    code: int
    error_code: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Slow:
    """Wait this long before answering with `then` (the client times out meanwhile)."""

    seconds: float
    then: object = None


@dataclass(frozen=True)
class Raw:
    """A 200 reply whose body is these bytes (not a chat completion)."""

    body: bytes
    content_type: str = "application/json"


def tokens(text: str) -> int:
    return len(text) // 4 + 1


class LLMServer:
    """Scripted steps first, then `responder(request body) -> reply text`; `fail_after=N` turns
    every request after N successful replies into a 503 (an outage)."""

    def __init__(
        self,
        script: Sequence[object] = (),
        responder: Callable[[dict], str] | None = None,
        fail_after: int | None = None,
        refuse: dict[str, int] | None = None,
    ):
        self.refuse = dict(refuse or {})
        self.script = list(script)
        self.responder = responder or (lambda body: "[]")
        self.fail_after = fail_after
        self.bodies: list[dict] = []
        self.auth: list[str] = []
        self.statuses: list[int] = []
        self.replies = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> LLMServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                body = json.loads(raw)
                kind = (body.get("response_format") or {}).get("type")
                if kind in server.refuse:
                    code = server.refuse[kind]
                    with server._lock:
                        server.bodies.append(body)
                        server.statuses.append(code)
                    message = f"response_format type {kind!r} is not supported"
                    self._send(code, {"error": {"message": message, "type": "invalid_request"}})
                    return
                step = server._next(body, self.headers.get("Authorization", ""))
                self._answer(step, body)

            def _answer(self, step: object, body: dict) -> None:
                if isinstance(step, Slow):
                    time.sleep(step.seconds)
                    self._answer(step.then or Reply(server.responder(body)), body)
                elif isinstance(step, Status):
                    server._status(step.code)
                    err = {"message": f"scripted {step.code}", "type": "scripted"}
                    if step.error_code:
                        err["code"] = step.error_code
                    headers = {}
                    if step.retry_after is not None:
                        headers["Retry-After"] = str(step.retry_after)
                    self._send(step.code, {"error": err}, headers)
                elif isinstance(step, Raw):
                    server._status(200)
                    self._write(200, step.body, {"Content-Type": step.content_type})
                else:
                    assert isinstance(step, Reply)
                    self._send(200, server._completion(body, step.content))

            def _send(self, code: int, payload: dict, headers: dict | None = None) -> None:
                self._write(code, json.dumps(payload).encode(), headers or {})

            def _write(self, code: int, data: bytes, headers: dict) -> None:
                try:
                    self.send_response(code)
                    headers = {"Content-Type": "application/json", **headers}
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # -- state (handlers run in threads) ---------------------------------------------------------
    def _next(self, body: dict, auth: str) -> object:
        with self._lock:
            self.bodies.append(body)
            self.auth.append(auth)
            if self.script:
                return self.script.pop(0)
            if self.fail_after is not None and self.replies >= self.fail_after:
                return Status(503)
            return Reply(self.responder(body))

    def _status(self, code: int) -> None:
        with self._lock:
            self.statuses.append(code)

    def _completion(self, body: dict, content: str) -> dict:
        prompt = sum(tokens(m.get("content") or "") for m in body.get("messages", []))
        completion = tokens(content)
        with self._lock:
            self.statuses.append(200)
            self.replies += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion
        return {
            "id": f"chatcmpl-{self.replies}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "test"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


# ----------------------------------------------------------------- replies with real laws


def law_pool(features: Sequence[str], budget: int) -> list[str]:
    """Distinct sum-of-terms laws over the features (offset + per feature: nothing, a power, a
    log, 1/x or 1/sqrt(x)), within the parameter budget."""
    options = ["", "pow", "log", "inv", "isqrt"]
    out = []
    for combo in itertools.product(options, repeat=len(features)):
        terms, n = [], 1
        for i, (kind, f) in enumerate(zip(combo, features, strict=True)):
            if kind == "pow":
                terms.append(f"A{i}*{f}**(-e{i})")
                n += 2
            elif kind == "log":
                terms.append(f"A{i}*log({f})")
                n += 1
            elif kind == "inv":
                terms.append(f"A{i}/{f}")
                n += 1
            elif kind == "isqrt":
                terms.append(f"A{i}/sqrt({f})")
                n += 1
        if terms and n <= budget:
            out.append(" + ".join(["E", *terms]))
    return out


def candidate(law: str) -> dict:
    """A reply object in the format the prompt asks for (bounds for the exponents)."""
    params = {
        name: {"bounds": [0, 3], "init": [0.05, 1.0]} for name in re.findall(r"\be\d+\b", law)
    }
    return {"law": law, "params": params, "loss": "linear", "rationale": "sum of power laws"}


def pool_responder(pool: Sequence[str]) -> Callable[[dict], str]:
    """Replies with as many laws as the prompt asks for, from a window of the pool chosen by
    the request's hash: the same request always gets the same reply."""

    def respond(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        match = re.search(r"Propose (\d+) new laws", prompt)
        ask = int(match.group(1)) if match else 8
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
        start = int.from_bytes(digest[:4], "big") % len(pool)
        laws = [pool[(start + i) % len(pool)] for i in range(ask)]
        if body.get("response_format"):  # constrained: exactly the JSON object asked for
            return json.dumps({"laws": [candidate(x) for x in laws]})
        items = json.dumps([candidate(x) for x in laws], indent=1)
        return f"Here are {ask} candidates.\n```json\n{items}\n```\nEach one extrapolates."

    return respond
