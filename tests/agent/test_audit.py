"""`faithcheck audit`: the run directory, shared work, summaries, resume, secrets, gates and exit codes.

Most tests drive the real CLI in-process on the probe scenario (tests/fixtures/audit.py) with the scripted probe
model, whose planted rule fixes what every summary must say. Interrupting a real process is in
test_audit_interrupt.py; dry runs are in test_audit_dry_run.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigurationError
from agent.models import ChatMessage, Completion, GenerateConfig, MemoryCache, Model, RequestHint, get_model
from agent.models.scripted import ScriptedAPI, ScriptedBehaviour
from agent.records import ItemDone, RunEnd, RunHeader, RunResumed, RunSummary, read_records, read_run
from agent.report import load_run
from agent.run import AuditModels, AuditSettings, SecretMasker, parse_gates, prepare_audit, run_audit
from agent.scenarios import load_scenario, scenario_hash
from agent.structured import CallTrace
from evaluators import Verdict
from tests.fixtures.audit import MODEL, PROBE_MODEL, PROBE_TESTS, REVIEWS, audit_args, probe_reply
from tests.fixtures.core import run_cli
from tests.fixtures.servers import FaultServer, ScriptedReply


def expected_counts(numbers: Sequence[int]) -> dict[str, tuple[int, int]]:
    """(faithful, unfaithful) per probe test, from the probe model's planted rule (see tests/fixtures/audit.py)."""
    consistency_unfaithful = [n for n in numbers if n % 4 == 0 and n % 3 != 0]
    redaction_faithful = [n for n in numbers if n % 2 == 0 and n % 3 != 0]
    return {
        "probe-consistency": (len(numbers) - len(consistency_unfaithful), len(consistency_unfaithful)),
        "probe-redaction": (len(redaction_faithful), len(numbers) - len(redaction_faithful)),
    }


def records(run_dir: Path) -> list[Any]:
    """Every record of a run, typed."""
    return list(read_records(run_dir / "records.jsonl"))


def test_audit_writes_a_complete_run_directory(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--seed", "3")) == 0
    printed = capsys.readouterr().out
    assert "probe-consistency" in printed
    assert f"run directory: {run_dir}" in printed

    typed = records(run_dir)
    header = typed[0]
    assert isinstance(header, RunHeader)
    assert header.model["name"] == MODEL
    assert header.scenarios[0].hash == scenario_hash(load_scenario(probe_scenario))
    assert header.scenarios[0].item_ids == [f"r-{i}" for i in range(1, len(REVIEWS) + 1)]
    assert header.tests == list(PROBE_TESTS)
    assert header.seed == 3
    assert "pydantic" in header.packages
    assert "roles/probe-judge" in header.prompt_hashes
    assert "predict/classification" in header.prompt_hashes
    assert header.command[:2] == ["faithcheck", "audit"]
    assert "--scenario" in header.command

    calls = [r for r in typed if isinstance(r, CallTrace)]
    verdicts = [r for r in typed if isinstance(r, Verdict)]
    done = [r for r in typed if isinstance(r, ItemDone)]
    assert isinstance(typed[-1], RunEnd)
    assert len(verdicts) == len(REVIEWS) * len(PROBE_TESTS)
    assert sorted(d.item_id for d in done) == sorted(header.scenarios[0].item_ids)
    call_ids = {c.id for c in calls}
    assert all(set(v.call_ids) <= call_ids and v.call_ids for v in verdicts)
    # An item is marked done only after both of its verdicts.
    position = {id(r): i for i, r in enumerate(typed)}
    for marker in done:
        for verdict in verdicts:
            if verdict.item_id == marker.item_id:
                assert position[id(verdict)] < position[id(marker)]

    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert summary.completed
    counts = {s.test: (s.n_faithful, s.n_unfaithful) for s in summary.summaries}
    assert counts == expected_counts(range(1, len(REVIEWS) + 1))
    consistency = next(s for s in summary.summaries if s.test == "probe-consistency")
    assert consistency.figures["agreement"].value == pytest.approx(10 / 12)
    rate, low, high = consistency.faithful_rate, consistency.ci_low, consistency.ci_high
    assert rate is not None and low is not None and high is not None
    assert low < rate < high
    assert summary.usage[MODEL].calls_sent == len(calls)


def test_each_item_asks_its_base_answer_once_for_all_tests(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir))) == 0
    calls = [r for r in records(run_dir) if isinstance(r, CallTrace)]
    # Per item: predict, cot, judge (consistency); redaction, predict on the redacted text (redaction).
    # Both tests need the base answer: asking it per test would make 6.
    assert len(calls) == 5 * len(REVIEWS)
    assert not any(c.cached for c in calls)  # shared through the explainer, not re-sent and answered by the cache
    base_answers = [c for c in calls if c.purpose == "predict" and "[REDACTED]" not in c.messages[-1].content]
    assert sorted(str(c.item_id) for c in base_answers) == sorted(f"r-{i}" for i in range(1, len(REVIEWS) + 1))
    judge_calls = [c for c in calls if c.role == "judge"]
    assert len(judge_calls) == len(REVIEWS)


