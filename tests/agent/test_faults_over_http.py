"""Whole audits over real HTTP against a hostile network: a fault-injecting proxy, kill -9 and --resume, several
processes sharing one cache, secrets at -vv, and the two concurrency knobs.

Each audit runs the real CLI in a process of its own against a deterministic OpenAI-compatible stub server
(tests/fixtures/stub_openai.py), so a faulty run can be compared with a clean one reply for reply. These are the
suite-sized versions (a few hundred calls); bench/bench_faults.py runs the 1,000-call ones and prints the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.fault_audits import (
    audit_command,
    call_multiset,
    kill_when_done,
    outcome_counts,
    records,
    run,
    write_scenario,
)
from tests.fixtures.fault_proxy import MALFORMED_KINDS, FaultRates, fault_proxy
from tests.fixtures.stub_openai import stub_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

ITEMS = 8
"""About 370 model calls per audit."""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    return write_scenario(tmp_path / "scenario", ITEMS)


def test_an_audit_through_a_faulty_proxy_ends_exactly_as_a_clean_run(scenario: Path, tmp_path: Path) -> None:
    # Rates above the (10% 429, 5% 500, 2% hangs, 2% malformed) so that a few hundred calls meet every kind.
    rates = FaultRates(rate_limit=0.10, server_error=0.08, hang=0.03, malformed=0.12, seed=3, hang_s=5)
    with stub_server() as stub:
        clean = run(audit_command(stub.base_url, scenario, tmp_path / "clean", "--no-cache"))
        assert clean.status == 0, clean.stderr
        with fault_proxy(stub.base_url, rates) as proxy:
            faulty = run(audit_command(proxy.base_url, scenario, tmp_path / "faulty", "--no-cache", "-O", "timeout=1"))

    assert faulty.status == 0, faulty.stderr[-2000:]
    assert {"rate-limit", "server-error", "hang", *MALFORMED_KINDS} <= set(proxy.injected), proxy.injected
    assert outcome_counts(faulty.summary) == outcome_counts(clean.summary)
    # Not only the counts: every call was asked and read as in the clean run (a malformed body taken for an
    # unreadable reply would show as a re-ask here, an exhausted retry as a missing call).
    assert call_multiset(tmp_path / "faulty") == call_multiset(tmp_path / "clean")
    assert all(s["n_error"] == 0 for s in faulty.summary["summaries"])
    usage = faulty.summary["usage"]["openai/stub-model"]
    assert usage["retries"] >= sum(proxy.injected.values())  # every fault cost a retry (a slow answer may cost one too)
    assert usage["errors"] == 0


def test_kill_9_twice_then_resume_gives_the_clean_summary_without_repeating_finished_items(
    scenario: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "killed"
    with stub_server() as stub:
        clean = run(audit_command(stub.base_url, scenario, tmp_path / "clean", "--no-cache"))
        # Two items at a time, so that items finish one after another and each kill falls between them (with every
        # item at once they all finish together, and a kill can come after the last); the resume keeps it.
        first = audit_command(
            stub.base_url, scenario, run_dir, "--cache-dir", str(tmp_path / "cache"), "--concurrency", "2"
        )
        done_at_kill = [kill_when_done(first, run_dir, items=2)]
        resume = [*first[:2], "--resume", str(run_dir), "--json", "--cache-dir", str(tmp_path / "cache")]
        done_at_kill.append(kill_when_done(resume, run_dir, items=2))
        finished = run(resume)

    assert finished.status == 0, finished.stderr
    assert 2 <= len(done_at_kill[0]) < len(done_at_kill[1]) < ITEMS
    assert outcome_counts(finished.summary) == outcome_counts(clean.summary)
    written = records(run_dir)
    verdicts = Counter((r["scenario"], r["test"], r["item_id"]) for r in written if r.get("kind") == "verdict")
    assert max(verdicts.values()) == 1, [key for key, count in verdicts.items() if count > 1]
    assert len(verdicts) == sum(s["n_items"] for s in clean.summary["summaries"])
    # No session sends a request about an item that was finished before it started. Controls may use a finished
    # item's replies (another item's reasoning or explanation): those come from the cache and send nothing.
    sessions: list[list[dict[str, object]]] = [[]]
    for record in written:
        if record.get("kind") == "resumed":
            sessions.append([])
        elif record.get("kind") == "call":
            sessions[-1].append(record)
    assert len(sessions) == 3
    for finished_before, calls in zip(done_at_kill, sessions[1:], strict=True):
        asked = {str(call["item_id"]) for call in calls if not call["cached"]}
        assert not asked & finished_before, sorted(asked & finished_before)


def test_three_concurrent_audits_sharing_a_cache_send_each_request_once(scenario: Path, tmp_path: Path) -> None:
    with stub_server(delay_s=0.01) as stub:
        commands = [
            audit_command(stub.base_url, scenario, tmp_path / f"run-{i}", "--cache-dir", str(tmp_path / "cache"))
            for i in range(3)
        ]
        processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
        outputs = [process.communicate(timeout=600) for process in processes]
        sent = stub.counts()

    assert [process.returncode for process in processes] == [0, 0, 0], [err[-1000:] for _, err in outputs]
    summaries = [json.loads(out) for out, _ in outputs]
    assert outcome_counts(summaries[0]) == outcome_counts(summaries[1]) == outcome_counts(summaries[2])
    repeated = {key: count for key, count in sent.items() if count > 1}
    assert repeated == {}
    usage = [summary["usage"]["openai/stub-model"] for summary in summaries]
    assert sum(u["calls_sent"] for u in usage) == len(sent)
    # They did run at the same time: each process answered some requests from another's work.
    assert all(u["calls_sent"] < len(sent) for u in usage)


def test_no_secret_reaches_the_run_directory_the_cache_or_the_terminal_at_vv(scenario: Path, tmp_path: Path) -> None:
    env_key = "sk-proj-ENVKEY0123456789abcdef"
    url_password, query_key = "urlpass0123456789", "querykey0123456789"
    with stub_server() as stub:
        url = stub.base_url.replace("http://", f"http://alice:{url_password}@") + f"?api-key={query_key}"
        command = audit_command(url, scenario, tmp_path / "run", "--cache-dir", str(tmp_path / "cache"), "--limit", "2")
        finished = run(
            [command[0], "-vv", *command[1:]], env={**os.environ, "OPENAI_API_KEY": env_key, "NO_COLOR": "1"}
        )
        sent = list(stub.received)

    assert finished.status == 0, finished.stderr[-2000:]
    assert "HTTP Request: POST" in finished.stderr  # the HTTP client did log every request at -vv
    # URL credentials win over the key: sent as HTTP Basic auth, and the Bearer key not at all (docs/secrets.md).
    assert {request.headers["authorization"] for request in sent} == {"Basic YWxpY2U6dXJscGFzczAxMjM0NTY3ODk="}
    assert all(f"api-key={query_key}" in request.path for request in sent)
    places = {"stdout": finished.stdout, "stderr": finished.stderr}
    for path in [*(tmp_path / "run").rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    for where, text in places.items():
        for secret in (env_key, url_password, query_key, "YWxpY2U6dXJscGFzczAxMjM0NTY3ODk="):
            assert secret not in text, f"{secret} leaked into {where}"


def test_concurrency_and_max_connections_work_together(scenario: Path, tmp_path: Path) -> None:
    with stub_server(delay_s=0.05) as stub:
        knobs = ("--no-cache", "--limit", "3", "--concurrency", "3", "--tests", "counterfactual,importance,redaction")
        limited = run(audit_command(stub.base_url, scenario, tmp_path / "a", *knobs, "-O", "max_connections=2"))
        peak_limited, stub.peak = stub.peak, 0
        wide = run(audit_command(stub.base_url, scenario, tmp_path / "b", *knobs, "-O", "max_connections=16"))
        peak_wide = stub.peak

    assert limited.status == wide.status == 0, limited.stderr + wide.stderr
    assert peak_limited == 2
    assert peak_wide > 2  # three items at once, several calls each: more than two were in flight
    assert outcome_counts(limited.summary) == outcome_counts(wide.summary)
