"""The run directory's config.json: what a search was started with (task, settings, a
fingerprint of its training rows), checked on a resume, and its LLM usage totals."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from sldagent import __version__
from sldagent.llm_client import ChatClient
from sldagent.search.config import SearchConfig
from sldagent.search.llm import LLMProposer
from sldagent.task import Dataset, Task


def data_fingerprint(task: Task, train: Dataset) -> str:
    """sha256 of the task definition (columns, budget, validation and split rules) and of the
    training rows: a run directory holds the search of these rows only."""
    rule = task.source.extrapolate.text if task.source and task.source.extrapolate else None
    definition = {
        "task": task.name,
        "columns": list(task.columns),
        "split_columns": list(task.split_columns),
        "param_budget": task.param_budget,
        "validation": asdict(task.validation),
        "extrapolate": rule,
    }
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode())
    for column in train.frame.columns:  # the rows, column by column, in canonical order
        values = train.frame[column]
        digest.update(json.dumps(str(column)).encode())
        if column == task.group:
            digest.update(json.dumps([str(v) for v in values]).encode())
        else:
            digest.update(values.to_numpy(dtype="<f8").tobytes())
    return digest.hexdigest()


def llm_changes_added(old: dict, new: dict) -> bool:
    """The new search settings are the old ones plus LLM settings changes made on a resume."""
    if not (old.get("llm") and new.get("llm")):
        return False
    old_changes, new_changes = list(old["llm"]["changes"]), list(new["llm"]["changes"])
    same_rest = {**old, "llm": {**old["llm"], "changes": []}} == {
        **new,
        "llm": {**new["llm"], "changes": []},
    }
    return same_rest and new_changes[: len(old_changes)] == old_changes


def run_config(
    task: Task,
    train: Dataset,
    config: SearchConfig,
    folds: int,
    jobs: int,
    backend: str,
    chat: ChatClient | None,
) -> dict:
    """config.json's contents for a search of `train` with `config` over `folds` folds."""
    out = {
        "task": task.name,
        "version": __version__,
        "search": config.to_dict(),
        "features": list(task.features),
        "targets": list(task.targets),
        "param_budget": task.param_budget,
        "folds": folds,
        "proposer": config.proposer,
        "jobs": jobs,
        "backend": backend,
        "seed_human": config.seed_human,
        "data_fingerprint": data_fingerprint(task, train),
    }
    if chat is not None:
        out["llm_client"] = chat.settings.to_dict()
        out["llm_usage"] = chat.usage_dict()
    return out


def write_config(path: Path, config: dict, log: Path, logged: int = 0) -> None:
    """Write `config` (run_config's) to path, after checking that an existing config.json (and
    the `logged` candidates of the log) belong to this search: same task, rows and settings,
    budget not below."""
    budget = config["search"]["budget"]
    if path.exists():
        old = json.loads(path.read_text())
        try:  # compare with defaults filled in: a run made before a setting existed resumes
            old_search = SearchConfig.from_dict(old.get("search", {})).to_dict()
        except (TypeError, ValueError):
            old_search = None
        check_data(path, old, config["data_fingerprint"])
        if old_search is not None:  # the budget may grow on a resume: "go on to N"
            old_search["budget"] = budget
        if old_search is not None and llm_changes_added(old_search, config["search"]):
            old_search = config["search"]  # a resume's LLM flags, recorded in llm.changes
        if old.get("task") != config["task"] or old_search != config["search"]:
            raise ValueError(
                f"{path}: this run was started with other settings; "
                "resume it with the same task, seed and budget, or use a new run"
            )
    if logged > budget:
        raise ValueError(
            f"{log} already holds {logged} candidates: --budget "
            f"{budget} would end before them; give --budget {logged} or more"
        )
    path.write_text(json.dumps(config, indent=2) + "\n")


def check_data(path: Path, old: dict, fingerprint: str) -> None:
    """A run directory holds one search of one set of training rows: refuse other rows, or
    another task definition (runs made before fingerprints were recorded resume as before)."""
    if old.get("data_fingerprint", fingerprint) != fingerprint:
        raise ValueError(
            f"{path}: this run was made on other training rows or another task definition "
            "(its data fingerprint differs); give a new --run-dir, or restore that data to "
            "resume it"
        )


def usage(chat: ChatClient | None) -> tuple[int, float]:
    """LLM token count and USD spent so far (zero without an LLM)."""
    if chat is None:
        return 0, 0.0
    return chat.usage.total_tokens, chat.cost


def write_usage(
    path: Path, chat: ChatClient | None, llm: LLMProposer | None, llm_stopped: str | None
) -> None:
    """Bring the token and cost totals in the config.json at path up to date."""
    if chat is None or not path.exists():
        return
    config = json.loads(path.read_text())
    config["llm_usage"] = chat.usage_dict()
    if llm is not None:
        config["llm_replies"] = llm.stats() | {"llm_stopped": llm_stopped}
    path.write_text(json.dumps(config, indent=2) + "\n")
