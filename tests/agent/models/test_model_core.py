"""The Model wrapper: cache, in-flight sharing, usage accounting, errors, on scripted backends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.errors import ConfigurationError, ModelRequestError
from agent.models import ChatMessage, GenerateConfig, MemoryCache, SQLiteCache, get_model
from agent.models.scripted import ScriptedAPI, ScriptedBehaviour, scripted_model


class Counting:
    """A reply function that counts its calls and can be slowed down."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: object) -> str:
        self.calls += 1
        return f"reply {self.calls} to {messages[-1].content}"


async def test_repeated_request_is_a_cache_hit_and_sends_nothing(tmp_path: Path) -> None:
    counter = Counting()
    model = scripted_model(counter, cache=SQLiteCache(tmp_path))
    first = await model.generate("hi")
    second = await model.generate("hi")
    assert counter.calls == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text
    assert model.usage.calls_sent == 1
    assert model.usage.cache_hits == 1


async def test_cache_persists_across_model_instances(tmp_path: Path) -> None:
    counter = Counting()
    await scripted_model(counter, cache=SQLiteCache(tmp_path)).generate("hi")
    again = await scripted_model(counter, cache=SQLiteCache(tmp_path)).generate("hi")
    assert again.cached
    assert counter.calls == 1


async def test_config_changes_and_sample_id_miss_the_cache_but_timeouts_do_not(tmp_path: Path) -> None:
    counter = Counting()
    model = scripted_model(counter, cache=SQLiteCache(tmp_path))
    await model.generate("hi", GenerateConfig())
    await model.generate("hi", GenerateConfig(timeout=5, max_retries=1))
    assert counter.calls == 1
    await model.generate("hi", GenerateConfig(temperature=0.7))
    await model.generate("hi", GenerateConfig(sample_id=1))
    assert counter.calls == 3


async def test_concurrent_identical_requests_are_sent_once() -> None:
    calls = 0

    class Slow(ScriptedAPI):
        async def generate(self, messages, config, hint=None):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return await super().generate(messages, config, hint)

    from agent.models import Model

    model = Model(Slow("slow", behaviour=ScriptedBehaviour(reply=lambda m, c, h: "ok")), cache=MemoryCache())
    results = await asyncio.gather(*(model.generate("same") for _ in range(5)))
    assert calls == 1
    assert {r.text for r in results} == {"ok"}
    assert model.usage.calls_sent == 1
    assert model.usage.shared_in_flight == 4


async def test_usage_counts_tokens_of_sent_calls_only(tmp_path: Path) -> None:
    model = scripted_model(["one two three"], cache=SQLiteCache(tmp_path))
    await model.generate("a b")
    await model.generate("a b")
    assert (model.usage.prompt_tokens, model.usage.completion_tokens) == (2, 3)


async def test_fatal_error_is_not_retried_and_is_one_line() -> None:
    attempts = 0

    class Rejecting(Exception):
        status_code = 400

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: object) -> str:
        nonlocal attempts
        attempts += 1
        raise Rejecting("model 'gpt-9' does not exist")

    model = scripted_model(reply)
    with pytest.raises(ModelRequestError) as info:
        await model.generate("hi")
    assert attempts == 1
    assert "\n" not in str(info.value)
    assert "scripted/custom" in str(info.value)
    assert model.usage.errors == 1


async def test_transient_error_is_retried_to_success(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = 0

    class Overloaded(Exception):
        status_code = 503

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: object) -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise Overloaded("busy")
        return "finally"

    model = scripted_model(reply)
    completion = await model.generate("hi", GenerateConfig(max_retries=5))
    assert completion.text == "finally"
    assert model.usage.retries == 2


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown model provider 'nope'.*openai"):
        get_model("nope/model")


def test_unknown_scripted_model_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown scripted model"):
        get_model("scripted/does-not-exist")


def test_stop_sequences_and_max_tokens_are_applied() -> None:
    model = scripted_model(["alpha beta STOP gamma"])
    assert model.generate_sync("x", GenerateConfig(stop=("STOP",))).text.strip() == "alpha beta"
    truncated = model.generate_sync("y", GenerateConfig(max_tokens=2))
    assert truncated.text == "alpha beta"
    assert truncated.choices[0].finish_reason == "length"
