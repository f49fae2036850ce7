"""The `langchain/` provider: mapping with LangChain's fake chat models, then ChatOpenAI against a real
`transformers serve` running the embedded SmolLM2."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
from pydantic import SecretStr

from agent.cli import main
from agent.errors import ConfigurationError, ModelRequestError
from agent.models import GenerateConfig, get_model
from agent.models.langchain_api import LangChainAPI, parse_query
from tests.fixtures.servers import FaultServer, ServedModel


class RecordingChatModel(GenericFakeChatModel):
    """A fake chat model with the usual sampling fields, which records what each call saw."""

    model_name: str = "fake-model"
    base_url: str | None = None
    api_key: SecretStr | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    max_retries: int = 0
    seen: list[dict[str, Any]] = []  # noqa: RUF012  (pydantic copies mutable defaults per instance)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.seen.append(
            {
                "messages": messages,
                "stop": stop,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "seed": self.seed,
            }
        )
        return super()._generate(messages, stop, run_manager, **kwargs)


def reply(text: str = "answer", **extra: Any) -> AIMessage:
    fields: dict[str, Any] = {
        "usage_metadata": {"input_tokens": 12, "output_tokens": 4, "total_tokens": 16},
        "response_metadata": {"finish_reason": "stop"},
        **extra,
    }
    return AIMessage(content=text, **fields)


async def test_messages_config_usage_finish_reason_and_reasoning_are_mapped() -> None:
    logprobs = {
        "content": [{"token": "answer", "logprob": -0.5, "top_logprobs": [{"token": "answer", "logprob": -0.5}]}]
    }
    fake = RecordingChatModel(
        messages=iter(
            [
                reply(
                    additional_kwargs={"reasoning_content": "thought it through"},
                    response_metadata={"finish_reason": "stop", "logprobs": logprobs},
                )
            ]
        ),
        temperature=0.9,
    )
    model = get_model("langchain/fake", chat_model=fake)

    completion = await model.generate(
        [
            {"role": "system", "content": "be terse"},
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
        ],
        GenerateConfig(temperature=0.0, max_tokens=7, seed=5, stop=("END",)),
    )

    (call,) = fake.seen
    assert [type(m) for m in call["messages"]] == [SystemMessage, HumanMessage, AIMessage, HumanMessage]
    assert [m.content for m in call["messages"]] == ["be terse", "q1", "a1", "q2"]
    assert (call["temperature"], call["max_tokens"], call["seed"], call["stop"]) == (0.0, 7, 5, ["END"])
    assert fake.temperature == 0.9, "the caller's model must not be changed"
    assert completion.model == "langchain/fake"
    assert completion.text == "answer"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 4)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.reasoning == "thought it through"
    assert [(t.token, t.logprob, t.top) for t in completion.choices[0].logprobs or []] == [
        ("answer", -0.5, [("answer", -0.5)])
    ]
    assert completion.seed == 5


async def test_reasoning_content_blocks_are_read_and_text_excludes_them() -> None:
    message = AIMessage(content=[{"type": "reasoning", "reasoning": "step 1"}, {"type": "text", "text": "done"}])
    model = get_model("langchain/fake", chat_model=GenericFakeChatModel(messages=iter([message])))
    completion = await model.generate("go")
    assert (completion.text, completion.reasoning) == ("done", "step 1")
    assert completion.choices[0].logprobs is None


async def test_a_model_without_an_n_field_is_called_n_times_and_usage_adds_up() -> None:
    fake = RecordingChatModel(messages=iter([reply("one"), reply("two"), reply("three")]))
    model = get_model("langchain/fake", chat_model=fake)
    completion = await model.generate("q", GenerateConfig(n=3))
    assert sorted(choice.text for choice in completion.choices) == ["one", "three", "two"]
    assert len(fake.seen) == 3
    assert completion.usage.prompt_tokens == 36


async def test_sdk_errors_are_classified_by_status_and_retried() -> None:
    class Overloaded(Exception):
        status_code = 503

    class Flaky(GenericFakeChatModel):
        failures: int = 2

        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
            if self.failures:
                self.failures -= 1
                raise Overloaded("busy")
            return super()._generate(messages, *args, **kwargs)

    model = get_model(
        "langchain/flaky", chat_model=Flaky(messages=iter(["ok"])), retry_initial_wait=0.01, retry_max_wait=0.02
    )
    completion = await model.generate("q", GenerateConfig(max_retries=3))
    assert completion.text == "ok"
    assert model.usage.retries == 2


async def test_a_rejected_request_is_not_retried() -> None:
    calls = 0

    class BadRequest(Exception):
        status_code = 400

    class Rejecting(GenericFakeChatModel):
        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
            nonlocal calls
            calls += 1
            raise BadRequest("unknown parameter")

    model = get_model("langchain/rejecting", chat_model=Rejecting(messages=iter([])))
    with pytest.raises(ModelRequestError, match=r"\[langchain/rejecting\].*HTTP 400"):
        await model.generate("q")
    assert calls == 1


def test_cache_identity_names_class_model_and_endpoint_but_no_secret() -> None:
    fake = RecordingChatModel(
        messages=iter([]),
        model_name="m-1",
        base_url="http://user:pw@127.0.0.1:8000/v1?key=abc",
        api_key=SecretStr("sk-very-secret-123"),
    )
    api = LangChainAPI("", chat_model=fake)
    identity = api.cache_identity()
    assert identity["class"].endswith("RecordingChatModel")
    assert identity["model"] == "m-1"
    assert identity["base_url"] == "http://127.0.0.1:8000/v1"
    assert api.name == "langchain/RecordingChatModel:m-1"
    text = json.dumps(identity) + json.dumps(api.describe())
    for leaked in ("sk-very-secret-123", "pw", "abc"):
        assert leaked not in text
    other = LangChainAPI("", chat_model=RecordingChatModel(messages=iter([]), model_name="m-2"))
    assert other.cache_identity() != identity


def test_chat_openai_identity_carries_model_and_base_url_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_openai import ChatOpenAI

    secret = "sk-test-SECRET-abcdef"
    chat = ChatOpenAI(model="gpt-test", base_url="http://127.0.0.1:9/v1", api_key=SecretStr(secret), max_retries=0)
    api = LangChainAPI("mine", chat_model=chat)
    identity = api.cache_identity()
    assert (identity["model"], identity["base_url"]) == ("gpt-test", "http://127.0.0.1:9/v1")
    assert secret not in json.dumps(identity) + json.dumps(api.describe())


def test_an_import_path_with_query_builds_the_class_with_its_retries_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "placeholder")
    model = get_model(
        "langchain/langchain_openai:ChatOpenAI?model=gpt-x&base_url=http://127.0.0.1:9/v1&temperature=0.5"
    )
    chat = model.api.chat_model  # type: ignore[attr-defined]
    assert type(chat).__name__ == "ChatOpenAI"
    assert (chat.model_name, chat.temperature, chat.max_retries) == ("gpt-x", 0.5, 0)
    assert chat.openai_api_base == "http://127.0.0.1:9/v1"


async def test_an_import_path_without_query_builds_a_working_model() -> None:
    model = get_model("langchain/langchain_core.language_models.fake_chat_models:ParrotFakeChatModel")
    assert (await model.generate("echo me")).text == "echo me"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("langchain/langchain_openai:ChatOpenAI?model=x&api_key=sk-123", "do not put 'api_key' in the model name"),
        ("langchain/no_such_module:Chat", "pip install 'no-such-module'"),
        ("langchain/json:JSONDecoder", "is not a LangChain chat model"),
        ("langchain/ChatOpenAI", "name a chat model class as module:Class"),
    ],
)
def test_bad_import_paths_are_one_line_configuration_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        get_model(spec)
    assert "\n" not in str(info.value)
    assert "sk-123" not in str(info.value)


def test_query_values_are_yaml_scalars_and_everything_else_stays_a_string() -> None:
    assert parse_query("a=0.5&b=true&c=3&d=2024-01-01&e=http://h:1/v1&f=null&g=") == {
        "a": 0.5,
        "b": True,
        "c": 3,
        "d": "2024-01-01",
        "e": "http://h:1/v1",
        "f": None,
        "g": "",
    }


@pytest.mark.server
def test_chat_openai_sends_the_config_and_survives_separate_event_loops(fault_server: FaultServer) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(model="stub-model", base_url=fault_server.base_url, api_key=SecretStr("k"), max_retries=0)
    model = get_model("langchain/stub", chat_model=chat)
    config = GenerateConfig(temperature=0.3, max_tokens=9, seed=4, stop=("END",))

    # Each generate_sync runs its own event loop; LangChain's pooled client must keep working across them.
    first = model.generate_sync("one", config)
    second = model.generate_sync("two", config)

    assert (first.text, second.text) == ("scripted reply", "scripted reply")
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (7, 3)
    body = fault_server.requests[-1].body
    assert body["messages"] == [{"role": "user", "content": "two"}]
    assert (body["temperature"], body["max_completion_tokens"], body["seed"], body["stop"]) == (0.3, 9, 4, ["END"])


# --- against a real transformers serve with SmolLM2 ----------------------------------------------------------


@pytest.mark.server
@pytest.mark.slow
async def test_chat_openai_against_transformers_serve_generates(transformers_server: ServedModel) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model=transformers_server.model_id,
        base_url=transformers_server.base_url,
        api_key=SecretStr("not-needed"),
        max_retries=0,
    )
    model = get_model("langchain/smollm2-served", chat_model=chat)

    completion = await model.generate("Name a fruit.", GenerateConfig(max_tokens=5))

    assert completion.text.strip()
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.prompt_tokens > 0
    assert 0 < completion.usage.completion_tokens <= 5


@pytest.mark.server
@pytest.mark.slow
def test_cli_generate_through_a_langchain_import_path(
    transformers_server: ServedModel, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "not-needed")
    spec = (
        f"langchain/langchain_openai:ChatOpenAI?model={transformers_server.model_id}"
        f"&base_url={transformers_server.base_url}"
    )
    main(["generate", "--model", spec, "--max-tokens", "5", "Say hi."])
    out, err = capsys.readouterr()
    assert out.strip()
    assert "finish=length" in err
