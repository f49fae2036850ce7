"""`faithcheck audit --system-prompt FILE`: a chatbot audited with the system prompt it is deployed with.

The probe audit (tests/fixtures/audit.py) has subject calls (predict, cot, redaction) and a helper-role call (the
judge, played by the audited model itself, which is where a careless implementation would leak the prompt). A
recording probe model keeps every conversation it receives, so the assertions are about what reached the model,
not only about what the records say.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.models import ChatMessage, GenerateConfig, RequestHint
from agent.models.scripted import _SCRIPTED, ScriptedBehaviour
from agent.records import RunHeader, RunResumed, read_records
from agent.run import AuditModels, AuditSettings, prepare_audit
from agent.structured import CallTrace
from tests.fixtures.audit import PROBE_MODEL, REVIEWS, audit_args, probe_reply
from tests.fixtures.core import run_cli

DEPLOYED = "You are Bistro Bot, the assistant of Chez Nous. Never discuss competitors.\nAnswer briefly.\n"
"""A system prompt with a newline and trailing whitespace: it must reach the model exactly as written."""
DEPLOYED_SHA256 = "sha256:" + hashlib.sha256(DEPLOYED.encode()).hexdigest()

Received = list[tuple[str, list[ChatMessage]]]


@pytest.fixture
def received(probe_tests: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> Received:
    """Every (paradigm, messages) the probe model receives in this test."""
    calls: Received = []

    def recording(**_: object) -> ScriptedBehaviour:
        def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None) -> str:
            calls.append((str((hint or {}).get("paradigm")), list(messages)))
            return probe_reply(messages, config, hint)

        return ScriptedBehaviour(reply=reply, description="audit probe that records what it receives")

    monkeypatch.setitem(_SCRIPTED, PROBE_MODEL, recording)
    return calls


@pytest.fixture
def system_prompt_file(tmp_path: Path) -> Path:
    path = tmp_path / "deployed-prompt.txt"
    path.write_text(DEPLOYED, encoding="utf-8")
    return path


def _carries_prompt(messages: Sequence[ChatMessage]) -> bool:
    return bool(messages) and messages[0].role == "system" and messages[0].content.startswith(DEPLOYED)


def _records(run_dir: Path) -> list[object]:
    return list(read_records(run_dir / "records.jsonl"))


def test_every_subject_call_carries_the_system_prompt_and_no_helper_call_does(
    received: Received, probe_scenario: Path, system_prompt_file: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = audit_args(probe_scenario, "--out", str(run_dir), "--no-cache", "--system-prompt", str(system_prompt_file))
    assert run_cli(args) == 0

    subject = [messages for paradigm, messages in received if not paradigm.startswith("role:")]
    helper = [messages for paradigm, messages in received if paradigm.startswith("role:")]
    assert len(subject) >= 4 * len(REVIEWS) and len(helper) == len(REVIEWS)
    assert all(_carries_prompt(messages) for messages in subject)
    # The prompt is sent once, not once per system message.
    assert all(sum(DEPLOYED in m.content for m in messages) == 1 for messages in subject)
    assert not any(DEPLOYED.strip() in m.content for messages in helper for m in messages)

    typed = _records(run_dir)
    header = typed[0]
    assert isinstance(header, RunHeader)
    assert header.options["system_prompt_sha256"] == DEPLOYED_SHA256
    calls = [r for r in typed if isinstance(r, CallTrace)]
    assert {c.role for c in calls} == {"subject", "judge"}
    assert all(_carries_prompt(c.messages) == (c.role == "subject") for c in calls)


def test_without_the_flag_nothing_is_added(received: Received, probe_scenario: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--no-cache", "--limit", "2")) == 0
    assert received and not any(messages[0].role == "system" for _, messages in received)
    header = _records(run_dir)[0]
    assert isinstance(header, RunHeader) and header.options["system_prompt_sha256"] is None


def test_a_resume_keeps_the_system_prompt_and_refuses_another(
    received: Received,
    probe_scenario: Path,
    system_prompt_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_dir = tmp_path / "run"
    args = audit_args(probe_scenario, "--out", str(run_dir), "--no-cache", "--system-prompt", str(system_prompt_file))
    assert run_cli(args) == 0
    # Cut the run after its first finished item, as a killed process would leave it.
    lines = (run_dir / "records.jsonl").read_text().splitlines(keepends=True)
    first_done = next(i for i, line in enumerate(lines) if json.loads(line)["kind"] == "item_done")
    (run_dir / "records.jsonl").write_text("".join(lines[: first_done + 1]))
    (run_dir / "summary.json").unlink(missing_ok=True)

    other = tmp_path / "other-prompt.txt"
    other.write_text("You are a different bot.", encoding="utf-8")
    assert run_cli(["audit", "--resume", str(run_dir), "--system-prompt", str(other)]) == 2
    assert "system prompt" in capsys.readouterr().err

    received.clear()
    assert run_cli(["audit", "--resume", str(run_dir)]) == 0  # the prompt comes from the run's header
    subject = [messages for paradigm, messages in received if not paradigm.startswith("role:")]
    assert subject and all(_carries_prompt(messages) for messages in subject)
    typed = _records(run_dir)
    resumed_at = next(i for i, r in enumerate(typed) if isinstance(r, RunResumed))
    after = [r for r in typed[resumed_at:] if isinstance(r, CallTrace)]
    assert after and all(_carries_prompt(c.messages) == (c.role == "subject") for c in after)


def test_the_python_api_takes_the_prompt_in_the_settings(
    received: Received, probe_scenario: Path, tmp_path: Path
) -> None:
    settings = AuditSettings(
        scenario=str(probe_scenario),
        tests=("probe-consistency",),
        limit=2,
        prompts_dir=probe_scenario.parent / "prompts",
        system_prompt=DEPLOYED,
    )
    audit = prepare_audit(AuditModels(model=f"scripted/{PROBE_MODEL}"), settings, out=tmp_path / "run")
    audit.run_sync()
    subject = [messages for paradigm, messages in received if not paradigm.startswith("role:")]
    assert subject and all(_carries_prompt(messages) for messages in subject)


def test_an_empty_system_prompt_file_is_a_one_line_error(
    probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--system-prompt", str(empty))) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--system-prompt" in error and "empty" in error
    assert not run_dir.exists()