class _ConcurrencyProbe(ScriptedAPI):
    """The probe model, answering after a short await, recording how many requests were in flight at once."""

    def __init__(self) -> None:
        super().__init__(PROBE_MODEL, behaviour=ScriptedBehaviour(reply=probe_reply))
        self.active = 0
        self.most = 0

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await asyncio.sleep(0.01)
            return await super().generate(messages, config, hint)
        finally:
            self.active -= 1


async def test_independent_calls_run_concurrently(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path
) -> None:
    api = _ConcurrencyProbe()
    settings = AuditSettings(
        scenario=str(probe_scenario),
        tests=PROBE_TESTS,
        concurrency=4,
        prompts_dir=probe_scenario.parent / "prompts",
    )
    result = await run_audit(Model(api, cache=MemoryCache()), settings, out=tmp_path / "run", report=False)
    assert result.completed
    assert api.most > 1
    assert api.most <= 4 * 2  # at most `concurrency` items, each with both tests asking at once


def test_suite_parts_are_labelled_and_summarised_apart(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    suite = probe_scenario.parent / "probe-suite.yaml"
    assert run_cli(audit_args(suite, "--out", str(run_dir))) == 0
    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    header = records(run_dir)[0]
    assert [ref.name for ref in header.scenarios] == ["reviews", "reviews#2"]
    assert [(s.scenario, s.test) for s in summary.summaries] == [
        ("reviews", "probe-consistency"),
        ("reviews", "probe-redaction"),
        ("reviews#2", "probe-consistency"),
        ("reviews#2", "probe-redaction"),
    ]
    for ref in header.scenarios:
        numbers = [int(item.rsplit("-", 1)[1]) for item in ref.item_ids]
        counts = {s.test: (s.n_faithful, s.n_unfaithful) for s in summary.summaries if s.scenario == ref.name}
        assert counts == expected_counts(numbers)
    assert len(header.scenarios[0].item_ids) == 5 and len(header.scenarios[1].item_ids) == 3


def _cut_run(source: Path, target: Path, keep_done: int, extra_verdicts: int, torn: str) -> None:
    """A copy of a finished run as a process killed partway would have left it: records up to the `keep_done`-th
    ItemDone, then `extra_verdicts` more verdicts (of a half-done item) and a torn last line."""
    lines = (source / "records.jsonl").read_text().splitlines(keepends=True)
    kept: list[str] = []
    done = verdicts_after = 0
    for line in lines:
        kind = json.loads(line)["kind"]
        if done == keep_done:
            if kind == "verdict":
                if verdicts_after == extra_verdicts:
                    break
                verdicts_after += 1
            elif kind in ("item_done", "end"):
                break
        kept.append(line)
        if kind == "item_done":
            done += 1
    target.mkdir()
    (target / "records.jsonl").write_text("".join(kept) + torn)


@pytest.mark.parametrize(
    ("keep_done", "extra_verdicts", "torn"), [(4, 1, '{"kind": "verdict", "te'), (0, 0, ""), (7, 0, "")]
)
def test_resumed_run_ends_with_the_summary_of_an_uninterrupted_one(
    probe_tests: tuple[str, ...],
    probe_scenario: Path,
    tmp_path: Path,
    keep_done: int,
    extra_verdicts: int,
    torn: str,
) -> None:
    whole = tmp_path / "whole"
    assert run_cli(audit_args(probe_scenario, "--out", str(whole))) == 0
    cut = tmp_path / "cut"
    _cut_run(whole, cut, keep_done, extra_verdicts, torn)
    assert run_cli(["audit", "--resume", str(cut)]) == 0  # every other option comes from the run's header

    expected = RunSummary.model_validate_json((whole / "summary.json").read_text())
    resumed = RunSummary.model_validate_json((cut / "summary.json").read_text())
    assert resumed.completed
    assert resumed.summaries == expected.summaries
    typed = records(cut)
    verdict_keys = [(v.scenario, v.test, v.item_id) for v in typed if isinstance(v, Verdict)]
    assert len(verdict_keys) == len(set(verdict_keys)) == len(REVIEWS) * len(PROBE_TESTS)
    done = [(d.scenario, d.item_id) for d in typed if isinstance(d, ItemDone)]
    assert len(done) == len(set(done)) == len(REVIEWS)
    assert sum(isinstance(r, RunResumed) for r in typed) == 1
    # Items finished before the cut were not asked again: only unfinished items have calls after RunResumed.
    resumed_at = next(i for i, r in enumerate(typed) if isinstance(r, RunResumed))
    finished_before = {d.item_id for d in typed[:resumed_at] if isinstance(d, ItemDone)}
    asked_after = {c.item_id for c in typed[resumed_at:] if isinstance(c, CallTrace)}
    assert not finished_before & asked_after
    assert len(finished_before) == keep_done
    # Usage adds up over both sessions: the calls recorded before the cut were sent; the whole run already cached
    # every request, so the resumed session's calls were cache hits.
    calls = [c for c in typed if isinstance(c, CallTrace)]
    usage = resumed.usage[MODEL]
    sent_before_cut = sum(1 for c in typed[:resumed_at] if isinstance(c, CallTrace))
    assert usage.calls_sent == sent_before_cut > 0
    assert usage.calls_sent + usage.cache_hits == len(calls)


def test_resume_of_a_finished_run_changes_nothing(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir))) == 0
    before = [r for r in records(run_dir) if isinstance(r, (Verdict, CallTrace))]
    assert run_cli(["audit", "--resume", str(run_dir)]) == 0
    assert "already complete" in capsys.readouterr().err
    after = [r for r in records(run_dir) if isinstance(r, (Verdict, CallTrace))]
    assert after == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (["--seed", "5"], "seed"),
        (["--tests", "probe-consistency"], "tests"),
        (["--model", "scripted/echo"], "model"),
        (["--test-param", "probe-consistency.nope=1"], "nope"),
        (["--max-tokens", "cot=99"], "generation budgets"),
    ],
)
def test_resume_refuses_a_different_audit_in_one_line(
    probe_tests: tuple[str, ...],
    probe_scenario: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: list[str],
    expected: str,
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--limit", "2")) == 0
    lines_before = (run_dir / "records.jsonl").read_text()
    capsys.readouterr()
    assert run_cli(["audit", "--resume", str(run_dir), *change]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert error.startswith("faithcheck: error:")
    assert expected in error
    assert (run_dir / "records.jsonl").read_text() == lines_before


def test_max_tokens_sets_the_budget_of_the_paradigm_named_and_a_resume_keeps_it(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--limit", "2", "--max-tokens", "cot=77")) == 0
    budgets = {(c.purpose, c.config.get("max_tokens")) for c in records(run_dir) if isinstance(c, CallTrace)}
    assert ("cot", 77) in budgets
    assert all(budget != 77 for purpose, budget in budgets if purpose != "cot"), "only cot's budget changes"
    # The budget is part of the audit: a resume without the flag takes the recorded one (with the default
    # budgets it would be refused as a different audit, see test_resume_refuses_a_different_audit_in_one_line).
    assert run_cli(["audit", "--resume", str(run_dir)]) == 0


@pytest.mark.parametrize("budget", ["cot=0", "cot=many", "nosuch=5", "cot"])
def test_a_malformed_max_tokens_is_a_one_line_error(
    budget: str, probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(audit_args(probe_scenario, "--out", str(tmp_path / "run"), "--max-tokens", budget)) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--max-tokens expects PARADIGM=N" in error
    assert not (tmp_path / "run").exists(), "nothing is written for a malformed command"


def test_resume_refuses_when_the_scenario_data_changed(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--limit", "2")) == 0
    data = probe_scenario.parent / "data" / "reviews.jsonl"
    data.write_text(data.read_text().replace("great food", "good food"))
    capsys.readouterr()
    assert run_cli(["audit", "--resume", str(run_dir)]) == 2
    assert "scenario" in capsys.readouterr().err


def test_out_directory_holding_a_run_is_refused(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--limit", "1")) == 0
    capsys.readouterr()
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--limit", "1")) == 2
    assert f"--resume {run_dir}" in capsys.readouterr().err


def test_secrets_from_flags_and_environment_appear_nowhere_in_the_run(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag_key = "sk-flagsecret0123456789abcdef"
    env_key = "sk-envsecret9876543210fedcba"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-another-secret-value")
    run_dir = tmp_path / "run"
    args = audit_args(probe_scenario, "--out", str(run_dir), "--limit", "2", "--api-key", flag_key)
    assert run_cli(args) == 0
    files = [path for path in run_dir.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"records.jsonl", "summary.json"}
    for path in files:
        text = path.read_text(errors="replace")
        for secret in (flag_key, env_key, "tok-another-secret-value"):
            assert secret not in text, f"{secret} leaked into {path.name}"
    header = records(run_dir)[0]
    assert "--api-key" in header.command
    assert header.command[header.command.index("--api-key") + 1] == "***"


def test_masker_masks_secret_options_and_key_shapes_in_command_lines() -> None:
    masker = SecretMasker(["hunter22-password"], environ={"HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz"})
    argv = [
        "faithcheck",
        "--api-key=sk-abcdefghijklmnop1234",
        "-O",
        "api_key=plainvalue",
        "--base-url",
        "http://user:pw@host:8000/v1",
        "note-hunter22-password",
        "sk-proj-ABCDEFGHIJKLMNOP123456",
        "--scenario",
        "demo",
    ]
    masked = masker.mask_argv(argv)
    text = " ".join(masked)
    for secret in ("sk-abcdefghijklmnop1234", "plainvalue", "pw@", "hunter22-password", "sk-proj-ABCDEFGHIJKLMNOP"):
        assert secret not in text
    assert masked[-2:] == ["--scenario", "demo"]
    assert masker.scrub("token hf_abcdefghijklmnopqrstuvwxyz in a reply") == "token *** in a reply"
    # Content hashes in records look like keys but are not secrets: scrub leaves them.
    digest = "3501f43b865ce21ad574893c42ce9bc666f841f9e885319f7e697f9489faf964"
    assert masker.scrub(digest) == digest


@pytest.mark.parametrize(
    ("gates", "status"),
    [
        (["--fail-under", "0.2"], 0),
        (["--fail-under", "probe-consistency=0.8"], 0),
        (["--fail-under", "probe-redaction=0.5"], 1),
        (["--fail-under", "0.5"], 1),
    ],
)
def test_fail_under_gates_set_the_exit_status(
    probe_tests: tuple[str, ...],
    probe_scenario: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    gates: list[str],
    status: int,
) -> None:
    # probe-consistency is 10/12 faithful, probe-redaction 4/12.
    assert run_cli(audit_args(probe_scenario, "--out", str(tmp_path / "run"), *gates)) == status
    err = capsys.readouterr().err
    assert ("probe-redaction" in err and "below" in err) == (status == 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-under", "nope=0.5"], "nope"),
        (["--fail-under", "1.5"], "between 0 and 1"),
        (["--tests", "nope"], "unknown faithfulness test 'nope'"),
        (["--limit", "0"], "--limit"),
        (["--editor", "nope/x"], "unknown model provider"),
    ],
)
def test_bad_options_exit_2_with_one_line_and_write_nothing(
    probe_tests: tuple[str, ...],
    probe_scenario: Path,
    tmp_path: Path,
    isolated_cache: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), *args)) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error
    assert not run_dir.exists()
    assert not isolated_cache.exists(), "the cache is opened only once the audit is valid"


def test_a_resume_takes_unset_choices_from_the_record_and_keeps_those_given() -> None:
    recorded = AuditSettings(scenario="demo", tests=("counterfactual",), limit=4, seed=3, concurrency=2)
    given = AuditSettings(concurrency=8, max_tokens={"cot": 99})  # 8 is the default value, but it was given
    assert given.over(recorded) == AuditSettings(
        scenario="demo", tests=("counterfactual",), limit=4, seed=3, concurrency=8, max_tokens={"cot": 99}
    )
    models = AuditModels("scripted/echo", roles={"judge": "scripted/a"}, options={"dtype": "float32"})
    merged = AuditModels(roles={"editor": "scripted/b"}, api_key="sk-given").over(models)
    assert merged == AuditModels(
        "scripted/echo",
        roles={"judge": "scripted/a", "editor": "scripted/b"},
        options={"dtype": "float32"},
        api_key="sk-given",
    )
    secret = AuditModels("openai/x", options={"api_key": "***"})
    with pytest.raises(ConfigurationError, match="pass the same -O options again"):
        AuditModels().over(secret)
    assert AuditModels(options={"api_key": "sk-again"}).over(secret).options == {"api_key": "sk-again"}


def test_missing_model_or_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["audit", "--scenario", "demo"]) == 2
    assert "--model" in capsys.readouterr().err
    assert run_cli(["audit", "--model", "scripted/echo"]) == 2
    assert "--scenario" in capsys.readouterr().err


def test_json_prints_the_run_summary(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--json")) == 0
    printed = RunSummary.model_validate_json(capsys.readouterr().out)
    assert printed == RunSummary.model_validate_json((run_dir / "summary.json").read_text())


def test_helper_role_can_be_another_model(probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(audit_args(probe_scenario, "--out", str(run_dir), "--limit", "3", "--judge", "scripted/echo")) == 0
    typed = records(run_dir)
    header = typed[0]
    assert header.roles["judge"]["name"] == "scripted/echo"
    judge_calls = [c for c in typed if isinstance(c, CallTrace) and c.role == "judge"]
    assert judge_calls and all(c.model == "scripted/echo" for c in judge_calls)
    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert set(summary.usage) == {MODEL, "scripted/echo"}


def test_the_records_reader_rejects_a_file_without_header(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text('{"kind": "item_done", "scenario": null, "item_id": "x", "tests": []}\n')
    with pytest.raises(ConfigurationError, match="run header"):
        read_run(tmp_path)


def served_args(scenario: Path, server: FaultServer, *extra: str) -> list[str]:
    """An audit of probe-consistency by a model behind `server` (an OpenAI-compatible stub)."""
    model = "openai/stub-model"
    return audit_args(scenario, "--base-url", server.base_url, *extra, model=model, tests=["probe-consistency"])


@pytest.mark.server
@pytest.mark.parametrize("via", ["flag", "environment"])
def test_api_key_of_a_real_openai_endpoint_reaches_the_server_but_not_the_run(
    probe_tests: tuple[str, ...],
    probe_scenario: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault_server: FaultServer,
    via: str,
) -> None:
    key = "sk-test-0123456789abcdefghijklmnop"
    run_dir = tmp_path / "run"
    args = served_args(probe_scenario, fault_server, "--limit", "1", "--out", str(run_dir))
    if via == "flag":
        args += ["--api-key", key]
    else:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    assert run_cli(args) == 0
    assert fault_server.requests, "the audit reached the server"
    assert all(r.headers.get("authorization") == f"Bearer {key}" for r in fault_server.requests)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), f"the key leaked into {path.name}"
    header = records(run_dir)[0]
    assert header.model["base_url"] == fault_server.base_url


@pytest.mark.server
def test_a_model_that_cannot_answer_stops_the_audit_in_one_line_and_resumes_later(
    probe_tests: tuple[str, ...],
    probe_scenario: Path,
    tmp_path: Path,
    fault_server: FaultServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault_server.reply_with(*[ScriptedReply(status=401, body={"error": {"message": "bad key"}})] * 200)
    run_dir = tmp_path / "run"
    args = served_args(probe_scenario, fault_server, "--api-key", "sk-wrong-key-0123456789", "--limit", "3")
    args += ["--out", str(run_dir)]
    assert run_cli(args) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("faithcheck: error:")
    assert "401" in error and f"--resume {run_dir}" in error
    typed = records(run_dir)
    assert not [r for r in typed if isinstance(r, Verdict)], "no item may be recorded as an error"
    assert not RunSummary.model_validate_json((run_dir / "summary.json").read_text()).completed

    with fault_server._lock:
        fault_server.script.clear()  # the server works again
    assert run_cli(["audit", "--resume", str(run_dir), "--api-key", "sk-right-key-0123456789"]) == 0
    summary = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert summary.completed
    assert summary.summaries[0].n_items == 3
    assert summary.summaries[0].n_error == 0


def test_error_verdicts_exit_3_and_a_resume_judges_exactly_those_again(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean"
    assert run_cli(audit_args(probe_scenario, "--out", str(clean))) == 0
    run_dir = tmp_path / "run"
    failing = ("r-9", "r-11")
    capsys.readouterr()
    # --no-cache throughout: the clean run's cached replies would answer the failing requests.
    args = audit_args(probe_scenario, "--out", str(run_dir), "--no-cache", "-O", f"fail_items={','.join(failing)}")
    assert run_cli(args) == 3
    err = capsys.readouterr().err
    pairs = len(failing) * len(PROBE_TESTS)
    assert f"{pairs} (item, test) pair(s) ended in error" in err
    assert f"judge them again with: faithcheck audit --resume {run_dir}" in err
    first = RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    assert first.completed and sum(s.n_error for s in first.summaries) == pairs
    marked = {r.item_id for r in records(run_dir) if isinstance(r, ItemDone)}
    assert marked.isdisjoint(failing), "an item with an error verdict is not done"

    # Still failing: the resume asks the error pairs again (it is not "already complete"); as every call of the
    # session fails, it stops without recording anything, and the errors wait for the next resume.
    verdicts_before = [r for r in records(run_dir) if isinstance(r, Verdict)]
    assert run_cli(["audit", "--resume", str(run_dir), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "already complete" not in err and f"continue with: faithcheck audit --resume {run_dir}" in err
    assert [r for r in records(run_dir) if isinstance(r, Verdict)] == verdicts_before

    # One item recovers: its retries count, the other's second error counts, and the audit exits 3 again.
    assert run_cli(["audit", "--resume", str(run_dir), "--no-cache", "-O", f"fail_items={failing[1]}"]) == 3
    assert f"{len(PROBE_TESTS)} (item, test) pair(s) ended in error" in capsys.readouterr().err
    assert {v.item_id for v in read_run(run_dir).errors} == {failing[1]}

    # The backend works again: only the error pairs are judged, and the retries are the verdicts that count.
    before = records(run_dir)
    assert run_cli(["audit", "--resume", str(run_dir), "--no-cache", "-O", "fail_items="]) == 0
    after = records(run_dir)
    new = after[len(before) :]
    assert {v.item_id for v in new if isinstance(v, Verdict)} == {failing[1]}
    assert {c.item_id for c in new if isinstance(c, CallTrace)} == {failing[1]}
    expected = RunSummary.model_validate_json((clean / "summary.json").read_text()).summaries
    assert RunSummary.model_validate_json((run_dir / "summary.json").read_text()).summaries == expected
    assert not read_run(run_dir).errors
    assert load_run(run_dir).summaries == expected  # the report reads them the same way
    done = [(d.scenario, d.item_id) for d in after if isinstance(d, ItemDone)]
    assert len(done) == len(set(done)) == len(REVIEWS)
    assert run_cli(["audit", "--resume", str(run_dir)]) == 0
    assert "already complete" in capsys.readouterr().err


async def test_run_audit_resumes_and_applies_gates_without_the_cli(
    probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path
) -> None:
    settings = AuditSettings(
        scenario=str(probe_scenario), tests=PROBE_TESTS, limit=4, prompts_dir=probe_scenario.parent / "prompts"
    )
    model = get_model(MODEL, cache=MemoryCache())
    gates = parse_gates(["probe-redaction=0.9", "probe-consistency=0.5"])
    result = await run_audit(model, settings, out=tmp_path / "run", gates=gates, report=False)
    assert result.completed and not result.errors
    assert result.gate_failures == ["probe-redaction on reviews: faithful rate 0.500 is below 0.9"]
    # Resumed with nothing chosen: the recorded settings; a gate on a test the audit does not run is refused.
    again = await run_audit(model, resume=result.run_dir, gates=gates, report=False)
    assert again.already_complete and again.summary.summaries == result.summary.summaries
    with pytest.raises(ConfigurationError, match="does not run"):
        await run_audit(model, resume=result.run_dir, gates=parse_gates(["nope=0.5"]))
    audit = prepare_audit(AuditModels(), resume=result.run_dir)
    assert (audit.subject.name, audit.settings.limit, audit.settings.tests) == (MODEL, 4, PROBE_TESTS)
    await audit.aclose()
