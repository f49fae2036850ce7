"""`faithcheck audit --dry-run`: counts what an audit would send, sends nothing, and counts right.

"Counts right" is checked against real runs on a clean cache: the probe model (whose replies always parse but
are not the dry run's canonical ones) on a two-part suite, and a model answering canonically on the demo
scenario with every registered test, by text and by scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.models import ChatMessage, GenerateConfig, MemoryCache, Model, RequestHint, get_model
from agent.models.scripted import scripted_model
from agent.records import read_run
from agent.run import AuditSettings, canonical_reply, dry_run, run_audit
from tests.fixtures.audit import MODEL, audit_args
from tests.fixtures.core import run_cli


def _scores(messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
    return [-float(i + 1) for i, _ in enumerate(continuations)]


def test_dry_run_count_matches_the_calls_a_real_run_sends_on_a_clean_cache(
    probe_tests: tuple[str, ...],
    probe_scenario: Path,
    tmp_path: Path,
    isolated_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    suite = probe_scenario.parent / "probe-suite.yaml"
    assert run_cli([*audit_args(suite), "--dry-run", "--json"]) == 0
    estimate = json.loads(capsys.readouterr().out)
    assert not isolated_cache.exists() or not any(isolated_cache.iterdir()), "a dry run must not touch the cache"
    run_dir = tmp_path / "run"
    assert run_cli([*audit_args(suite), "--out", str(run_dir)]) == 0
    calls = read_run(run_dir).calls.values()
    assert not any(trace.attempt for trace in calls), "precondition: the probe's replies always parse"
    sent = sum(1 for trace in calls if not trace.cached)
    assert sent > 0
    assert estimate["calls"] == sent
    assert estimate["models"][MODEL]["generate_calls"] == sent
    assert estimate["reask_bound"] == 2 * sent


@pytest.mark.parametrize("scores", [False, True], ids=["text", "scores"])
async def test_dry_run_count_matches_every_registered_test_on_the_demo(tmp_path: Path, scores: bool) -> None:
    settings = AuditSettings(scenario="demo", limit=2)
    counted = scripted_model(canonical_reply, name="canonical", score=_scores if scores else None)
    estimate = await dry_run(counted, settings)
    assert estimate.stats.unreadable == 0
    assert counted.usage.requests == 0  # the model itself was never asked
    real = scripted_model(canonical_reply, name="canonical", score=_scores if scores else None, cache=MemoryCache())
    result = await run_audit(real, settings, out=tmp_path / "run", report=False)
    assert result.completed
    assert not any(trace.attempt for trace in read_run(result.run_dir).calls.values())
    assert estimate.calls == real.usage.calls_sent
    assert (estimate.models["scripted/canonical"].score_calls > 0) == scores
    assert estimate.prompt_tokens > 0 and estimate.max_completion_tokens > 0


async def test_dry_run_sends_nothing_to_the_model(probe_tests: tuple[str, ...], probe_scenario: Path) -> None:
    def refuse(messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None) -> str:
        raise AssertionError("a dry run sent a request to the model")

    model = scripted_model(refuse, name="refuser")
    settings = AuditSettings(
        scenario=str(probe_scenario), tests=probe_tests, prompts_dir=probe_scenario.parent / "prompts"
    )
    estimate = await dry_run(model, settings)
    assert estimate.calls == 5 * 12
    assert model.usage.requests == 0
    text = "\n".join(estimate.lines())
    assert "every reply parses the first time" in text
    assert f"up to {2 * estimate.generate_calls} more calls" in text
    assert "nothing was sent" in text


async def test_dry_run_of_the_embedded_model_loads_no_weights() -> None:
    model: Model = get_model("smollm2")
    estimate = await dry_run(model, AuditSettings(scenario="demo", limit=1))
    assert estimate.calls > 0
    assert estimate.models["smollm2"].score_calls > 0  # it declares scoring, so answers are read by scores
    api = model.api
    assert getattr(api, "worker_stats", None) is None
    assert getattr(api, "_runner", None) is None
    await model.aclose()


def test_dry_run_cannot_be_combined_with_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["audit", "--resume", str(tmp_path), "--dry-run"]) == 2
    assert "--dry-run counts a new audit" in capsys.readouterr().err


def test_dry_run_prints_its_assumption(
    probe_tests: tuple[str, ...], probe_scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli([*audit_args(probe_scenario), "--dry-run", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "10 model calls" in out
    assert "every reply parses the first time" in out
