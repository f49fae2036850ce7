"""Interrupting a real `faithcheck audit` process (Ctrl-C and SIGKILL) and resuming it.

The audit runs in a subprocess (tests/fixtures/audit_driver.py: the real CLI with the probe tests registered) on
a probe model slowed to 20 ms per call; the test stops it once a few items are done, resumes the run, and
compares the outcome with an uninterrupted run: the same summary, no verdict written twice, no item missing.
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
from tests.agent.test_audit import audit_args, run_cli
from tests.fixtures.audit import PROBE_TESTS, REVIEWS

ROOT = Path(__file__).resolve().parents[2]


def start_audit(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """The audit CLI in a process of its own (stderr to `log`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.audit_driver", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_for_items(process: subprocess.Popen[bytes], records: Path, count: int, timeout: float = 60.0) -> int:
    """Block until `count` items are marked done; the number done when it returns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the audit ended before it could be interrupted"
        done = records.read_text().count('"kind":"item_done"') if records.exists() else 0
        if done >= count:
            return done
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"fewer than {count} items were done after {timeout} s")


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
    run_dir = tmp_path / "interrupted"
    log = tmp_path / "stderr.txt"
    args = audit_args(probe_scenario, "--out", str(run_dir), "--concurrency", "2", "-O", "delay=0.02")
    process = start_audit(args, log)
    done_at_stop = wait_for_items(process, run_dir / "records.jsonl", 3)
    process.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
    status = process.wait(timeout=60)
    stderr = log.read_text()
    records = run_dir / "records.jsonl"
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
    done_before = records.read_text().count('"kind":"item_done"')
    assert done_at_stop <= done_before < len(REVIEWS), "stop the run partway, not after it finished"

    assert run_cli(["audit", "--resume", str(run_dir), "-O", "delay=0"]) == 0
    check_resumed(run_dir, uninterrupted)
    lines = records.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # the torn line was cut, nothing else


def test_resume_after_two_interruptions(probe_scenario: Path, tmp_path: Path, uninterrupted: RunSummary) -> None:
    run_dir = tmp_path / "twice"
    first = start_audit(
        audit_args(probe_scenario, "--out", str(run_dir), "--concurrency", "2", "-O", "delay=0.02"), tmp_path / "1"
    )
    wait_for_items(first, run_dir / "records.jsonl", 2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    done_by_first = (run_dir / "records.jsonl").read_text().count('"kind":"item_done"')
    # Slow calls (a delay is not part of what a model answers, so the resume accepts it): the second process is
    # still working when Ctrl-C comes, however fast the machine.
    second = start_audit(["audit", "--resume", str(run_dir), "-O", "delay=0.5"], tmp_path / "2")
    # Wait for items the *second* process finished: by then it is past start-up and handles Ctrl-C.
    done = wait_for_items(second, run_dir / "records.jsonl", done_by_first + 1)
    assert done < len(REVIEWS), "the resumed process was interrupted partway"
    second.send_signal(signal.SIGINT)
    assert second.wait(timeout=60) == 130
    assert run_cli(["audit", "--resume", str(run_dir), "-O", "delay=0"]) == 0
    check_resumed(run_dir, uninterrupted)
