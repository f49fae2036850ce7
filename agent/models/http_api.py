"""`http/<name>`: any chat endpoint that takes JSON over HTTP, described by a request-body template and a reply path.

For a chatbot behind its own API (not OpenAI-compatible), in the spirit of promptfoo's HTTP provider:

    faithcheck audit -m http/bistro-bot -s demo --system-prompt deployed.txt \\
        -O url=https://bot.example.com/api/chat \\
        -O body='{"persona": "{{system}}", "history": "{{turns}}", "limits": {"max_len": "{{max_tokens}}"}}' \\
        -O response_path=data.reply.text \\
        -O header.Authorization='Bearer ${BOT_TOKEN}'

The body template is JSON. A string that is exactly one placeholder is replaced by its value with its JSON type
(`"{{turns}}"` becomes a list, `"{{max_tokens}}"` a number); a placeholder inside a longer string is replaced by
its text. Header values take `${VAR}` from the environment when a request is sent, so a secret never appears in
an option, a record or a log; a secret-looking header (Authorization, a key, a token) with a literal value is
refused. Caching, retries and the connection limit are the same as every provider's (`agent.models.Model`): an
HTTP error status is raised as `httpx.HTTPStatusError`, which the retry layer classifies by status, and a reply
without the text at `response_path` as `MalformedResponse`, retried like a 5xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr, field_validator

from agent.errors import ConfigurationError
from agent.models._api import MalformedResponse, ModelAPI, RequestHint
from agent.models._options import NetworkOptions
from agent.models._registry import register_provider
from agent.models._types import ChatMessage, Choice, Completion, GenerateConfig, Usage
from agent.models.openai_api import checked_base_url, public_base_url

if TYPE_CHECKING:
    import httpx

DEFAULT_BODY = '{"messages": "{{messages}}", "max_tokens": "{{max_tokens}}", "temperature": "{{temperature}}"}'
PLACEHOLDERS = ("messages", "turns", "prompt", "system", "max_tokens", "temperature", "seed", "model")
"""What a body template may use: every message as {role, content} (`messages`), the same without system messages
(`turns`), the last user message (`prompt`), the system messages' text (`system`, empty without one), the
generation settings, and the name after `http/` (`model`)."""

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_ENV_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_HEADER = re.compile(r"authorization|key|token|secret|password|cookie|signature", re.I)
HEADER_PREFIX = "header."
"""`-O header.NAME=VALUE` sets one request header (the CLI's way to fill the `headers` mapping)."""


class HTTPOptions(NetworkOptions):
    """Options of `http/<name>`."""

    url: SecretStr
    """the endpoint requests are POSTed to, e.g. https://bot.example.com/api/chat; kept secret, since a query
    string may carry credentials"""
    body: str = DEFAULT_BODY
    """the JSON request body with {{placeholders}}: messages, turns, prompt, system, max_tokens, temperature,
    seed, model"""
    response_path: str = Field(min_length=1)
    """where the reply text is in the JSON response, as dotted keys and list indices, e.g. data.reply.text or
    choices.0.message.content"""
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """request headers (-O header.NAME=VALUE); values take ${VAR} from the environment, and a secret-looking
    header must take its value from there (values are kept secret, so an error never repeats them)"""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        return SecretStr(checked_base_url(value.get_secret_value()))

    @field_validator("body", mode="before")
    @classmethod
    def _as_json_text(cls, value: Any) -> Any:
        # -O values are read as YAML, so a JSON object arrives parsed; Python callers may pass a dict too.
        return json.dumps(value) if isinstance(value, (dict, list)) else value

    @field_validator("body")
    @classmethod
    def _json_template(cls, value: str) -> str:
        try:
            template = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"the body template is not JSON ({exc})") from None
        unknown = sorted({name for name in _PLACEHOLDER.findall(value) if name not in PLACEHOLDERS})
        if unknown:
            raise ValueError(f"unknown placeholder {{{{{unknown[0]}}}}}; the body can use {', '.join(PLACEHOLDERS)}")
        if not _PLACEHOLDER.search(json.dumps(template)):
            raise ValueError("the body template uses no placeholder: put {{messages}} or {{prompt}} where it goes")
        return value

    @field_validator("headers")
    @classmethod
    def _secrets_from_the_environment(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, text in value.items():
            if _SECRET_HEADER.search(name) and not _ENV_VARIABLE.search(text.get_secret_value()):
                raise ValueError(
                    f"header {name} looks secret but its value is written out: take it from the environment, "
                    f"e.g. -O header.{name}='Bearer ${{BOT_TOKEN}}'"
                )
        return value


def fill_template(template: Any, values: Mapping[str, Any]) -> Any:
    """The body template with its placeholders replaced: typed where a string is one placeholder, as text inside a
    longer string."""
    if isinstance(template, dict):
        return {key: fill_template(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [fill_template(item, values) for item in template]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: _as_text(values[m.group(1)]), template)
    return template


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def read_path(data: Any, path: str) -> Any:
    """The value at a dotted path (`data.reply.text`, `choices.0.message.content`), or a MalformedResponse."""
    current = data
    for step in path.split("."):
        if isinstance(current, list) and step.lstrip("-").isdigit() and -len(current) <= int(step) < len(current):
            current = current[int(step)]
        elif isinstance(current, dict) and step in current:
            current = current[step]
        else:
            raise MalformedResponse(f"the response has nothing at '{path}' (stopped at '{step}')")
    return current


@register_provider(
    "http",
    requires=("httpx",),
    summary="any JSON-over-HTTP chat endpoint: a request-body template, a reply path, headers from the environment",
    example='http/my-bot  (-O url=... -O body=\'{"q": "{{prompt}}"}\' -O response_path=reply)',
)
class HTTPAPI(ModelAPI):
    """A chat endpoint reached with a request-body template and a reply path; options in `HTTPOptions`.

    Header values are resolved from the environment when the model is made, kept out of its options; the cache and
    the run header know the endpoint (without its query string), the body template, the reply path and the header
    names, not their values.
    """

    Options = HTTPOptions
    options: HTTPOptions

    def __init__(self, model_name: str, **options: Any) -> None:
        headers = dict(options.pop("headers", None) or {})
        for key in [key for key in options if key.startswith(HEADER_PREFIX)]:
            headers[key.removeprefix(HEADER_PREFIX)] = str(options.pop(key))
        super().__init__(model_name, **options, headers=headers)
        self._template = json.loads(self.options.body)
        self._headers = {
            name: self._resolve(name, value.get_secret_value()) for name, value in self.options.headers.items()
        }
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _resolve(self, header: str, value: str) -> str:
        def variable(match: re.Match[str]) -> str:
            found = os.environ.get(match.group(1))
            if found is None:
                raise ConfigurationError(
                    f"{self.name}: header {header} takes ${{{match.group(1)}}} from the environment, "
                    f"but {match.group(1)} is not set"
                )
            return found

        return _ENV_VARIABLE.sub(variable, value)

    @property
    def url(self) -> str:
        """The endpoint, safe to show (no credentials, no query string)."""
        return public_base_url(self.options.url.get_secret_value())

    def cache_identity(self) -> dict[str, Any]:
        """Everything that can change a reply: the endpoint, the body template, the reply path; header names only."""
        template = hashlib.sha256(self.options.body.encode()).hexdigest()[:16]
        return {
            "provider": self.provider,
            "model": self.model_name,
            "url": self.url,
            "body": f"sha256:{template}",
            "response_path": self.options.response_path,
            "headers": sorted(self.options.headers),
        }

    def concurrency_key(self) -> str:
        """Every model on one endpoint shares its connection limit."""
        return f"{self.provider}:{self.url}"

    def request_body(self, messages: Sequence[ChatMessage], config: GenerateConfig) -> Any:
        """The JSON body of one call: the template filled with these messages and settings."""
        users = [m.content for m in messages if m.role == "user"]
        values = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "turns": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
            "prompt": users[-1] if users else "",
            "system": "\n\n".join(m.content for m in messages if m.role == "system"),
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
            "seed": config.seed,
            "model": self.model_name,
        }
        return fill_template(self._template, values)

    def _client(self) -> httpx.AsyncClient:
        import httpx

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(headers=self._headers, timeout=self.attempt_timeout_s())
            self._clients[loop] = client
        return client

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        """One POST; an error status propagates as `httpx.HTTPStatusError` (the retry layer reads its status and
        Retry-After), a body without text at the reply path as `MalformedResponse`."""
        timeout = config.timeout if config.timeout is not None else self.attempt_timeout_s()
        response = await self._client().post(
            self.options.url.get_secret_value(), json=self.request_body(messages, config), timeout=timeout
        )
        response.raise_for_status()
        try:
            data = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise MalformedResponse(f"HTTP {response.status_code} with a body that is not JSON ({kind})") from None
        text = read_path(data, self.options.response_path)
        if not isinstance(text, str):
            raise MalformedResponse(f"'{self.options.response_path}' holds {type(text).__name__}, not text")
        return Completion(model=self.name, choices=[Choice(text=text, finish_reason="stop")], usage=Usage())

    async def aclose(self) -> None:
        """Close the HTTP clients of every event loop this model was used on."""
        for client in list(self._clients.values()):
            await client.aclose()
        self._clients.clear()
