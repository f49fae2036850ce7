"""The shared retry layer against a real HTTP server that fails on purpose, through the `openai/` provider."""

from __future__ import annotations

from typing import Any

import pytest

from agent.errors import ModelAuthError, ModelRequestError, ModelUnavailableError
from agent.models import GenerateConfig, Model, get_model
from tests.fixtures.servers import FaultServer, ScriptedReply, free_port

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


async def test_unreachable_server_gives_one_line_error_after_retries() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    model = stub_model(base_url)

    with pytest.raises(ModelUnavailableError) as info:
        await model.generate("hello", GenerateConfig(max_retries=2))

    message = str(info.value)
    assert "\n" not in message
    assert f"cannot reach {base_url}" in message
    assert "is the server running?" in message
    assert "after 3 attempts" in message
    assert model.usage.retries == 2


async def test_retries_run_out_on_persistent_server_errors(fault_server: FaultServer) -> None:
    fault_server.reply_with(*[ScriptedReply(503, {}, {"error": {"message": "overloaded"}})] * 5)
    model = stub_model(fault_server.base_url)

    with pytest.raises(ModelUnavailableError, match="after 3 attempts"):
        await model.generate("hello", GenerateConfig(max_retries=2))
    assert len(fault_server.requests) == 3
    assert model.usage.retries == 2
