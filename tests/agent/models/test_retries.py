"""The shared retry layer against a real HTTP server that fails on purpose, through the `openai/` provider."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from agent.errors import ModelAuthError, ModelRequestError, ModelUnavailableError
from agent.models import GenerateConfig, Model, get_model
from tests.fixtures.servers import FaultServer, ScriptedReply, chat_completion_body, free_port

pytestmark = pytest.mark.server

FAST_RETRIES: dict[str, Any] = {"retry_initial_wait": 0.01, "retry_max_wait": 0.05}
"""Backoff bounds small enough to keep the tests quick; Retry-After is honoured regardless of them."""


def stub_model(base_url: str, **options: Any) -> Model:
    return get_model("openai/stub-model", base_url=base_url, **{**FAST_RETRIES, **options})


async def test_rate_limit_then_server_error_is_retried_to_success_honouring_retry_after(
    fault_server: FaultServer,
) -> None:
    fault_server.reply_with(
        ScriptedReply(429, {"Retry-After": "1"}, {"error": {"message": "slow down"}}),
        ScriptedReply(500, {}, {"error": {"message": "boom"}}),
    )
    model = stub_model(fault_server.base_url)

    completion = await model.generate("hello", GenerateConfig(max_retries=3))

    assert completion.text == "scripted reply"
    assert len(fault_server.requests) == 3
    first, second, third = (request.at for request in fault_server.requests)
    # Retry-After said 1s; our own backoff is configured at ~10 ms, so only Retry-After explains the gap.
    assert second - first >= 0.9
    assert second - first < 30
    assert third - second < second - first
    assert model.usage.retries == 2
    assert model.usage.calls_sent == 1
    assert model.usage.errors == 0


async def test_auth_failure_is_not_retried_and_is_one_line(fault_server: FaultServer) -> None:
    fault_server.reply_with(ScriptedReply(401, {}, {"error": {"message": "Incorrect API key provided"}}))
    model = stub_model(fault_server.base_url, api_key="sk-wrong-key-123456")

    with pytest.raises(ModelAuthError) as info:
        await model.generate("hello", GenerateConfig(max_retries=3))

    message = str(info.value)
    assert len(fault_server.requests) == 1
    assert "\n" not in message
    assert "openai/stub-model" in message
    assert "OPENAI_API_KEY" in message
    assert model.usage.retries == 0
    assert model.usage.errors == 1


async def test_rejected_request_is_not_retried(fault_server: FaultServer) -> None:
    fault_server.reply_with(ScriptedReply(404, {}, {"error": {"message": "The model `stub-model` does not exist"}}))
    model = stub_model(fault_server.base_url)

    with pytest.raises(ModelRequestError, match=r"check the model name 'stub-model'"):
        await model.generate("hello", GenerateConfig(max_retries=3))
    assert len(fault_server.requests) == 1


async def test_an_unreachable_server_on_the_first_call_fails_at_once_naming_the_url() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    model = stub_model(base_url)

    with pytest.raises(ModelUnavailableError) as info:
        await model.generate("hello", GenerateConfig(max_retries=5))

    message = str(info.value)
    assert "\n" not in message
    assert f"cannot reach {base_url} (1 attempt" in message
    assert "is the server running?" in message
    assert model.usage.retries == 0


async def test_an_unknown_host_on_the_first_call_fails_at_once() -> None:
    model = stub_model("http://no-such-host.invalid:8000/v1")

    with pytest.raises(ModelUnavailableError, match=r"cannot reach http://no-such-host\.invalid:8000/v1 \(1 attempt"):
        await model.generate("hello", GenerateConfig(max_retries=5))
    assert model.usage.retries == 0


async def test_a_refused_connection_after_the_endpoint_has_answered_is_retried() -> None:
    server = FaultServer()
    server.start()
    model = stub_model(server.base_url)
    assert (await model.generate("first")).text == "scripted reply"
    await model.aclose()  # drop the pooled keep-alive connection, which the server's handler thread would answer
    server.stop()  # the port now refuses connections

    with pytest.raises(ModelUnavailableError, match=r"cannot reach .* \(3 attempts"):
        await model.generate("second", GenerateConfig(max_retries=2))
    assert model.usage.retries == 2


MALFORMED_BODIES = {
    "truncated JSON": ScriptedReply(raw=json.dumps(chat_completion_body("never read")).encode()[:40]),
    "no choices": ScriptedReply(body={"id": "x", "object": "chat.completion", "choices": []}),
    "an HTML page with status 200": ScriptedReply(raw=b"<html><body>Gateway</body></html>", content_type="text/html"),
    "an empty body": ScriptedReply(raw=b""),
    "a legacy completions shape": ScriptedReply(body={"choices": [{"index": 0, "text": "never read"}]}),
    "content that is not text": ScriptedReply(body={"choices": [{"message": {"role": "assistant", "content": [1]}}]}),
    "an error object with status 200": ScriptedReply(body={"error": {"message": "upstream overloaded"}}),
    "usage that is not counts": ScriptedReply(body={**chat_completion_body("x"), "usage": {"prompt_tokens": "many"}}),
}


@pytest.mark.parametrize("malformed", list(MALFORMED_BODIES.values()), ids=list(MALFORMED_BODIES))
async def test_a_malformed_success_body_is_retried_like_a_server_error(
    fault_server: FaultServer, malformed: ScriptedReply
) -> None:
    fault_server.reply_with(malformed)
    model = stub_model(fault_server.base_url)

    completion = await model.generate("hello", GenerateConfig(max_retries=2))

    assert completion.text == "scripted reply"
    assert len(fault_server.requests) == 2
    assert model.usage.retries == 1


async def test_malformed_bodies_until_retries_run_out_give_one_line_naming_the_endpoint(
    fault_server: FaultServer,
) -> None:
    fault_server.reply_with(*[MALFORMED_BODIES["an HTML page with status 200"]] * 3)
    model = stub_model(fault_server.base_url)

    with pytest.raises(ModelUnavailableError) as info:
        await model.generate("hello", GenerateConfig(max_retries=2))

    message = str(info.value)
    assert "\n" not in message
    assert f"{fault_server.base_url} answered with something that is not a chat completion (3 attempts" in message
    assert "text/html" in message
    assert len(fault_server.requests) == 3


async def test_a_hung_attempt_is_abandoned_at_the_timeout_and_retried(fault_server: FaultServer) -> None:
    fault_server.reply_with(ScriptedReply(delay_s=3.0))
    model = stub_model(fault_server.base_url, timeout=0.5)

    completion = await model.generate("hello", GenerateConfig(max_retries=2))

    assert completion.text == "scripted reply"
    assert model.usage.retries == 1
    first, second = (request.at for request in fault_server.requests)
    assert 0.4 < second - first < 2.5


async def test_the_deadline_bounds_a_call_over_all_its_attempts(fault_server: FaultServer) -> None:
    fault_server.reply_with(*[ScriptedReply(delay_s=3.0)] * 10)
    model = stub_model(fault_server.base_url, timeout=0.4, deadline=1.0)

    started = time.monotonic()
    with pytest.raises(ModelUnavailableError) as info:
        await model.generate("hello", GenerateConfig(max_retries=50))

    assert time.monotonic() - started < 2.5
    assert "per-call deadline of 1 s" in str(info.value)
    assert "-O deadline=SECONDS" in str(info.value)


async def test_a_retry_after_beyond_the_deadline_stops_at_once(fault_server: FaultServer) -> None:
    fault_server.reply_with(ScriptedReply(429, {"Retry-After": "30"}, {"error": {"message": "slow down"}}))
    model = stub_model(fault_server.base_url, timeout=1, deadline=5)

    started = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="per-call deadline of 5 s"):
        await model.generate("hello", GenerateConfig(max_retries=3))
    assert time.monotonic() - started < 2
    assert len(fault_server.requests) == 1


async def test_retries_run_out_on_persistent_server_errors(fault_server: FaultServer) -> None:
    fault_server.reply_with(*[ScriptedReply(503, {}, {"error": {"message": "overloaded"}})] * 5)
    model = stub_model(fault_server.base_url)

    with pytest.raises(ModelUnavailableError, match="after 3 attempts"):
        await model.generate("hello", GenerateConfig(max_retries=2))
    assert len(fault_server.requests) == 3
    assert model.usage.retries == 2
