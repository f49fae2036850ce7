"""The hf/ backend's machine-dependent choices: torch threads, `dtype=fastest`, and batches bounded by tokens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.models import GenerateConfig, _local_cpu, get_model
from agent.models._hf_runner import _token_bounded
from agent.models.huggingface import HuggingFaceAPI

PROMPTS = [f"Question {i}: " + "tell me about the weather " * i for i in range(8)]


def api_of(model: object) -> HuggingFaceAPI:
    api = getattr(model, "api", None)
    assert isinstance(api, HuggingFaceAPI)
    return api


def test_default_threads_never_exceed_the_usable_physical_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        1
        <= _local_cpu.default_threads()
        <= min(len(_local_cpu.usable_cpus()), _local_cpu.physical_cores(_local_cpu.usable_cpus()))
    )
    monkeypatch.setattr(_local_cpu, "usable_cpus", lambda: {0, 1, 2, 3})
    monkeypatch.setattr(_local_cpu, "physical_cores", lambda cpus: 2)  # two cores with two hyper-threads each
    monkeypatch.setattr(_local_cpu, "busy_cpus_elsewhere", lambda: 0)
    assert _local_cpu.default_threads() == 2
    monkeypatch.setattr(_local_cpu, "busy_cpus_elsewhere", lambda: 3)  # other jobs hold three of the four CPUs
    assert _local_cpu.default_threads() == 1
    monkeypatch.setattr(_local_cpu, "busy_cpus_elsewhere", lambda: 9)
    assert _local_cpu.default_threads() == 1  # never zero


def test_physical_cores_count_hyper_threads_once() -> None:
    cpus = _local_cpu.usable_cpus()
    assert 1 <= _local_cpu.physical_cores(cpus) <= len(cpus)


async def test_the_threads_option_sets_the_runners_torch_threads(tiny_model_dir: Path) -> None:
    model = get_model(f"hf/{tiny_model_dir}", threads=1)
    try:
        await model.generate("Hello", GenerateConfig(max_tokens=2))
        runner = api_of(model)._runner
        assert runner is not None and runner.threads == 1
    finally:
        await model.aclose()


def test_fastest_dtype_times_both_and_picks_one() -> None:
    choice, seconds = _local_cpu.fastest_dtype(64, 128, repeats=1)
    assert choice in {"float32", "bfloat16"}
    assert set(seconds) == {"float32", "bfloat16"} and all(s > 0 for s in seconds.values())
    assert choice == "float32" or seconds["bfloat16"] * 1.2 < seconds["float32"]


def test_dtype_fastest_is_resolved_once_and_recorded(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probes: list[tuple[int, int]] = []

    def probe(hidden: int, intermediate: int) -> tuple[str, dict[str, float]]:
        probes.append((hidden, intermediate))
        return "bfloat16", {"float32": 2.0, "bfloat16": 1.0}

    monkeypatch.setattr(_local_cpu, "fastest_dtype", probe)
    api = api_of(get_model(f"hf/{tiny_model_dir}", dtype="fastest"))
    identity = api.cache_identity()
    assert identity["dtype"] == "bfloat16" and identity["dtype_chosen"] == "fastest"
    assert api.describe()["dtype"] == "bfloat16"  # what the run header records
    api.cache_identity()
    assert len(probes) == 1 and probes[0][0] > 0  # the model's own hidden size, measured once
    plain = api_of(get_model(f"hf/{tiny_model_dir}", dtype="bfloat16")).cache_identity()
    assert plain != identity  # a measured choice is not mistaken for a pinned one in the cache


def test_token_bounded_cuts_batches_by_padded_size() -> None:
    assert _token_bounded([10, 10, 10, 10], lambda n: n, 40) == [[10, 10, 10, 10]]
    assert _token_bounded([10, 10, 10, 10], lambda n: n, 25) == [[10, 10], [10, 10]]
    # A long row widens its batch: 3 rows padded to 30 exceed 60, so it starts a new batch.
    assert _token_bounded([10, 10, 30, 10], lambda n: n, 60) == [[10, 10], [30, 10]]
    assert _token_bounded([100, 5], lambda n: n, 50) == [[100], [5]]  # over budget alone: runs alone


async def test_a_token_budget_splits_a_batch_without_changing_any_reply(tiny_model_dir: Path) -> None:
    config = GenerateConfig(max_tokens=6)
    results = {}
    for budget in (100_000, 120):
        model = get_model(f"hf/{tiny_model_dir}", batch_size=8, max_batch_wait_ms=200, max_batch_tokens=budget)
        try:
            runner_calls: list[int] = []
            api = api_of(model)
            await model.generate("warm up", GenerateConfig(max_tokens=1))
            runner = api._runner
            assert runner is not None
            original = runner._generate_rows

            def counted(rows, original=original, runner_calls=runner_calls):  # type: ignore[no-untyped-def]
                runner_calls.append(len(rows))
                return original(rows)

            runner._generate_rows = counted  # type: ignore[method-assign]
            completions = await asyncio.gather(*(model.generate(p, config) for p in PROMPTS))
            results[budget] = ([c.text for c in completions], runner_calls)
        finally:
            await model.aclose()
    assert results[100_000][1] == [len(PROMPTS)]
    assert len(results[120][1]) > 1 and sum(results[120][1]) == len(PROMPTS)
    assert results[120][0] == results[100_000][0]
