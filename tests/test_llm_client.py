"""The chat client against a real HTTP server on 127.0.0.1 (tests/llm_server.py) with the real
`openai` package: retries and backoff, timeouts, outages, refusals, the cache, replay, caps,
and the API key staying out of every file."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from llm_server import LLMServer, Raw, Slow, Status

from sldagent.llm_client import (
    ChatClient,
    ClientSettings,
    FormatRefused,
    LLMUnavailable,
    ProposerStopped,
    RequestTimedOut,
    backoff_delays,
    redact_url,
    request_key,
)

FAST = {"retry_delay": 0.01, "max_delay": 0.2}


def request(text: str = "propose laws") -> dict:
    return {"model": "test", "messages": [{"role": "user", "content": text}], "seed": 1}


def client(server: LLMServer, tmp_path: Path, **kw) -> ChatClient:
    settings = ClientSettings(base_url=server.url, **{**FAST, **kw})
    return ChatClient(settings, tmp_path / "llm_cache.jsonl", api_key="sk-test")


def cache_entries(tmp_path: Path) -> list[dict]:
    path = tmp_path / "llm_cache.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def retry_waits(caplog) -> list[float]:
    return [float(m) for m in re.findall(r"in ([0-9.]+) s", caplog.text)]


def test_three_429s_then_success_backs_off_exponentially(tmp_path: Path, caplog):
    caplog.set_level(logging.WARNING, logger="sldagent.llm_client")
    with LLMServer(script=[Status(429)] * 3, responder=lambda b: "[]") as server:
        reply = client(server, tmp_path, retries=6).complete(request())
    assert reply.content == "[]" and not reply.cached
    assert server.statuses == [429, 429, 429, 200]
    (entry,) = cache_entries(tmp_path)
    assert entry["attempts"] == 4 and entry["key"] == reply.key == request_key(request())
    waits = retry_waits(caplog)
    assert len(waits) == 3 and "HTTP 429" in caplog.text
    assert waits[0] < waits[1] < waits[2]  # each wait in [0.5, 1) x 0.01 * 2**i


def test_backoff_is_seeded_exponential_and_capped():
    s = ClientSettings(retries=8, retry_delay=1.0, max_delay=10.0)
    a, b = backoff_delays(s, 0, "k"), backoff_delays(s, 0, "k")
    assert a == b and a != backoff_delays(s, 1, "k")  # seeded: same run, same waits
    for i, d in enumerate(a):
        assert 0.5 * min(10.0, 2.0**i) <= d < min(10.0, 2.0**i)


def test_retry_after_header_is_honoured(tmp_path: Path, caplog):
    caplog.set_level(logging.WARNING, logger="sldagent.llm_client")
    with LLMServer(script=[Status(429, retry_after=0.15)], responder=lambda b: "ok") as server:
        assert client(server, tmp_path).complete(request()).content == "ok"
    assert retry_waits(caplog) == [0.15]


def test_5xx_is_retried(tmp_path: Path):
    with LLMServer(script=[Status(500), Status(502), Status(503)], responder=lambda b: "x") as s:
        assert client(s, tmp_path).complete(request()).content == "x"
    assert s.statuses == [500, 502, 503, 200]


def test_finding2_a_timeout_is_a_timeout_and_never_resent_unchanged(tmp_path: Path):
    """A reply slower than the timeout: said as such, not "unavailable"; the identical request
    is not sent again (it would time out again while the server generates the abandoned one),
    also not by a resumed run, unless it gives a longer --request-timeout."""
    with LLMServer(script=[Slow(2.0)], responder=lambda b: "late") as server:
        chat = client(server, tmp_path, timeout=0.3)
        with pytest.raises(RequestTimedOut) as err:
            chat.complete(request())
        assert "timed out after 0.3 s" in str(err.value) and "unavailable" not in str(err.value)
        with pytest.raises(RequestTimedOut):  # asked again: answered from the cache, not sent
            chat.complete(request())
        resumed = client(server, tmp_path, timeout=0.3)
        with pytest.raises(RequestTimedOut):
            resumed.complete(request())
        assert len(server.bodies) == 1
        (entry,) = cache_entries(tmp_path)
        assert entry["timed_out"] == 0.3 and "content" not in entry
        assert chat.usage.requests == 0 and chat.usage_dict()["timed_out"] == 1
        patient = client(server, tmp_path, timeout=5.0)  # a longer timeout: a new attempt
        assert patient.complete(request()).content == "late"
    assert len(server.bodies) == 2


def test_a_refused_response_format_is_its_own_error_and_cached(tmp_path: Path):
    body = request() | {"response_format": {"type": "json_schema", "json_schema": {}}}
    with LLMServer(refuse={"json_schema": 422}) as server:
        chat = client(server, tmp_path)
        with pytest.raises(FormatRefused, match="HTTP 422.*json_schema"):
            chat.complete(body)
        with pytest.raises(FormatRefused):
            chat.complete(body)
        assert chat.complete(request()).content == "[]"  # the same without response_format
    assert server.statuses == [422, 200]


def test_a_persistent_outage_gives_up_with_one_line(tmp_path: Path):
    with LLMServer(fail_after=0) as server:
        with pytest.raises(LLMUnavailable) as err:
            client(server, tmp_path, retries=2).complete(request())
    assert server.statuses == [503, 503, 503]
    message = str(err.value)
    assert "\n" not in message and "HTTP 503" in message and "3 attempts" in message
    assert cache_entries(tmp_path) == []


def test_a_server_that_is_gone_is_an_outage(tmp_path: Path):
    server = LLMServer()
    with server:
        url = server.url
    settings = ClientSettings(base_url=url, retries=1, **FAST)
    with pytest.raises(LLMUnavailable, match="cannot connect"):
        ChatClient(settings, tmp_path / "c.jsonl", api_key="k").complete(request())


@pytest.mark.parametrize(
    "step", [Status(401), Status(400), Status(429, error_code="insufficient_quota")]
)
def test_a_refused_request_is_not_retried(tmp_path: Path, step: Status):
    with LLMServer(script=[step]) as server:
        with pytest.raises(LLMUnavailable, match=f"refused the request: HTTP {step.code}"):
            client(server, tmp_path).complete(request())
    assert server.statuses == [step.code]


def test_a_reply_that_is_not_a_chat_completion_is_retried(tmp_path: Path):
    script = [Raw(b"<html>proxy error</html>"), Raw(b"<html>x</html>", "text/html"), Raw(b"{}")]
    with LLMServer(script=script, responder=lambda b: "fine") as server:
        assert client(server, tmp_path).complete(request()).content == "fine"
    assert len(server.bodies) == 4


def test_cached_requests_are_not_sent_again_and_replay_needs_no_server(tmp_path: Path):
    with LLMServer(responder=lambda b: "reply to " + b["messages"][0]["content"]) as server:
        chat = client(server, tmp_path)
        first = chat.complete(request("a"))
        again = chat.complete(request("a"))
        other = chat.complete(request("b"))
        assert len(server.bodies) == 2
        assert again.cached and again.content == first.content == "reply to a"
        assert other.content == "reply to b"
    # a new client over the same cache, with the server gone: replay answers from the cache
    replay = ChatClient(ClientSettings(replay=True), tmp_path / "llm_cache.jsonl")
    assert replay.complete(request("b")).content == "reply to b"
    assert replay.usage == chat.usage and replay.usage.requests == 2
    with pytest.raises(LLMUnavailable, match="no cached reply"):
        replay.complete(request("c"))


def test_usage_is_summed_from_the_servers_usage_fields(tmp_path: Path):
    with LLMServer(responder=lambda b: "x" * 400) as server:
        chat = client(server, tmp_path, price_in=2.0, price_out=8.0)
        for text in ("a", "bb", "ccc"):
            chat.complete(request(text))
    totals = chat.usage_dict()
    assert totals["requests"] == 3 == server.replies
    assert totals["prompt_tokens"] == server.prompt_tokens
    assert totals["completion_tokens"] == server.completion_tokens == 3 * 101
    cost = (server.prompt_tokens * 2.0 + server.completion_tokens * 8.0) / 1e6
    assert totals["cost_usd"] == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize(
    "caps",
    [{"max_total_tokens": 50}, {"max_cost": 1e-4, "price_in": 1.0, "price_out": 1.0}],
)
def test_caps_stop_before_the_next_request(tmp_path: Path, caps: dict):
    with LLMServer(responder=lambda b: "y" * 400) as server:  # 101 completion tokens a reply
        chat = client(server, tmp_path, **caps)
        chat.complete(request("a"))  # nothing spent yet: allowed
        with pytest.raises(ProposerStopped, match="cap reached"):
            chat.complete(request("b"))
        assert chat.complete(request("a")).cached  # cached replies cost nothing: still there
    assert len(server.bodies) == 1


def test_the_api_key_is_sent_but_never_stored(tmp_path: Path):
    secret = "sk-test-DO-NOT-STORE-4f9a1c"
    with LLMServer(responder=lambda b: "ok") as server:
        settings = ClientSettings(base_url=server.url, **FAST)
        chat = ChatClient(settings, tmp_path / "llm_cache.jsonl", api_key=secret)
        chat.complete(request())
    assert server.auth == [f"Bearer {secret}"]  # the key was really used
    assert secret not in (tmp_path / "llm_cache.jsonl").read_text()
    assert secret not in json.dumps(settings.to_dict()) + json.dumps(chat.usage_dict())


def test_settings_errors_are_clear():
    with pytest.raises(ValueError, match="--price-in"):
        ClientSettings(max_cost=1.0)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        ChatClient(ClientSettings(), Path("/nonexistent/cache.jsonl"))


def test_urls_are_recorded_without_credentials():
    assert redact_url("https://user:pw@host.example:8443/v1?key=abc") == (
        "https://host.example:8443/v1"
    )
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redact_url(None) is None
