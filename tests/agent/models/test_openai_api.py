"""The `openai/` provider: request and reply mapping against a stub HTTP server, then end to end against a real
`transformers serve` running the embedded SmolLM2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.errors import ConfigurationError, ModelAuthError
from agent.models import GenerateConfig, Model, SQLiteCache, get_model
from tests.fixtures.servers import FaultServer, ScriptedReply, ServedModel, chat_completion_body

FAST_RETRIES: dict[str, Any] = {"retry_initial_wait": 0.01, "retry_max_wait": 0.05}


def stub_model(base_url: str, **options: Any) -> Model:
    return get_model("openai/stub-model", base_url=base_url, **{**FAST_RETRIES, **options})


# --- against a stub server: what is sent, what is read back -------------------------------------------------


@pytest.mark.server
async def test_generate_config_is_mapped_to_chat_completions_fields(fault_server: FaultServer) -> None:
    model = stub_model(fault_server.base_url, api_key="local-key-1234")
    config = GenerateConfig(
        temperature=0.7,
        max_tokens=5,
        top_p=0.9,
        seed=3,
        stop=("END",),
        n=2,
        logprobs=True,
        top_logprobs=2,
        json_mode=True,
    )

    await model.generate([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], config)

    (request,) = fault_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer local-key-1234"
    assert request.body == {
        "model": "stub-model",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "temperature": 0.7,
        "max_tokens": 5,
        "top_p": 0.9,
        "seed": 3,
        "stop": ["END"],
        "n": 2,
        "logprobs": True,
        "top_logprobs": 2,
        "response_format": {"type": "json_object"},
    }


@pytest.mark.server
async def test_defaults_send_no_optional_fields_and_a_placeholder_key(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    await stub_model(fault_server.base_url).generate("hi")

    (request,) = fault_server.requests
    assert set(request.body) == {"model", "messages", "temperature", "max_tokens"}
    assert request.headers["authorization"].startswith("Bearer ")


@pytest.mark.server
async def test_capabilities_declared_off_are_never_requested(fault_server: FaultServer) -> None:
    model = stub_model(
        fault_server.base_url,
        logprobs=False,
        json_mode=False,
        max_tokens_field="max_completion_tokens",
        drop_params=["temperature"],
    )
    assert not model.capabilities.logprobs
    assert not model.capabilities.json_mode
    assert model.capabilities.seed
    assert not model.capabilities.score

    completion = await model.generate("hi", GenerateConfig(logprobs=True, top_logprobs=3, json_mode=True))

    (request,) = fault_server.requests
    assert set(request.body) == {"model", "messages", "max_completion_tokens"}
    assert completion.choices[0].logprobs is None


@pytest.mark.server
async def test_reply_maps_text_usage_logprobs_reasoning_and_fingerprint(fault_server: FaultServer) -> None:
    body = chat_completion_body("Paris", reasoning="The capital of France is Paris.")
    body["choices"][0]["logprobs"] = {
        "content": [
            {
                "token": "Paris",
                "logprob": -0.25,
                "bytes": None,
                "top_logprobs": [
                    {"token": "Paris", "logprob": -0.25, "bytes": None},
                    {"token": "Lyon", "logprob": -2.5, "bytes": None},
                ],
            }
        ]
    }
    fault_server.reply_with(ScriptedReply(200, {}, body))

    completion = await stub_model(fault_server.base_url).generate(
        "capital of France?", GenerateConfig(logprobs=True, top_logprobs=2, seed=11)
    )

    assert completion.model == "openai/stub-model"
    assert completion.text == "Paris"
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 3)
    assert completion.reasoning == "The capital of France is Paris."
    assert completion.seed == 11
    assert completion.system_fingerprint == "fp_stub"
    (token,) = completion.choices[0].logprobs or []
    assert (token.token, token.logprob) == ("Paris", -0.25)
    assert token.top == [("Paris", -0.25), ("Lyon", -2.5)]


@pytest.mark.server
async def test_reasoning_content_field_is_read_too(fault_server: FaultServer) -> None:
    fault_server.reply_with(ScriptedReply(200, {}, chat_completion_body("42", reasoning_content="6 times 7")))
    completion = await stub_model(fault_server.base_url).generate("6*7?")
    assert (completion.text, completion.reasoning) == ("42", "6 times 7")
    assert completion.choices[0].logprobs is None


@pytest.mark.server
def test_sync_calls_from_separate_event_loops_reuse_the_provider(fault_server: FaultServer) -> None:
    model = stub_model(fault_server.base_url)
    assert model.generate_sync("one").text == "scripted reply"
    assert model.generate_sync("two").text == "scripted reply"
    assert len(fault_server.requests) == 2


@pytest.mark.server
async def test_the_api_key_never_reaches_provenance_cache_keys_replies_or_errors(
    fault_server: FaultServer,
) -> None:
    secret = "sk-proj-SECRETSECRET1234"
    url_with_secrets = f"http://user:hunter2@127.0.0.1:{fault_server.port}/v1?token=querysecret"
    model = get_model("openai/stub-model", base_url=url_with_secrets, api_key=secret, **FAST_RETRIES)

    completion = await model.generate("hi")
    fault_server.reply_with(ScriptedReply(401, {}, {"error": {"message": f"Incorrect API key provided: {secret}"}}))
    with pytest.raises(ModelAuthError) as info:
        await model.generate("something else")

    assert len(fault_server.requests) == 2
    exposed = {
        "describe": json.dumps(model.describe()),
        "cache_identity": json.dumps(model.api.cache_identity()),
        "completion": completion.model_dump_json(),
        "error": str(info.value),
        "concurrency_key": model.api.concurrency_key(),
        "options": repr(model.api.options),
    }
    for where, text in exposed.items():
        for leaked in (secret, "SECRETSECRET", "hunter2", "querysecret"):
            assert leaked not in text, f"{leaked!r} leaked into {where}"
    assert model.api.cache_identity()["base_url"] == f"http://127.0.0.1:{fault_server.port}/v1"


def test_the_hosted_api_without_a_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        get_model("openai/gpt-4o-mini")


def test_a_non_boolean_capability_option_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match=r"GenerateConfig\.seed"):
        get_model("openai/m", base_url="http://127.0.0.1:9/v1", seed=42)


def test_endpoints_identify_cache_entries_and_share_concurrency_limits() -> None:
    a = get_model("openai/m", base_url="http://127.0.0.1:9/v1/").api
    b = get_model("openai/m", base_url="http://127.0.0.1:10/v1").api
    c = get_model("openai/other", base_url="http://127.0.0.1:9/v1").api
    assert a.cache_identity() != b.cache_identity()
    assert a.concurrency_key() == c.concurrency_key() != b.concurrency_key()


# --- against a real transformers serve with SmolLM2 ----------------------------------------------------------


def served(server: ServedModel, cache: SQLiteCache | None = None) -> Model:
    return get_model(f"openai/{server.model_id}", base_url=server.base_url, cache=cache)


@pytest.mark.server
@pytest.mark.slow
async def test_real_server_returns_text_finish_reason_and_usage(transformers_server: ServedModel) -> None:
    model = served(transformers_server)

    completion = await model.generate("Name a colour.", GenerateConfig(max_tokens=4, logprobs=True))

    assert completion.text.strip()
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.prompt_tokens > 0
    assert 0 < completion.usage.completion_tokens <= 4
    # transformers serve ignores `logprobs`: the request must still succeed, with no logprobs.
    assert completion.choices[0].logprobs is None
    assert not completion.cached


@pytest.mark.server
@pytest.mark.slow
async def test_real_server_second_identical_call_is_a_cache_hit(
    transformers_server: ServedModel, tmp_path: Path
) -> None:
    model = served(transformers_server, cache=SQLiteCache(tmp_path))
    config = GenerateConfig(max_tokens=8)

    first = await model.generate("Say hello.", config)
    second = await served(transformers_server, cache=SQLiteCache(tmp_path)).generate("Say hello.", config)

    assert not first.cached
    assert second.cached
    assert second.text == first.text
    assert model.usage.calls_sent == 1


@pytest.mark.server
@pytest.mark.slow
def test_cli_generate_prints_a_completion_from_the_real_server(
    transformers_server: ServedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "generate",
            "--model",
            f"openai/{transformers_server.model_id}",
            "--base-url",
            transformers_server.base_url,
            "--max-tokens",
            "6",
            "What is 2+2?",
        ]
    )
    out, err = capsys.readouterr()
    assert out.strip()
    assert f"openai/{transformers_server.model_id}" in err
    assert "finish=" in err
