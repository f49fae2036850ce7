"""Interrupting a real `faithcheck audit` process (Ctrl-C and SIGKILL) and resuming it.

The audit runs in a subprocess (tests/fixtures/audit_driver.py: the real CLI with the probe tests registered) whose
probe model holds every call after its N-th until the test releases it (`probe_behaviour`'s gate). The test signals
the process while it is held, so the run is always stopped partway, at a point that does not depend on how fast
the machine is: at most two items are in flight (--concurrency 2) and each needs CALLS_PER_ITEM calls, so after N
calls at least (N - 2 * CALLS_PER_ITEM) / CALLS_PER_ITEM items are done and at most N / CALLS_PER_ITEM. The run
is then resumed and compared with an uninterrupted one: the same summary, no verdict written twice, no item missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.records import ItemDone, RunSummary, read_records
from evaluators import Verdict
from tests.fixtures.audit import CALLS_PER_ITEM, PROBE_TESTS, REVIEWS, audit_args
from tests.fixtures.core import run_cli

ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_S = 120.0
"""How long a subprocess may take to reach the gate before the test gives up (a safety net, not a measurement)."""


def start_audit(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """The audit CLI in a process of its own (stderr to `log`), with a response cache of its own: a cached reply
    never reaches the probe model, so it could not be held."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.audit_driver", *args, "--no-cache"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def held(gate: Path, hold_after: int) -> list[str]:
    """The -O options that hold every call after the `hold_after`-th at `gate`."""
    gate.mkdir()
    return ["-O", f"hold_after={hold_after}", "-O", f"gate={gate}"]


def wait_until_held(process: subprocess.Popen[bytes], gate: Path, log: Path) -> None:
    """Block until the audit waits at its gate (nothing more is written until it is released)."""
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while not (gate / "held").exists():
        if process.poll() is not None:
            raise AssertionError(f"the audit ended before reaching its gate:\n{log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the audit did not reach its gate within {STARTUP_LIMIT_S} s")
        time.sleep(0.02)


def items_done(records: Path) -> int:
    return records.read_text().count('"kind":"item_done"')


def check_resumed(run_dir: Path, expected: RunSummary) -> None:
    """The resumed run is complete, its summary is the uninterrupted one's, no verdict twice, no item missing."""
    resumed = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert resumed.completed
    assert resumed.summaries == expected.summaries
    typed = list(read_records(run_dir / "records.jsonl"))
    verdicts = [(v.scenario, v.test, v.item_id) for v in typed if isinstance(v, Verdict)]
    assert len(verdicts) == len(set(verdicts)) == len(REVIEWS) * len(PROBE_TESTS)
    done = sorted(d.item_id for d in typed if isinstance(d, ItemDone))
    assert done == sorted(f"r-{i}" for i in range(1, len(REVIEWS) + 1))


@pytest.fixture
def uninterrupted(probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path) -> RunSummary:
    """The summary of the same audit run without interruption."""
    run_dir = tmp_path / "uninterrupted"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir))) == 0
    return RunSummary.model_validate_json((run_dir / "summary.json").read_text())


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_interrupted_audit_resumes_to_the_uninterrupted_summary(
    probe_scenario: Path, tmp_path: Path, uninterrupted: RunSummary, how: str
) -> None:
    run_dir, gate, log = tmp_path / "interrupted", tmp_path / "gate", tmp_path / "stderr.txt"
    hold_after = 4 * CALLS_PER_ITEM
    args = audit_args(probe_scenario, "--out", str(run_dir), "--concurrency", "2", *held(gate, hold_after))
    process = start_audit(args, log)
    wait_until_held(process, gate, log)
    records = run_dir / "records.jsonl"
    done_at_stop = items_done(records)
    assert 2 <= done_at_stop <= 4, "the bound in the module docstring"
    process.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
    (gate / "release").touch()  # Ctrl-C is handled once the held call returns
    status = process.wait(timeout=STARTUP_LIMIT_S)
    stderr = log.read_text()
    if how == "sigint":
        assert status == 130, stderr
        assert f"resume with: faithcheck audit --resume {run_dir}" in stderr
        partial = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
        assert not partial.completed
        assert records.read_text().endswith("\n")
    else:
        assert status == -signal.SIGKILL
        with records.open("a") as handle:  # as if the kill had landed in the middle of a write
            handle.write('{"kind":"verdict","test":"probe-consis')
    # Released, the two items in flight may finish before Ctrl-C takes effect; no other item starts.
    assert done_at_stop <= items_done(records) <= done_at_stop + 2 < len(REVIEWS)

    assert run_cli(["audit", "--resume", str(run_dir)]) == 0
    check_resumed(run_dir, uninterrupted)
    lines = records.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # the torn line was cut, nothing else


def test_resume_after_two_interruptions(probe_scenario: Path, tmp_path: Path, uninterrupted: RunSummary) -> None:
    run_dir, records = tmp_path / "twice", tmp_path / "twice" / "records.jsonl"
    hold_after = 3 * CALLS_PER_ITEM
    first_gate, second_gate = tmp_path / "gate-1", tmp_path / "gate-2"
    first = start_audit(
        audit_args(probe_scenario, "--out", str(run_dir), "--concurrency", "2", *held(first_gate, hold_after)),
        tmp_path / "1",
    )
    wait_until_held(first, first_gate, tmp_path / "1")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=STARTUP_LIMIT_S)
    (first_gate / "release").touch()  # the run's recorded -O options name this gate: open it for later sessions
    done_by_first = items_done(records)
    assert done_by_first >= 1

    second = start_audit(["audit", "--resume", str(run_dir), *held(second_gate, hold_after)], tmp_path / "2")
    wait_until_held(second, second_gate, tmp_path / "2")
    done_by_second = items_done(records)
    assert done_by_first < done_by_second < len(REVIEWS), "the resumed process was interrupted partway"
    second.send_signal(signal.SIGINT)
    (second_gate / "release").touch()
    assert second.wait(timeout=STARTUP_LIMIT_S) == 130
    assert run_cli(["audit", "--resume", str(run_dir)]) == 0
    check_resumed(run_dir, uninterrupted)
