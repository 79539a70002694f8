"""What the search's worker processes need of their own: to end with the process they serve.

loky keeps idle workers for 300 s and a worker does not notice its parent's death while it
waits for work, so a `discover` killed with SIGKILL left its workers running for minutes. Each
loky worker (set as the executor's initializer) watches its parent and exits once it is gone.
"""

from __future__ import annotations

import os
import threading
import time

PARENT_POLL_SECONDS = 0.25


def exit_with_parent() -> None:
    """Worker initializer: a daemon thread ends this process when its parent has died (the
    worker is then re-parented, so its parent pid changes)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="sldagent-exit-with-parent", daemon=True).start()


def worker_options(backend: str | None) -> dict:
    """joblib.Parallel keyword arguments that make a backend's workers end with this process."""
    return {"initializer": exit_with_parent} if backend in (None, "loky") else {}
