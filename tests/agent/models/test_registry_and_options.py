"""Providers register once, on their class, without importing their SDKs; their options are typed and checked."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from agent.errors import ConfigurationError
from agent.models import GenerateConfig, Model, get_model, providers
from agent.models._api import ModelAPI
from agent.models._options import ProviderOptions
from agent.models._registry import register_provider
from agent.models._types import ChatMessage, Completion
from agent.models.scripted import scripted_model

HEAVY_MODULES = ("torch", "transformers", "openai", "langchain_core")


def test_importing_agent_and_listing_providers_imports_no_sdk() -> None:
    code = (
        "import sys, agent\n"
        "from agent.models import providers, get_model\n"
        "names = [entry.name for entry in providers()]\n"
        "get_model('openai/m', base_url='http://127.0.0.1:9/v1')\n"
        f"print(names, [m for m in {HEAVY_MODULES!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['openai', 'hf', 'smollm2', 'langchain', 'http', 'scripted'] []"


def test_the_decorator_is_the_one_place_a_provider_is_described() -> None:
    entries = {entry.name: entry for entry in providers()}
    openai_entry = entries["openai"]
    assert openai_entry.api.provider == "openai"
    assert openai_entry.requires == openai_entry.api.requires == ("openai",)
    assert openai_entry.summary == openai_entry.api.summary
    assert "OpenAI-compatible" in openai_entry.summary
    assert entries["smollm2"].api.provider == "smollm2"  # a subclass of hf/ registers under its own name
    assert entries["hf"].api.provider == "hf"


def test_a_third_party_provider_registers_with_the_same_decorator() -> None:
    class EchoOptions(ProviderOptions):
        prefix: str = ">"
        """put before the echoed text"""

    @register_provider("test-echo", summary="echoes the prompt", example="test-echo/any")
    class EchoAPI(ModelAPI):
        Options = EchoOptions
        options: EchoOptions

        async def generate(self, messages: Any, config: GenerateConfig, hint: Any = None) -> Completion:
            from agent.models import Choice

            return Completion(model=self.name, choices=[Choice(text=self.options.prefix + messages[-1].content)])

    model = get_model("test-echo/any", prefix="#")
    assert model.name == "test-echo/any"
    assert model.generate_sync("hi").text == "#hi"
    with pytest.raises(ConfigurationError, match=r"test-echo/any: unknown option 'prefx' \(did you mean 'prefix'\?\)"):
        get_model("test-echo/any", prefx="#")


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("openai/m", {"timeout": "abc"}, r"openai/m: option timeout='abc': input should be a valid number"),
        ("openai/m", {"timeout": 0}, r"option timeout=0: input should be greater than 0 \(timeout: seconds one"),
        ("openai/m", {"timout": 5}, r"unknown option 'timout' \(did you mean 'timeout'\?\); its options are "),
        ("openai/m", {"max_connections": 0}, r"option max_connections=0: input should be greater than 0"),
        ("openai/m", {"max_connections": "four"}, r"option max_connections='four': input should be a valid integer"),
        ("openai/m", {"deadline": 10, "timeout": 60}, r"deadline=10 is shorter than one attempt \(timeout=60\)"),
        ("openai/m", {"seed": 42}, r"option seed=42: input should be a valid boolean .*GenerateConfig\.seed"),
        ("openai/m", {"max_tokens_field": "tokens"}, r"input should be 'max_tokens' or 'max_completion_tokens'$"),
        ("openai/m", {"base_url": "not a url"}, r"a base URL is http\(s\)://host\[:port\]/path"),
        ("openai/m", {"base_url": "http://u:pw@h:99999/v1"}, r"URL .http://\*\*\*@h:99999/v1. has an invalid port"),
        ("openai/m", {"retry_initial_wait": -1}, r"option retry_initial_wait=-1: input should be greater than or"),
        ("scripted/echo", {"max_connections": -3}, r"scripted/echo: option max_connections=-3"),
    ],
)
def test_a_bad_option_is_one_line_that_names_the_option_and_what_it_takes(
    name: str, options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigurationError, match=expected) as caught:
        get_model(name, **({"base_url": "http://127.0.0.1:9/v1"} | options))
    message = str(caught.value)
    assert "\n" not in message
    assert "pw" not in message


def test_a_secret_option_is_never_echoed_in_its_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_model("openai/m", base_url="http://127.0.0.1:9/v1", api_key=12345678)
    assert "12345678" not in str(caught.value)


def test_max_connections_is_an_option_like_any_other() -> None:
    model = get_model("openai/m", base_url="http://127.0.0.1:9/v1", max_connections=4)
    assert model.api.max_connections == 4
    assert get_model("openai/m", base_url="http://127.0.0.1:9/v1").api.max_connections == 8


async def test_the_strictest_connection_limit_asked_for_an_endpoint_applies_to_every_model_on_it() -> None:
    in_flight = 0
    most = 0

    async def slow_reply(model: Model, text: str) -> None:
        await model.generate(text)

    def reply(messages: Any, config: GenerateConfig, hint: Any) -> str:
        return "ok"

    class Slow(ModelAPI):
        provider = "slow"

        def concurrency_key(self) -> str:
            return "one-endpoint"

        async def generate(self, messages: Any, config: GenerateConfig, hint: Any = None) -> Completion:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            from agent.models import Choice

            return Completion(model=self.name, choices=[Choice(text=reply(messages, config, hint))])

    subject = Model(Slow("subject", max_connections=2))
    judge = Model(Slow("judge"))  # the default of 8, but an explicit limit on the endpoint wins
    await asyncio.gather(
        *[slow_reply(judge, f"j{i}") for i in range(10)], *[slow_reply(subject, f"s{i}") for i in range(10)]
    )
    assert most == 2


def test_scripted_options_beyond_the_common_ones_go_to_the_behaviour() -> None:
    with pytest.raises(ConfigurationError, match="scripted/rule-simulatable"):
        get_model("scripted/rule-simulatable", no_such_parameter=1)
    assert scripted_model(["x"]).generate_sync([ChatMessage(role="user", content="hi")]).text == "x"
