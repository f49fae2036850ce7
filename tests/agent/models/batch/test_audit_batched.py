"""Whole audits in batch mode: through the Batch API of a local server, and through a batch command.

Every audit here runs the real CLI on the shipped SST-2 scenario against `openai/` models whose answers come from
the prompt-reading `lexicon_engine` (tests/fixtures/batch_server.py), served over real HTTP. A batched audit must
give the summary of the same audit done directly, with no direct chat call; killed with SIGKILL while a batch is
pending and resumed, it must send no request in two batches.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.models.batch import LEDGER_FILE
from agent.models.batch._runners import RUN_MARKER
from agent.records import RunEnd, RunSummary, read_records
from evaluators import Verdict
from tests.fixtures.batch_server import BatchFault, BatchServer, forwarding_engine, serve_batches
from tests.fixtures.core import run_cli
from tests.fixtures.servers import ServedModel

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[4]
MODEL = "openai/lexicon"
TESTS = "counterfactual,redaction"
ITEMS = 6
FAST = ["-O", "batch_window=0.2", "-O", "batch_poll_interval=0.02"]


def audit_args(server: BatchServer, out: Path, *extra: str) -> list[str]:
    return [
        "audit",
        "--model",
        MODEL,
        "--base-url",
        server.base_url,
        "--scenario",
        "sst2",
        "--limit",
        str(ITEMS),
        "--tests",
        TESTS,
        "--out",
        str(out),
        *extra,
    ]


def summary(run_dir: Path) -> RunSummary:
    return RunSummary.model_validate_json((run_dir / "summary.json").read_text(encoding="utf-8"))


def ledger_kinds(run_dir: Path) -> list[str]:
    return [json.loads(line)["kind"] for line in (run_dir / LEDGER_FILE).read_text().splitlines()]


@pytest.fixture
def direct_summary(batch_server: BatchServer, tmp_path: Path) -> RunSummary:
    """The same audit with direct calls (no cache, so that the batched run cannot be answered from it)."""
    run_dir = tmp_path / "direct"
    assert run_cli(audit_args(batch_server, run_dir, "--no-cache")) == 0
    assert batch_server.chat_calls and not batch_server.batches
    batch_server.chat_calls.clear()
    return summary(run_dir)


def test_a_batched_audit_gives_the_direct_summary_and_sends_no_direct_call(
    batch_server: BatchServer, direct_summary: RunSummary, tmp_path: Path
) -> None:
    run_dir = tmp_path / "batched"
    assert run_cli(audit_args(batch_server, run_dir, "--no-cache", "-O", "batch=true", *FAST)) == 0
    batched = summary(run_dir)
    assert batched.summaries == direct_summary.summaries
    assert any(s.n_faithful for s in batched.summaries) and any(s.n_unfaithful for s in batched.summaries)
    assert batch_server.chat_calls == []
    # Usage is counted as for direct calls: one call per request that reached the backend, the same tokens.
    assert batched.usage[MODEL].calls_sent == direct_summary.usage[MODEL].calls_sent
    assert batched.usage[MODEL].prompt_tokens == direct_summary.usage[MODEL].prompt_tokens
    # Every item's first calls went out together: far fewer batches than calls, each recorded in the ledger.
    assert 1 < len(batch_server.batches) < batched.usage[MODEL].calls_sent / 3
    assert ledger_kinds(run_dir).count("started") == len(batch_server.batches)
    assert batch_server.twice_submitted() == []


def start_audit(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """The audit CLI in a process of its own, so that it can be killed."""
    return subprocess.Popen(
        [sys.executable, "-c", "from agent.cli import main; main()", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_for(condition: Any, process: subprocess.Popen[bytes], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, f"the audit ended before {what}"
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("cache", ["cache", "no-cache"])
def test_an_audit_killed_while_a_batch_is_pending_resumes_without_sending_a_batch_twice(
    batch_server: BatchServer, direct_summary: RunSummary, tmp_path: Path, cache: str
) -> None:
    held = threading.Event()
    batch_server.plan(BatchFault(), BatchFault(hold=held))  # round 1 is answered, round 2 waits
    run_dir = tmp_path / "killed"
    extra = ["-O", "batch=true", *FAST] + (["--no-cache"] if cache == "no-cache" else [])
    process = start_audit(audit_args(batch_server, run_dir, *extra), tmp_path / "first.log")
    try:
        wait_for(lambda: len(batch_server.batches) == 2, process, "the second batch was sent")
        ledger = run_dir / LEDGER_FILE
        wait_for(lambda: ledger_kinds(ledger.parent).count("started") == 2, process, "the ledger recorded it")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    sent_before = len(batch_server.batches)

    held.set()
    resume = ["audit", "--resume", str(run_dir)] + (["--no-cache"] if cache == "no-cache" else [])
    resumed = start_audit(resume, tmp_path / "resumed.log")
    assert resumed.wait(timeout=120) == 0, (tmp_path / "resumed.log").read_text()

    assert batch_server.twice_submitted() == []  # no request went out in two batches
    assert batch_server.chat_calls == []
    assert len(batch_server.batches) > sent_before  # the audit went on past the pending round
    final = summary(run_dir)
    assert final.completed and final.summaries == direct_summary.summaries
    records = list(read_records(run_dir / "records.jsonl"))
    verdicts = [(v.test, v.item_id) for v in records if isinstance(v, Verdict)]
    assert len(verdicts) == len(set(verdicts)) == ITEMS * len(TESTS.split(","))
    assert sum(isinstance(r, RunEnd) for r in records) == 1


def test_a_batch_command_completes_the_audit_with_the_direct_summary(
    batch_server: BatchServer, direct_summary: RunSummary, tmp_path: Path
) -> None:
    run_dir = tmp_path / "command"
    flag = tmp_path / "failed-once"
    command = f"{sys.executable} -m tests.fixtures.batch_command -i {{input}} -o {{output}} --fail-once {flag}"
    args = audit_args(batch_server, run_dir, "--no-cache", "-O", f"batch_command={command}", "-O", "batch_window=0.2")
    args += ["-O", "retry_initial_wait=0.01"]
    assert run_cli(args) == 0
    assert summary(run_dir).summaries == direct_summary.summaries
    assert batch_server.chat_calls == [] and not batch_server.batches  # the server was never asked
    rounds = sorted((run_dir / "batches").glob("round-*.input.jsonl"))
    outputs = sorted((run_dir / "batches").glob("round-*.output.jsonl"))
    assert len(rounds) == len(outputs) > 1
    # The first round's command failed once and ran again on the same input: the retry layer saw a transient error.
    first_log = sorted((run_dir / "batches").glob("round-*.log"))[0].read_bytes()
    assert flag.exists() and first_log.count(RUN_MARKER) == 2 and b"the GPU fell off the bus" in first_log


@pytest.mark.slow
def test_with_a_real_model_behind_the_batch_api_the_batched_audit_matches_the_direct_one(
    transformers_server: ServedModel, tmp_path: Path
) -> None:
    """SmolLM2 served by `transformers serve` answers every line and every direct call (one request at a time)."""
    with serve_batches(forwarding_engine(transformers_server.base_url, transformers_server.model_id)) as server:
        # The forwarding engine answers one request at a time: on busy cores a queued request can wait longer than
        # the default per-attempt timeout, and a retry would only queue it again.
        base = [
            "--limit",
            "3",
            "--max-tokens",
            "counterfactual=48",
            "--max-tokens",
            "redaction=48",
            "-O",
            "timeout=1200",
        ]
        direct, batched = tmp_path / "direct", tmp_path / "batched"
        assert run_cli([*audit_args(server, direct, "--no-cache"), *base]) == 0
        direct_calls = len(server.chat_calls)
        assert run_cli([*audit_args(server, batched, "--no-cache", "-O", "batch=true", *FAST), *base]) == 0
        assert len(server.chat_calls) == direct_calls  # the batched audit made no direct call
        assert summary(batched).summaries == summary(direct).summaries
        assert summary(batched).usage[MODEL].calls_sent == direct_calls == server.requests_in_batches
        assert len(server.batches) < direct_calls / 2
