"""The Batch API path against a local Batch API server over real HTTP (tests/fixtures/batch_server.py).

Requests issued together go out as one batch; each reply reaches its own caller and reads exactly like a direct
reply; failed, expired and error lines end in the retry layer as a failed direct call would, never in a reply;
and a second process bound to the same run directory waits for a batch already sent instead of sending it again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ModelRequestError, ModelUnavailableError
from agent.models import Completion, GenerateConfig, MemoryCache, Model, get_model
from agent.models.batch import LEDGER_FILE, batch_mode_of, bind_run_directory
from tests.fixtures.batch_server import BatchFault, BatchServer, echo_engine, serve_batches

pytestmark = pytest.mark.server

FAST = {"batch_window": 0.1, "batch_poll_interval": 0.02, "retry_initial_wait": 0.01, "retry_max_wait": 0.05}


@pytest.fixture
def echo_server() -> Any:
    with serve_batches(echo_engine) as server:
        yield server


def batched(server: BatchServer, **options: Any) -> Model:
    return get_model("openai/m", base_url=server.base_url, batch=True, **{**FAST, **options})


async def ask_all(model: Model, prompts: list[str]) -> list[Completion]:
    try:
        return await asyncio.gather(*(model.generate(p) for p in prompts))
    finally:
        await model.aclose()


PROMPTS = [f"question {i}" for i in range(30)]


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until `condition()` holds."""
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_requests_issued_together_go_out_as_one_batch_and_each_reply_reaches_its_caller(
    echo_server: BatchServer,
) -> None:
    model = batched(echo_server)
    replies = await ask_all(model, PROMPTS)
    assert [r.text for r in replies] == [f"echo: {p}" for p in PROMPTS]
    assert len(echo_server.batches) == 1 and echo_server.requests_in_batches == 30
    assert echo_server.chat_calls == []
    assert model.usage.calls_sent == 30 and model.usage.prompt_tokens == 60  # "question N": 2 words each


async def test_a_batch_reply_reads_exactly_like_a_direct_reply(echo_server: BatchServer) -> None:
    direct = get_model("openai/m", base_url=echo_server.base_url)
    try:
        expected = await direct.generate("same question")
    finally:
        await direct.aclose()
    (got,) = await ask_all(batched(echo_server), ["same question"])
    keep = {"latency_s"}
    assert got.model_dump(exclude=keep) == expected.model_dump(exclude=keep)
    assert len(echo_server.chat_calls) == 1  # the direct one


async def test_a_round_closes_at_its_size_cap(echo_server: BatchServer) -> None:
    await ask_all(batched(echo_server, batch_max_requests=8), PROMPTS[:20])
    assert sorted(len(b.lines) for b in echo_server.batches.values()) == [4, 8, 8]


async def test_a_round_closes_once_requests_stop_arriving(echo_server: BatchServer) -> None:
    model = batched(echo_server, batch_window=0.05)

    async def late() -> Completion:
        await asyncio.sleep(0.5)  # well past the window, and before the first batch could answer
        return await model.generate("late")

    try:
        await asyncio.gather(model.generate("early"), late())
    finally:
        await model.aclose()
    assert [len(b.lines) for b in echo_server.batches.values()] == [1, 1]


async def test_identical_requests_are_sent_once_and_the_cache_answers_them_later(echo_server: BatchServer) -> None:
    model = get_model("openai/m", base_url=echo_server.base_url, batch=True, cache=MemoryCache(), **FAST)
    await ask_all(model, ["same"] * 5)
    await ask_all(model, ["same"])
    assert echo_server.requests_in_batches == 1
    assert model.usage.shared_in_flight == 4 and model.usage.cache_hits == 1


async def test_without_a_cache_a_repeated_request_reads_its_round_again(echo_server: BatchServer) -> None:
    model = batched(echo_server)  # no response cache: only the ledger remembers
    try:
        first = await model.generate("again")
        second = await model.generate("again")
    finally:
        await model.aclose()
    assert first.text == second.text == "echo: again"
    assert len(echo_server.batches) == 1


async def test_a_failed_batch_fails_its_bad_line_and_sends_the_others_again(echo_server: BatchServer) -> None:
    echo_server.plan(BatchFault(fail_lines=(2,)))
    model = batched(echo_server)
    prompts = PROMPTS[:4]
    results = await asyncio.gather(*(model.generate(p) for p in prompts), return_exceptions=True)
    await model.aclose()
    first, second = echo_server.batches.values()
    blamed = first.lines[1]["body"]["messages"][0]["content"]  # input line 2
    for prompt, result in zip(prompts, results, strict=True):
        if prompt == blamed:
            assert isinstance(result, ModelRequestError) and "HTTP 400" in str(result)
            assert "input line 2" in str(result)
        else:
            assert isinstance(result, Completion) and result.text == f"echo: {prompt}"
    assert sorted(line["body"]["messages"][0]["content"] for line in second.lines) == sorted(
        p for p in prompts if p != blamed
    )  # the innocent lines went out again, the rejected one did not
    assert model.usage.errors == 1 and model.usage.retries == 3


async def test_a_batch_rejected_for_a_limit_is_sent_again(echo_server: BatchServer) -> None:
    echo_server.plan(BatchFault(fail_batch="token_limit_exceeded"))
    model = batched(echo_server)
    replies = await ask_all(model, PROMPTS[:5])
    assert [r.text for r in replies] == [f"echo: {p}" for p in PROMPTS[:5]]
    assert [b.status for b in echo_server.batches.values()] == ["failed", "completed"]


