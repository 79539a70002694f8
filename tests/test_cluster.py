"""`discover --backend dask --scheduler ADDRESS`: candidate evaluation on a real Dask cluster
(a LocalCluster of worker processes on 127.0.0.1) gives the same run as a local one, and the
ways of pointing it wrong are one-line errors."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
from cli_errors import assert_user_error
from test_search import TASK, best_of, call, history

distributed = pytest.importorskip("distributed")

BUDGET = 20


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes and a scheduler on 127.0.0.1."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


def _discover(data_root: Path, run_dir: Path, *extra: str) -> dict:
    code, out, err = call(
        "discover",
        TASK,
        "--budget",
        str(BUDGET),
        "--seed",
        "2",
        "--run-dir",
        str(run_dir),
        "--data-dir",
        str(data_root),
        "--quiet",
        "--json",
        *extra,
    )
    assert code == 0, err
    return json.loads(out.splitlines()[-1])


def test_dask_cluster_run_equals_local_run(cluster, tmp_path: Path, data_root: Path):
    local = _discover(data_root, tmp_path / "local", "--jobs", "1")
    remote = _discover(
        data_root, tmp_path / "dask", "--backend", "dask", "--scheduler", cluster.scheduler_address
    )
    assert len(history(tmp_path / "dask")) == BUDGET
    assert history(tmp_path / "dask") == history(tmp_path / "local")
    assert best_of(tmp_path / "dask") == best_of(tmp_path / "local")
    assert remote["law"] == local["law"] and remote["test_r2"] == local["test_r2"]
    # the evaluations ran in the worker processes, not here
    assert sum(job_runs(cluster).values()) > 0
    config = json.loads((tmp_path / "dask" / "config.json").read_text())
    assert config["backend"] == "dask"


def job_runs(cluster) -> dict[str, int]:
    """Per worker, how many batches of candidate evaluations it ran (from its own task log)."""
    with distributed.Client(cluster.scheduler_address, timeout=10) as client:
        logs = client.run(lambda dask_worker: [str(e[0]) for e in dask_worker.state.log])
    return {w: len({k for k in log if k.startswith("batch_of__job")}) for w, log in logs.items()}


def test_scheduler_without_dask_backend_is_refused(tmp_path: Path, data_root: Path):
    code, _, err = call(
        "discover", TASK, "--scheduler", "tcp://127.0.0.1:8786", "--data-dir", str(data_root)
    )
    assert_user_error(code, err, "--scheduler needs --backend dask")
    code, _, err = call("discover", TASK, "--backend", "dask", "--data-dir", str(data_root))
    assert_user_error(code, err, "--backend dask needs --scheduler")
    assert not (tmp_path / "runs").exists()


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_one_line_error(tmp_path: Path, data_root: Path):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    code, _, err = call(
        "discover",
        TASK,
        "--backend",
        "dask",
        "--scheduler",
        address,
        "--connect-timeout",
        "1",
        "--run-dir",
        str(tmp_path / "run"),
        "--data-dir",
        str(data_root),
        "--quiet",
    )
    assert_user_error(code, err, "cannot reach the Dask scheduler", address, "within 1s")
    assert not (tmp_path / "run" / "candidates.jsonl").exists()


def test_missing_dask_is_a_one_line_error(monkeypatch, tmp_path: Path, data_root: Path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import` sees when not installed
    code, _, err = call(
        "discover",
        TASK,
        "--backend",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:8786",
        "--run-dir",
        str(tmp_path / "run"),
        "--data-dir",
        str(data_root),
        "--quiet",
    )
    assert_user_error(code, err, "needs dask.distributed", "pip install 'sldagent[dask]'")
