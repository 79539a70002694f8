"""The LLM proposer and LLM-driven searches, against a real OpenAI-compatible HTTP server on
127.0.0.1 (tests/llm_server.py) through the real `openai` client; fits and searches are real.

Proposer tests script the server's replies (hostile text, laws over budget, malformed JSON);
the end-to-end tests run `sldagent discover --proposer llm` on vocab_scaling_law with a server
that answers with laws from a fixed pool, chosen by the request's hash.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_errors import assert_user_error
from llm_server import LLMServer, Reply, Slow, candidate, law_pool, pool_responder

from sldagent.cli import main
from sldagent.law import parse_law
from sldagent.llm_client import ChatClient, ClientSettings, ProposerStopped
from sldagent.search.llm import (
    LLMConfig,
    LLMProposer,
    LLMTimedOut,
    Shown,
    laws_to_show,
    request_seed,
)
from sldagent.search.loop import TIMING_FIELDS, Search, SearchConfig
from sldagent.search.population import Entry, Population
from sldagent.search.runlog import RunLog
from sldagent.task import load_task, load_test, load_train

TASK = "vocab_scaling_law"
SECRET = "sk-test-never-in-a-file-7c1e"


@pytest.fixture(autouse=True)
def _llm_env(monkeypatch):
    """Commands see only the --data-dir, --base-url and key each test gives."""
    for name in ("SLDAGENT_DATA", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def vocab(data_root: Path):
    task = load_task(TASK)
    return task, load_train(task, data_root)


def make_proposer(train, server: LLMServer, tmp_path: Path, **config) -> LLMProposer:
    settings = ClientSettings(base_url=server.url, retry_delay=0.01)
    chat = ChatClient(settings, tmp_path / "llm_cache.jsonl", api_key="k")
    cfg = LLMConfig(model="test", **config)
    return LLMProposer(train, cfg, chat, seed=0, rejected_path=tmp_path / "llm_rejected.jsonl")


def propose(proposer: LLMProposer, n: int = 8, generation: int = 0):
    return proposer.propose(generation, n, Population(4), {}, set())


def rejected(tmp_path: Path) -> list[dict]:
    return RunLog(tmp_path / "llm_rejected.jsonl").read()


def reply(*items) -> Reply:
    return Reply(json.dumps(list(items)))


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def history(run_dir: Path) -> list[str]:
    out = []
    for rec in RunLog(Path(run_dir) / "candidates.jsonl").read():
        for key in TIMING_FIELDS:
            rec.pop(key, None)
        out.append(json.dumps(rec, sort_keys=True))
    return out


GOOD = "E + A*non_vocab_parameters**(-a) + B*num_characters**(-b)"


# ----------------------------------------------------------------- the prompt


def test_prompt_holds_task_ranges_budget_and_language_and_no_test_rows(
    vocab, tmp_path: Path, data_root: Path
):
    task, train = vocab
    with LLMServer() as server:
        proposer = make_proposer(train, server, tmp_path)
    system, user = (m["content"] for m in proposer.messages([], [], ask=8))
    assert "JSON" in system
    assert task.description in user
    for j, f in enumerate(task.features):
        info = task.feature_info[f]
        lo, hi = train.X[:, j].min(), train.X[:, j].max()
        assert f"- {f} [{info.unit}]: {info.description}; from {lo:.4g} to {hi:.4g}" in user
    y = train.y[:, 0]
    assert f"{task.targets[0]} [nats]" in user and f"from {y.min():.4g} to {y.max():.4g}" in user
    assert "1 group(s)" in user and "at most 7 fitted constants" in user
    assert "Propose 8 new laws" in user and "None yet" in user
    section = user.split("Examples of valid syntax")[1].split("# Laws evaluated")[0]
    examples = re.findall(r"^  (\S.*)$", section, re.M)
    assert len(examples) == 4
    for text in examples:  # the syntax examples are valid laws of this task
        parse_law(text, task.features, task.targets, max_params=task.param_budget)
    # no test row: the test split's vocab_size lies above every training value
    test_max = load_test(task, data_root).X[:, task.features.index("vocab_size")].max()
    assert test_max > train.X[:, task.features.index("vocab_size")].max()
    assert f"{test_max:.4g}" not in user
    assert re.sub(r"\s", "", task.human.formula) not in re.sub(r"\s", "", user)


def _entry(i: int, fitness: float, cell: tuple) -> Entry:
    return Entry(id=i, genome=None, fitness=fitness, complexity=9, n_params=cell[0], cell=cell)


def test_prompt_shows_the_best_laws_then_other_cells(vocab, tmp_path: Path):
    task, train = vocab
    pop = Population(2)
    cells = [(3, 3, "llm"), (3, 3, "llm"), (4, 3, "llm"), (3, 3, "llm"), (5, 4, "llm")]
    shown = {}
    for i, (fit, cell) in enumerate(zip([-2.0, -1.5, -1.0, -0.5, -0.1], cells, strict=True)):
        pop.insert(i % 2, _entry(i, fit, cell))
        shown[i] = Shown(i, f"E + A{i}*vocab_size**(-a)", 0.9 - i / 10, cell[0], "linear", False)
    pop.insert(0, _entry(9, math.inf, (3, 3, "llm")))  # a failed candidate is never shown
    shown[9] = Shown(9, "E + failed*vocab_size", -math.inf, 2, "linear", False)
    best, diverse = laws_to_show(pop, shown, k_best=2, k_diverse=3)
    assert [s.id for s in best] == [0, 1]
    assert [s.id for s in diverse] == [2, 4]  # 3 shares a cell with the best ones
    with LLMServer() as server:
        proposer = make_proposer(train, server, tmp_path)
    user = proposer.messages(best, diverse, ask=3)[1]["content"]
    assert "1. [validation R² 0.9, 3 constants] E + A0*vocab_size**(-a)" in user
    assert "2. [validation R² 0.8, 3 constants] E + A1*vocab_size**(-a)" in user
    assert "- [validation R² 0.7, 4 constants] E + A2*vocab_size**(-a)" in user
    assert "A3" not in user and "failed" not in user


# ----------------------------------------------------------------- replies


def test_hostile_law_text_is_rejected_logged_and_never_run(vocab, tmp_path: Path):
    task, train = vocab
    marker = tmp_path / "pwned"
    hostile = [
        f'__import__("os").system("touch {marker}")',
        f"open('{marker}', 'w').write('x')",
        "().__class__.__bases__[0].__subclasses__()",
        f"exec(\"open('{marker}','w')\")",
        "(lambda: vocab_size)()",
        "E + A*vocab_size if 1 else 0",
    ]
    items = [{"law": h} for h in hostile]
    items.append({"law": GOOD, "loss": "__import__('os')"})  # hostile recipe field
    items.append({"law": GOOD, "params": {"__class__": {"bounds": [0, 1]}}})  # ignored name
    with LLMServer(script=[reply(*items)]) as server:
        (got,) = propose(make_proposer(train, server, tmp_path, max_requests=1))
    assert got.law.key == parse_law(GOOD, task.features, task.targets).key
    assert got.recipe.bounds == {}
    assert not marker.exists()
    log = rejected(tmp_path)
    assert [r["item"] for r in log] == list(range(7))
    assert [r["law"] for r in log[:6]] == hostile
    assert all(r["reason"] and "\n" not in r["reason"] for r in log)
    assert "is not one of" in log[6]["reason"]


def test_a_law_over_the_parameter_budget_is_rejected(vocab, tmp_path: Path):
    _, train = vocab
    nine = (
        "E + A*non_vocab_parameters**(-a) + B*vocab_size**(-b) + C*num_characters**(-c)"
        " + D*log(vocab_size)**g"
    )
    with LLMServer(script=[reply({"law": nine}, {"law": GOOD})]) as server:
        got = propose(make_proposer(train, server, tmp_path, max_requests=1))
    assert len(got) == 1 and len(got[0].law.params) == 5
    (log,) = rejected(tmp_path)
    assert log["law"] == nine and "the budget is 7" in log["reason"]


def test_malformed_json_keeps_the_complete_candidates(vocab, tmp_path: Path):
    task, train = vocab
    laws = [GOOD, "E + A*log(vocab_size)", "E + A/num_characters"]
    text = json.dumps([candidate(x) for x in laws], indent=1)
    cut = text[: text.rindex('"law"') + 9]  # the third object is cut off
    script = [Reply("Sure, here:\n```json\n" + cut), Reply("I'd rather not {say} [this].")]
    with LLMServer(script=script) as server:
        got = propose(make_proposer(train, server, tmp_path, max_requests=2), n=3)
    assert [c.law.key for c in got] == [
        parse_law(x, task.features, task.targets).key for x in laws[:2]
    ]
    (log,) = rejected(tmp_path)
    assert "no JSON list of candidates" in log["reason"]


@pytest.mark.parametrize(
    "item, why",
    [
        ({"law": GOOD, "params": {"a": {"bounds": [3, 0]}}}, "low 3 is above high 0"),
        ({"law": GOOD, "params": {"a": {"init": [0, None]}}}, "must be finite"),
        ({"law": GOOD, "params": {"a": {"bounds": ["zero", 1]}}}, "is not a number"),
        ({"law": GOOD, "params": {"a": {"bounds": [1e400, 1e400]}}}, "no finite value"),
        ({"law": {"__class__": GOOD}}, "unexpected ['__class__']"),
        ({"law": GOOD, "params": "a in [0, 1]"}, '"params" must be an object'),
        ({"law": GOOD, "log_target": "yes"}, "log_target"),
        ({"formula": GOOD}, 'needs "law"'),
    ],
)
def test_bad_candidate_fields_are_rejected_with_a_reason(vocab, tmp_path, item, why):
    _, train = vocab
    with LLMServer(script=[reply(item)]) as server:
        assert propose(make_proposer(train, server, tmp_path, max_requests=1)) == []
    (log,) = rejected(tmp_path)
    assert why in log["reason"]


def test_items_that_are_neither_objects_nor_formulas_are_rejected(vocab, tmp_path: Path):
    _, train = vocab
    with LLMServer(script=[reply(42, {"law": GOOD})]) as server:
        assert len(propose(make_proposer(train, server, tmp_path, max_requests=1))) == 1
    (log,) = rejected(tmp_path)
    assert log["item"] == 0 and "must be a JSON object, got int" in log["reason"]


def test_bare_formula_strings_are_laws(vocab, tmp_path: Path):
    task, train = vocab
    with LLMServer(script=[Reply(json.dumps([GOOD, "E + C*log(vocab_size)"]))]) as server:
        got = propose(make_proposer(train, server, tmp_path, max_requests=1))
    assert [c.law.key for c in got] == [
        parse_law(x, task.features, task.targets).key for x in (GOOD, "E + C*log(vocab_size)")
    ]


def test_params_become_the_fit_recipe(vocab, tmp_path: Path):
    _, train = vocab
    item = {
        "law": GOOD,
        "params": {"a": {"bounds": [0, None], "init": [0.1, 1]}, "B": [-1e4, 1e4]},
        "loss": "huber",
        "log_target": False,
        "rationale": "  two   power laws\n",
    }
    with LLMServer(script=[reply(item)]) as server:
        (c,) = propose(make_proposer(train, server, tmp_path, max_requests=1))
    assert c.recipe.loss == "huber" and c.recipe.seed == 0
    assert c.recipe.bounds == {"a": (0.0, math.inf), "B": (-1e4, 1e4)}
    assert c.recipe.init == {"a": (0.1, 1.0)}
    assert c.note["rationale"] == "two power laws" and len(c.note["request"]) == 16


def test_duplicates_are_skipped_and_the_next_request_fills_the_gap(vocab, tmp_path: Path):
    _, train = vocab
    renamed = GOOD.replace("A*", "K*").replace("(-a)", "(-k)")  # same law, other names
    script = [reply({"law": GOOD}, {"law": renamed}), reply({"law": "E + C*log(vocab_size)"})]
    with LLMServer(script=script) as server:
        got = propose(make_proposer(train, server, tmp_path, per_request=2), n=2)
    assert len(got) == 2
    assert [b["seed"] for b in server.bodies] == [request_seed(0, 0, 0), request_seed(0, 0, 1)]
    assert "Propose 2 new laws" in server.bodies[0]["messages"][1]["content"]
    assert "Propose 1 new laws" in server.bodies[1]["messages"][1]["content"]
    (log,) = rejected(tmp_path)
    assert log["reason"] == "duplicate of a law already proposed"


def test_multi_target_laws_need_one_formula_per_target(data_root: Path, tmp_path: Path):
    task = load_task("domain_mixture_scaling_law")
    train = load_train(task, data_root)
    law = {t: f"c{i} + a{i}*exp(b{i}*{task.features[i]})" for i, t in enumerate(task.targets)}
    with LLMServer(script=[reply({"law": law}, {"law": "c + a*proportion_domain_1"})]) as s:
        proposer = make_proposer(train, s, tmp_path, max_requests=1)
        (c,) = propose(proposer)
    assert c.law.targets == task.targets and len(c.law.params) == 15
    assert "give a formula per target" in rejected(tmp_path)[0]["reason"]
    user = proposer.messages([], [], 8)[1]["content"]
    assert all(f'"{t}": "<formula>"' in user for t in task.targets)


def test_a_model_that_keeps_replying_nothing_usable_stops_the_proposer(vocab, tmp_path: Path):
    _, train = vocab
    with LLMServer(responder=lambda body: "no laws today") as server:
        proposer = make_proposer(train, server, tmp_path, max_requests=2, patience=3)
        assert propose(proposer, generation=1) == []  # two empty replies
        with pytest.raises(ProposerStopped, match="last 3 replies"):
            propose(proposer, generation=2)
    assert len(server.bodies) == 3


# ----------------------------------------------------------------- searches


def discover_args(run_dir: Path, data_root: Path, url: str, budget: int, *extra: str):
    return (
        "discover",
        TASK,
        "--proposer",
        "llm",
        "--base-url",
        url,
        "--model",
        "test",
        "--budget",
        str(budget),
        "--run-dir",
        str(run_dir),
        "--data-dir",
        str(data_root),
        "--jobs",
        "1",
        "--quiet",
        *extra,
    )


def test_discover_with_an_llm_end_to_end_and_replay_without_the_server(
    tmp_path: Path, data_root: Path, monkeypatch, vocab
):
    """The acceptance run: budget 50 against the test server; the bill matches the server's
    usage fields; the key is in no file; --replay with the server gone repeats the search."""
    task, _ = vocab
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    run, again = tmp_path / "run", tmp_path / "replayed"
    pool = law_pool(task.features, task.param_budget)
    with LLMServer(responder=pool_responder(pool)) as server:
        prices = ("--price-in", "2.5", "--price-out", "10", "--json")
        code, out, err = call(*discover_args(run, data_root, server.url, 50, *prices))
    assert code == 0, err
    assert server.auth and all(a == f"Bearer {SECRET}" for a in server.auth)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["candidates"] == 50 and summary["proposer"] == "llm"
    assert summary["stopped"] is None and summary["test_r2"] > 0.9
    records = RunLog(run / "candidates.jsonl").read()
    assert len(records) == 50 and {r["proposer"] for r in records} == {"llm"}
    assert all(r["genome"] is None and r["llm"]["request"] for r in records)
    assert max(r["generation"] for r in records) >= 2  # later prompts showed evaluated laws

    config = json.loads((run / "config.json").read_text())
    usage = config["llm_usage"]
    assert usage["requests"] == server.replies == len(server.bodies)
    assert usage["prompt_tokens"] == server.prompt_tokens
    assert usage["completion_tokens"] == server.completion_tokens
    assert usage["total_tokens"] == server.prompt_tokens + server.completion_tokens
    cost = (server.prompt_tokens * 2.5 + server.completion_tokens * 10) / 1e6
    assert usage["cost_usd"] == pytest.approx(cost, rel=1e-12) and cost > 0
    assert config["search"]["llm"]["model"] == "test" and config["proposer"] == "llm"
    assert f"${usage['cost_usd']:.4f}" in out

    for path in (p for p in run.rglob("*") if p.is_file()):  # the key is in no file of the run
        assert SECRET.encode() not in path.read_bytes(), path.name
    assert SECRET not in out + err  # nor in the output

    # replay: the server is stopped and the environment has no URL and no key
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out2, err = call(
        "discover", "--replay", str(run), "--run-dir", str(again), "--data-dir", str(data_root),
        "--jobs", "1", "--quiet", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert history(again) == history(run)

    def without_timing(path: Path) -> bytes:
        return re.sub(rb', "seconds": [0-9.e-]+', b"", path.read_bytes())

    assert b'"seconds": ' in (run / "candidates.jsonl").read_bytes()
    assert without_timing(again / "candidates.jsonl") == without_timing(run / "candidates.jsonl")
    for name in ("best.json", "llm_cache.jsonl", "llm_rejected.jsonl"):
        assert (again / name).read_bytes() == (run / name).read_bytes(), name
    replayed = json.loads((again / "config.json").read_text())
    assert replayed["llm_client"]["replay"] is True
    assert replayed["llm_usage"] == usage  # what the cached replies cost the original run


def test_an_outage_stops_cleanly_and_resume_ends_like_an_uninterrupted_run(
    tmp_path: Path, data_root: Path, monkeypatch, vocab
):
    task, _ = vocab
    budget, broken, full = 32, tmp_path / "broken", tmp_path / "full"
    respond = pool_responder(law_pool(task.features, task.param_budget))
    retry = ("--retries", "2", "--retry-delay", "0.01")
    with LLMServer(responder=respond) as server:
        code, _, err = call(*discover_args(full, data_root, server.url, budget))
    assert code == 0, err
    with LLMServer(responder=respond, fail_after=3) as down:
        code, _, err = call(*discover_args(broken, data_root, down.url, budget, *retry))
    assert_user_error(code, err, "HTTP 503", "3 attempts", f"--resume {broken}")
    assert down.statuses[-3:] == [503, 503, 503]
    logged = len(RunLog(broken / "candidates.jsonl").read())
    assert 0 < logged < budget
    assert not (broken / "best.json").exists()
    assert json.loads((broken / "config.json").read_text())["llm_usage"]["requests"] == 3

    with LLMServer(responder=respond) as server:  # back up, at another address
        code, out, err = call(
            "discover", "--resume", str(broken), "--base-url", server.url,
            "--data-dir", str(data_root), "--jobs", "1", "--quiet",
        )  # fmt: skip
    assert code == 0, err
    assert (
        len(server.bodies) + 3
        == json.loads((full / "config.json").read_text())["llm_usage"]["requests"]
    )  # nothing asked twice
    assert history(broken) == history(full)
    assert json.loads((broken / "best.json").read_text()) == json.loads(
        (full / "best.json").read_text()
    )


def test_a_cost_cap_ends_the_run_cleanly_with_its_best_law(tmp_path: Path, data_root: Path, vocab):
    task, _ = vocab
    run = tmp_path / "capped"
    respond = pool_responder(law_pool(task.features, task.param_budget))
    caps = ("--price-in", "1", "--price-out", "1", "--max-cost", "0.0015", "--json")
    with LLMServer(responder=respond) as server:
        code, out, err = call(*discover_args(run, data_root, server.url, 50, *caps))
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert "cost cap reached" in summary["stopped"] and "stopped     LLM cost cap" in out
    assert 0 < summary["candidates"] < 50 and (run / "best.json").exists()
    usage = json.loads((run / "config.json").read_text())["llm_usage"]
    assert usage["requests"] == len(server.bodies) >= 1
    # no request starts once the spend reaches the cap: the last one started below it
    costs = [
        (e["usage"]["prompt_tokens"] + e["usage"]["completion_tokens"]) / 1e6
        for e in RunLog(run / "llm_cache.jsonl").read()
    ]
    assert sum(costs[:-1]) < 0.0015 <= sum(costs) == pytest.approx(usage["cost_usd"])


def test_mix_mode_gives_slots_to_both_proposers(tmp_path: Path, data_root: Path, vocab):
    task, train = vocab
    respond = pool_responder(law_pool(task.features, task.param_budget))
    config = SearchConfig(
        budget=40, seed=2, proposer="mix", llm_share=0.5, llm=LLMConfig(model="test")
    )
    with LLMServer(responder=respond) as server:
        chat = ChatClient(ClientSettings(base_url=server.url), tmp_path / "mix" / "llm_cache.jsonl")
        Search(task, train, config, tmp_path / "mix", chat).run(jobs=1)
    records = RunLog(tmp_path / "mix" / "candidates.jsonl").read()
    by = {p: [r for r in records if r["proposer"] == p] for p in ("symbolic", "llm")}
    assert len(by["symbolic"]) >= 10 and len(by["llm"]) >= 10
    # the slots the LLM took are the ones the (seed, generation, slot) generator gave it
    for r in by["llm"]:
        if r["generation"] > 0:
            u = np.random.default_rng([2, r["generation"], r["index"], 1]).random()
            assert u < 0.5


def test_seed_human_is_the_only_way_the_human_law_reaches_the_prompt(
    tmp_path: Path, data_root: Path, vocab
):
    task, train = vocab
    human = parse_law(task.human.formula, task.features, task.targets).text
    respond = pool_responder(law_pool(task.features, task.param_budget))
    prompts = {}
    for seeded in (False, True):
        run = tmp_path / f"human{seeded}"
        config = SearchConfig(
            budget=24, proposer="llm", seed_human=seeded, llm=LLMConfig(model="test")
        )
        with LLMServer(responder=respond) as server:
            chat = ChatClient(ClientSettings(base_url=server.url), run / "llm_cache.jsonl")
            Search(task, train, config, run, chat).run(jobs=1)
        prompts[seeded] = [b["messages"][1]["content"] for b in server.bodies]
    assert not any(human in p for p in prompts[False])
    assert any(human in p for p in prompts[True])  # once evaluated, it is a population member


def test_cli_llm_flag_errors_are_one_line(tmp_path: Path, data_root: Path):
    base = ("discover", TASK, "--run-dir", str(tmp_path / "r"), "--data-dir", str(data_root))
    code, _, err = call(*base, "--proposer", "llm")
    assert_user_error(code, err, "--model")
    code, _, err = call(*base, "--model", "gpt-test")
    assert_user_error(code, err, "--proposer llm or mix")
    code, _, err = call(*base, "--proposer", "llm", "--model", "m")
    assert_user_error(code, err, "OPENAI_API_KEY", "--base-url")
    args = ("--proposer", "llm", "--model", "m", "--base-url", "http://127.0.0.1:9/v1")
    code, _, err = call(*base, *args, "--max-cost", "1")
    assert_user_error(code, err, "--price-in")
    code, _, err = call(*base, *args, "--llm-share", "0")
    assert_user_error(code, err, "--llm-share")
    code, _, err = call(*base, "--resume", str(tmp_path), "--replay", str(tmp_path))
    assert_user_error(code, err, "not both")
    (tmp_path / "sym").mkdir()
    (tmp_path / "sym" / "config.json").write_text(json.dumps({"task": TASK}))
    code, _, err = call("discover", "--replay", str(tmp_path / "sym"), "--data-dir", str(data_root))
    assert_user_error(code, err, "llm_cache.jsonl")


def test_the_cost_estimate_script_counts_the_prompt_the_proposer_builds(data_root: Path):
    script = Path(__file__).resolve().parents[1] / "scripts" / "llm_cost.py"
    out = subprocess.run(
        [sys.executable, str(script), TASK, "--data-dir", str(data_root), "--budget", "32"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    head, columns, row = out.stdout.strip().splitlines()
    assert "budget 32: 2 generations of 16; requests 4 (every law usable) to 8" in head
    name, prompt, reply, low, high = row.split()
    assert name == TASK and int(prompt) > 500 and int(reply) > 500
    assert float(high) == pytest.approx(2 * float(low), abs=0.002)


def test_replay_of_a_csv_task_run_carries_its_task(tmp_path: Path):
    """A custom (CSV) task has no shipped TOML: the replay reloads the run's task.toml and
    writes it into the new run, so predict/resume work there too."""
    csv = Path(__file__).resolve().parents[1] / "examples" / "chinchilla_like.csv"
    run, again = tmp_path / "run", tmp_path / "replayed"
    custom = ("--csv", str(csv), "--features", "N,D", "--target", "loss", "--group", "model")
    custom += ("--extrapolate", "N>=1e9")
    with LLMServer(responder=pool_responder(law_pool(("N", "D"), 6))) as server:
        code, out, err = call(
            "discover", *custom, "--proposer", "llm", "--base-url", server.url, "--model",
            "test", "--budget", "8", "--run-dir", str(run), "--jobs", "1", "--quiet",
        )  # fmt: skip
    assert code == 0, err
    code, out, err = call(
        "discover", "--replay", str(run), "--run-dir", str(again), "--jobs", "1", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert (again / "task.toml").read_text() == (run / "task.toml").read_text()
    assert history(again) == history(run)


# ----------------------------------------------------------------- structured replies, issue 16

CSV = Path(__file__).resolve().parents[1] / "examples" / "chinchilla_like.csv"
CUSTOM = ("--csv", str(CSV), "--features", "N,D", "--target", "loss", "--group", "model")
CUSTOM += ("--extrapolate", "N>=1e9")


def csv_args(run: Path, url: str, budget: int, *extra: str) -> tuple[str, ...]:
    return (
        "discover", *CUSTOM, "--proposer", "llm", "--base-url", url, "--model", "test",
        "--budget", str(budget), "--run-dir", str(run), "--jobs", "1", "--quiet", *extra,
    )  # fmt: skip


def csv_pool():
    return pool_responder(law_pool(("N", "D"), 6))


def replay(run: Path, again: Path, *extra: str) -> tuple[int, str, str]:
    return call("discover", "--replay", str(run), "--run-dir", str(again), "--jobs", "1",
                "--quiet", *extra)  # fmt: skip


def test_requests_carry_the_reply_schema(vocab, tmp_path: Path):
    task, train = vocab
    with LLMServer(script=[Reply(json.dumps({"laws": [{"law": GOOD}]}))]) as server:
        (got,) = propose(make_proposer(train, server, tmp_path, max_requests=1), n=3)
    fmt = server.bodies[0]["response_format"]
    assert fmt["type"] == "json_schema"
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["laws"] and schema["properties"]["laws"]["maxItems"] == 3
    item = schema["properties"]["laws"]["items"]
    assert item["required"] == ["law", "rationale"] and set(item["properties"]) == {
        "law", "params", "loss", "log_target", "rationale",
    }  # fmt: skip
    pattern = re.compile(item["properties"]["law"]["pattern"])
    assert pattern.match(GOOD) and not pattern.match("E + c") and not pattern.match("4D")
    assert got.law.key == parse_law(GOOD, task.features, task.targets).key


def test_a_refused_schema_falls_back_to_json_object_then_text_recorded_and_replayed(
    tmp_path: Path,
):
    run, again = tmp_path / "run", tmp_path / "again"
    with LLMServer(responder=csv_pool(), refuse={"json_schema": 400, "json_object": 422}) as s:
        code, out, err = call(*csv_args(run, s.url, 8))
    assert code == 0, err
    kinds = [(b.get("response_format") or {}).get("type") for b in s.bodies]
    assert kinds[:3] == ["json_schema", "json_object", None] and set(kinds[3:]) == {None}
    assert s.statuses[:3] == [400, 422, 200]
    replies = json.loads((run / "config.json").read_text())["llm_replies"]
    assert replies["reply_format_asked"] == "json_schema"
    assert replies["reply_format_used"] == "text"
    assert [r.split(":")[0] for r in replies["format_refusals"]] == ["json_schema", "json_object"]
    assert replies["replies"] == len(s.bodies) - 2 and replies["laws_accepted"] >= 8
    assert replies["accepted_share"] == replies["replies_with_accepted_law"] / replies["replies"]
    assert "reply format text (json_schema refused)" in out
    code, _, err = replay(run, again)  # the cached refusals take the same steps, no server
    assert code == 0, err
    assert history(again) == history(run)


def test_finding1_a_fragment_or_a_law_without_a_feature_is_refused(vocab, tmp_path: Path):
    """A 135M model's broken JSON made `["exponential"]` (nested in a broken object) and
    "L0" the reported best laws; neither is a candidate now, and the log says why."""
    _, train = vocab
    broken = '{"type": "law", "forms": ["exponential"], "labels": ["L0", "L1"], "law": E + A'
    script = [Reply(broken), Reply(json.dumps(["exponential", {"law": "L0 + c*2"}, GOOD]))]
    with LLMServer(script=script) as server:
        got = propose(make_proposer(train, server, tmp_path, max_requests=2))
    assert [c.text for c in got] == [parse_law(GOOD, train.task.features, ["loss"]).text] or (
        len(got) == 1
    )
    log = rejected(tmp_path)
    assert "fragments, not candidates" in log[0]["reason"]
    assert [r["law"] for r in log[1:]] == ["exponential", "L0 + c*2"]
    assert all("uses no feature" in r["reason"] for r in log[1:])


def test_finding2_a_timed_out_request_is_asked_again_for_less(vocab, tmp_path: Path, caplog):
    task, train = vocab
    pool = law_pool(task.features, task.param_budget)
    with LLMServer(script=[Slow(2.0)], responder=pool_responder(pool)) as server:
        settings = ClientSettings(base_url=server.url, retry_delay=0.01, timeout=0.5)
        chat = ChatClient(settings, tmp_path / "llm_cache.jsonl", api_key="k")
        proposer = LLMProposer(
            train, LLMConfig(model="test", max_tokens=1000), chat, 0, tmp_path / "rej.jsonl"
        )
        got = propose(proposer)
    first, second = server.bodies[:2]
    assert first["max_tokens"] == 1000 and second["max_tokens"] == 500
    assert "Propose 8 new laws" in first["messages"][1]["content"]
    assert "Propose 4 new laws" in second["messages"][1]["content"]
    assert len(got) == 8 and proposer.stats()["timeouts"] == 1
    assert "timed out after 0.5 s" in caplog.text and "unavailable" not in caplog.text

    with LLMServer(script=[Slow(2.0)] * 6) as slow:  # slower than any request: a clear end
        settings = ClientSettings(base_url=slow.url, timeout=0.3)
        chat = ChatClient(settings, tmp_path / "slow.jsonl", api_key="k")
        proposer = LLMProposer(train, LLMConfig(model="test", max_tokens=512), chat, 0)
        with pytest.raises(LLMTimedOut) as err:
            propose(proposer)
    asked = [(b["max_tokens"], re.search(r"Propose (\d+)", b["messages"][1]["content"])[1])
             for b in slow.bodies]  # fmt: skip
    assert asked == [(512, "8"), (256, "4"), (256, "2"), (256, "1")]  # never the same twice
    assert "timed out after 0.3 s" in str(err.value) and "unavailable" not in str(err.value)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> Path:
    """A CSV-task LLM run stopped by an outage after 2 replies (resumable)."""
    run = tmp_path_factory.mktemp("failed") / "run"
    with LLMServer(responder=csv_pool(), fail_after=2) as down:
        code, _, err = call(*csv_args(run, down.url, 40, "--retries", "0"))
    assert code == 2 and "HTTP 503" in err
    return run


def test_finding3_resume_honours_max_tokens_and_records_from_where(
    failed_run: Path, tmp_path: Path
):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(failed_run, run)
    start = 1 + max(r["generation"] for r in RunLog(run / "candidates.jsonl").read())
    with LLMServer(responder=csv_pool()) as server:
        code, out, err = call(
            "discover", "--resume", str(run), "--base-url", server.url, "--max-tokens", "900",
            "--jobs", "1", "--quiet",
        )  # fmt: skip
    assert code == 0, err
    assert server.bodies and {b["max_tokens"] for b in server.bodies} == {900}
    assert f"--max-tokens 900 from generation {start} on" in err
    llm = json.loads((run / "config.json").read_text())["search"]["llm"]
    assert llm["max_tokens"] == 4096  # what the part already run used
    assert llm["changes"] == [{"from_generation": start, "max_tokens": 900}]
    before = len(RunLog(failed_run / "candidates.jsonl").read())
    assert len(RunLog(run / "candidates.jsonl").read()) > before and (run / "best.json").exists()
    code, _, err = replay(run, tmp_path / "again")  # the recorded change replays exactly
    assert code == 0, err
    assert history(tmp_path / "again") == history(run)


def test_finding4_a_mix_run_goes_on_when_the_llm_runs_dry(tmp_path: Path, data_root: Path):
    task = load_task(TASK)
    train = load_train(task, data_root)
    config = SearchConfig(
        budget=40, proposer="mix", llm=LLMConfig(model="test", max_requests=2, patience=2)
    )
    run = tmp_path / "mix"
    with LLMServer(responder=lambda body: "I cannot propose laws.") as server:
        chat = ChatClient(ClientSettings(base_url=server.url), run / "llm_cache.jsonl")
        result = Search(task, train, config, run, chat).run(jobs=1)
    assert result.candidates == 40 and result.stopped is None
    assert len(server.bodies) == 2  # the proposer stopped after its patience ran out
    records = RunLog(run / "candidates.jsonl").read()
    assert len(records) == 40 and {r["proposer"] for r in records} == {"symbolic"}
    replies = json.loads((run / "config.json").read_text())["llm_replies"]
    assert "last 2 replies held no usable new law" in replies["llm_stopped"]


def test_finding5_no_law_accepted_names_the_refusals(tmp_path: Path):
    run = tmp_path / "run"
    with LLMServer(responder=lambda body: json.dumps({"laws": [{"law": "L0"}]})) as server:
        code, _, err = call(*csv_args(run, server.url, 16))
    assert_user_error(code, err, "no law was accepted", "llm_rejected.jsonl", "8 replies")
    assert "candidates.jsonl" not in err and not (run / "candidates.jsonl").exists()
    assert len(rejected(run)) == 8 and "uses no feature" in rejected(run)[0]["reason"]


def test_finding6_replaying_a_failed_run_points_at_the_original_run(
    failed_run: Path, tmp_path: Path
):
    again = tmp_path / "again"
    code, _, err = replay(failed_run, again)
    assert_user_error(code, err, "no cached reply", f"--resume {failed_run}")
    assert f"--resume {again}" not in err


def test_finding7_a_replay_prints_cached_tokens_as_cached(tmp_path: Path):
    run, again = tmp_path / "run", tmp_path / "again"
    with LLMServer(responder=csv_pool()) as server:
        code, out, err = call(*csv_args(run, server.url, 8, "--json"))
    assert code == 0, err
    assert f"LLM         {server.replies} requests, {server.prompt_tokens} prompt" in out
    code, out2, err = replay(run, again, "--json")
    assert code == 0, err
    line = next(x for x in out2.splitlines() if x.startswith("LLM  "))
    assert line.startswith("LLM         0 requests sent (replay); the cached replies cost the")
    assert f"{server.replies} requests, {server.prompt_tokens} prompt" in line
    summary = json.loads(out2.strip().splitlines()[-1])
    assert summary["llm_sent"]["requests"] == 0
    assert summary["llm_usage"]["requests"] == server.replies


def test_finding2_a_run_that_keeps_timing_out_says_so_in_one_line(tmp_path: Path):
    run = tmp_path / "run"
    with LLMServer(script=[Slow(2.0)] * 4) as server:
        code, _, err = call(
            *csv_args(run, server.url, 8, "--request-timeout", "0.3", "--max-tokens", "256")
        )
    assert_user_error(code, err, "timed out after 0.3 s", "--request-timeout SECONDS")
    assert "unavailable" not in err and len(server.bodies) == 4
    assert len({json.dumps(b, sort_keys=True) for b in server.bodies}) == 4  # all different
    assert json.loads((run / "config.json").read_text())["llm_usage"]["timed_out"] == 4
