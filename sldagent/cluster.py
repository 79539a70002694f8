"""Candidate evaluation on a Dask cluster: joblib's Dask backend pointed at a scheduler.

The search loop does not change: it asks joblib for the "dask" backend, which finds the client
made current here. Results come back in proposal order, so a run on a cluster writes the same
history and law as a local one (DESIGN invariant 5). dask.distributed is an optional extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from joblib import parallel_config

CONNECT_TIMEOUT = 10.0  # seconds to wait for the scheduler before giving up


@contextmanager
def dask_client(scheduler: str, timeout: float = CONNECT_TIMEOUT) -> Iterator[object]:
    """Connect to the scheduler at `scheduler` (tcp://HOST:PORT) and make it the client joblib's
    "dask" backend uses inside the block. A missing dask.distributed or an unreachable scheduler
    is a one-line ValueError."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(
            "--backend dask needs dask.distributed; install it with pip install 'sldagent[dask]'"
        ) from None
    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        why = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g}s ({why:.120}); "
            "check the address and that the scheduler is running"
        ) from None
    try:
        # parallel_config registers joblib's "dask" backend; the backend finds the current client
        with parallel_config(backend="dask", client=client), client.as_current():
            yield client
    finally:
        client.close()
