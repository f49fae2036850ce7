"""`http/<name>`: a chatbot behind its own JSON API (tests/fixtures/http_chat_server.py), reached with a body
template, a reply path and a token from the environment; with the cache and retries every provider has."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import ConfigurationError, ModelAuthError
from agent.models import ChatMessage, GenerateConfig, MalformedResponse, MemoryCache, get_model
from agent.models.http_api import fill_template, read_path
from agent.records import RunHeader, read_records
from agent.structured import CallTrace
from tests.fixtures.audit import audit_args
from tests.fixtures.core import run_cli
from tests.fixtures.http_chat_server import BODY, RESPONSE_PATH, ChatBot, serve_chat_bot

pytestmark = pytest.mark.server

DEPLOYED = "You are Bistro Bot. Be kind about the food."


@pytest.fixture
def bot(monkeypatch: pytest.MonkeyPatch) -> ChatBot:
    bot = ChatBot()
    monkeypatch.setenv("BOT_TOKEN", bot.token)
    return bot


@pytest.fixture
def url(bot: ChatBot) -> Iterator[str]:
    with serve_chat_bot(bot) as endpoint:
        yield endpoint


def _options(endpoint: str, **extra: object) -> dict[str, object]:
    return {
        "url": endpoint,
        "body": BODY,
        "response_path": RESPONSE_PATH,
        "header.Authorization": "Bearer ${BOT_TOKEN}",
        "retry_initial_wait": 0,
        **extra,
    }


def test_the_template_is_filled_typed_and_the_reply_read_from_its_path() -> None:
    filled = fill_template(
        json.loads('{"q": "{{prompt}}", "n": "{{max_tokens}}", "note": "ask: {{prompt}} ({{max_tokens}})"}'),
        {"prompt": "hi", "max_tokens": 7},
    )
    assert filled == {"q": "hi", "n": 7, "note": "ask: hi (7)"}
    assert read_path({"choices": [{"message": {"content": "x"}}]}, "choices.0.message.content") == "x"
    with pytest.raises(MalformedResponse, match=r"nothing at 'data\.reply\.text'"):
        read_path({"data": {"answer": "x"}}, "data.reply.text")


async def test_a_call_reaches_the_bot_in_its_own_shape_and_is_cached(bot: ChatBot, url: str) -> None:
    model = get_model("http/bistro-bot", cache=MemoryCache(), **_options(url))
    messages = [
        ChatMessage(role="system", content=DEPLOYED),
        ChatMessage(role="user", content="Review: the soup was lovely\nAnswer with positive or negative."),
    ]
    first = await model.generate(messages, GenerateConfig(max_tokens=33))
    again = await model.generate(messages, GenerateConfig(max_tokens=33))
    assert first.text == "Answer: positive" and again.cached and not first.cached
    assert bot.requests == [
        {"persona": DEPLOYED, "history": [{"role": "user", "content": messages[1].content}], "limits": {"max_len": 33}}
    ]
    assert bot.token not in json.dumps(model.api.describe())
    await model.aclose()


async def test_a_busy_bot_is_retried_and_a_wrong_token_fails_in_one_line(
    bot: ChatBot, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.fail_first = 2
    model = get_model("http/bistro-bot", cache=MemoryCache(), **_options(url))
    completion = await model.generate([ChatMessage(role="user", content="Review: great")], GenerateConfig())
    assert completion.text == "Answer: positive"
    assert bot.statuses[:3] == [503, 503, 200]
    await model.aclose()

    monkeypatch.setenv("BOT_TOKEN", "wrong-token-456")
    wrong = get_model("http/bistro-bot", cache=MemoryCache(), **_options(url))
    with pytest.raises(ModelAuthError, match="HTTP 401"):
        await wrong.generate([ChatMessage(role="user", content="Review: fine")], GenerateConfig())
    assert bot.statuses.count(401) == 1, "an authentication error is not retried"
    await wrong.aclose()


async def test_a_reply_without_the_path_is_malformed_and_retried(url: str) -> None:
    model = get_model("http/bistro-bot", cache=MemoryCache(), **_options(url, response_path="data.text"))
    with pytest.raises(Exception, match=r"data\.text"):
        await model.generate([ChatMessage(role="user", content="Review: ok")], GenerateConfig())
    assert model.usage.retries > 0
    await model.aclose()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"header.Authorization": "Bearer s3cret-bot-token-123"}, "take it from the environment"),
        ({"header.Authorization": "Bearer ${NO_SUCH_VARIABLE_X}"}, "NO_SUCH_VARIABLE_X is not set"),
        ({"body": '{"q": "{{question}}"}'}, "unknown placeholder {{question}}"),
        ({"body": "{not json"}, "not JSON"),
        ({"url": "ftp://bot"}, "http(s)://"),
    ],
)
def test_bad_options_are_one_line_errors(options: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        get_model("http/bistro-bot", **_options("http://127.0.0.1:9/api/chat", **options))
    assert expected in str(error.value) and "\n" not in str(error.value)
    assert "s3cret-bot-token-123" not in str(error.value)


def test_an_audit_through_http_carries_the_system_prompt_on_every_subject_call_only(
    bot: ChatBot, url: str, probe_tests: tuple[str, ...], probe_scenario: Path, tmp_path: Path
) -> None:
    prompt_file = tmp_path / "deployed.txt"
    prompt_file.write_text(DEPLOYED, encoding="utf-8")
    run_dir = tmp_path / "run"
    flags = [f"-O{key}={value}" for key, value in _options(url).items()]
    args = audit_args(probe_scenario, "--out", str(run_dir), "--no-cache", "--system-prompt", str(prompt_file))
    args = [*args, *flags, "--limit", "4"]
    args[args.index("--model") + 1] = "http/bistro-bot"
    assert run_cli(args) in (0, 3)

    calls = [r for r in read_records(run_dir / "records.jsonl") if isinstance(r, CallTrace)]
    subject = [c for c in calls if c.role == "subject"]
    helpers = [c for c in calls if c.role != "subject"]
    assert subject and helpers
    assert all(c.messages[0].role == "system" and c.messages[0].content.startswith(DEPLOYED) for c in subject)
    assert not any(DEPLOYED in m.content for c in helpers for m in c.messages)
    # What reached the bot: every request is either a subject call (with the persona) or a judge's (without).
    personas = [body["persona"] for body in bot.requests]
    assert personas.count("") == len(helpers)
    assert all(p == "" or p.startswith(DEPLOYED) for p in personas)
    header = next(iter(read_records(run_dir / "records.jsonl")))
    assert isinstance(header, RunHeader)
    text = (run_dir / "records.jsonl").read_text()
    assert bot.token not in text, "the token never reaches a record"
    assert header.options["system_prompt_sha256"].startswith("sha256:")