async def test_an_expired_batch_keeps_its_answers_and_sends_the_rest_again(echo_server: BatchServer) -> None:
    echo_server.plan(BatchFault(expire_after=3))
    model = batched(echo_server)
    replies = await ask_all(model, PROMPTS[:6])
    assert [r.text for r in replies] == [f"echo: {p}" for p in PROMPTS[:6]]
    first, second = echo_server.batches.values()
    assert first.status == "expired" and len(second.lines) == 3
    assert model.usage.retries == 3 and model.usage.errors == 0


async def test_error_lines_are_retried_or_fail_by_their_status_never_answered_wrongly(
    echo_server: BatchServer,
) -> None:
    echo_server.plan(BatchFault(error_lines={2: 500, 4: 400}))
    model = batched(echo_server)
    results = await asyncio.gather(*(model.generate(p) for p in PROMPTS[:5]), return_exceptions=True)
    await model.aclose()
    for prompt, result in zip(PROMPTS[:5], results, strict=True):
        if isinstance(result, Completion):
            assert result.text == f"echo: {prompt}"
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], ModelRequestError) and "HTTP 400" in str(failures[0])
    assert [len(b.lines) for b in echo_server.batches.values()] == [5, 1]  # the 500 went out again, alone


async def test_a_request_that_keeps_expiring_fails_like_a_direct_call_that_keeps_timing_out(
    echo_server: BatchServer,
) -> None:
    echo_server.plan(*[BatchFault(expire_after=0)] * 3)
    model = batched(echo_server)
    with pytest.raises(ModelUnavailableError, match="still failing after 3 attempts"):
        await model.generate("never answered", config=GenerateConfig(max_retries=2))
    await model.aclose()
    assert len(echo_server.batches) == 3


async def test_an_endpoint_without_a_batch_api_is_named_in_one_line(echo_server: BatchServer) -> None:
    model = get_model("openai/m", base_url=f"{echo_server.base_url}/no-batch-api", batch=True, **FAST)
    with pytest.raises(ModelRequestError, match="has no Batch API"):
        await model.generate("hello")
    await model.aclose()


async def test_a_new_process_waits_for_the_batch_already_sent_instead_of_sending_it_again(
    echo_server: BatchServer, tmp_path: Path
) -> None:
    held = threading.Event()
    echo_server.plan(BatchFault(hold=held))
    first = batched(echo_server)
    bind_run_directory([first], tmp_path)
    pending = [asyncio.ensure_future(first.generate(p)) for p in PROMPTS[:4]]
    first_mode = batch_mode_of(first)
    assert first_mode is not None
    await eventually(lambda: any(r.remote_id for r in first_mode.ledger.rounds.values()))
    # The batch exists and the ledger says so; the process "dies" now.
    for task in pending:
        task.cancel()
    await first.aclose()

    second = batched(echo_server)
    bind_run_directory([second], tmp_path)
    held.set()
    replies = await ask_all(second, PROMPTS[:4])
    assert [r.text for r in replies] == [f"echo: {p}" for p in PROMPTS[:4]]
    assert len(echo_server.batches) == 1 and echo_server.twice_submitted() == []
    mode = batch_mode_of(second)
    assert mode is not None and mode.stats.resumed == 1 and mode.stats.submitted == 0
    kinds = [line.split('"kind":"')[1].split('"')[0] for line in (tmp_path / LEDGER_FILE).read_text().splitlines()]
    assert kinds == ["round", "started", "finished"]


async def test_a_batch_whose_submission_seemed_to_fail_is_found_and_not_sent_twice(
    echo_server: BatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = batched(echo_server)
    bind_run_directory([model], tmp_path)
    mode = batch_mode_of(model)
    assert mode is not None
    real_start = mode.runner.start
    calls = []

    async def start_then_lose_the_answer(round_id: str, input_ref: str) -> str:
        calls.append(round_id)
        await real_start(round_id, input_ref)  # the server made the batch...
        raise ConnectionResetError("connection dropped before the reply")  # ...but we never heard

    monkeypatch.setattr(mode.runner, "start", start_then_lose_the_answer)
    replies = await ask_all(model, PROMPTS[:3])
    assert [r.text for r in replies] == [f"echo: {p}" for p in PROMPTS[:3]]
    assert len(calls) == 1 and len(echo_server.batches) == 1 and echo_server.twice_submitted() == []


async def test_a_round_whose_batch_was_never_made_is_sent_anew(
    echo_server: BatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = batched(echo_server)
    mode = batch_mode_of(model)
    assert mode is not None
    real_start = mode.runner.start
    failures = []

    async def fail_once(round_id: str, input_ref: str) -> str:
        if not failures:
            failures.append(round_id)
            raise ConnectionResetError("connection dropped before the request")
        return await real_start(round_id, input_ref)

    monkeypatch.setattr(mode.runner, "start", fail_once)
    replies = await ask_all(model, PROMPTS[:3])
    assert [r.text for r in replies] == [f"echo: {p}" for p in PROMPTS[:3]]
    assert len(echo_server.batches) == 1 and echo_server.uploads == 2
    assert [r.abandoned for r in mode.ledger.rounds.values()] == [True, False]
