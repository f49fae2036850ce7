"""`openai/<model>`: the OpenAI API or any OpenAI-compatible chat completions server.

One provider serves api.openai.com, vLLM, llama.cpp, Ollama and `transformers serve`: only the base URL differs.
The SDK's own retries are off; `agent.models._retry` is the one place that retries.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from pydantic import SecretStr, StrictBool, field_validator

from agent.errors import (
    ConfigurationError,
    FaithcheckError,
    ModelAuthError,
    ModelRequestError,
    ModelUnavailableError,
)
from agent.models._api import MalformedResponse, ModelAPI, RequestHint, _one_line, attempt_count
from agent.models._options import NetworkOptions
from agent.models._registry import register_provider
from agent.models._reply_formats import ReplyFormats
from agent.models._types import Capabilities, ChatMessage, Choice, Completion, GenerateConfig, TokenLogprob, Usage
from agent.models.batch import batch_options  # batch mode (issue 17)

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from agent.models.batch import BatchMode

OPENAI_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_API_KEY = "not-needed"
"""Sent to a local server when no key is configured: the SDK insists on one, local servers ignore it."""
REASONING_FIELDS = ("reasoning", "reasoning_content")
"""Where servers put a reasoning trace beside the answer: recent vLLM, OpenRouter and Ollama send `reasoning`;
DeepSeek, llama.cpp, older vLLM and `transformers serve` send `reasoning_content`."""
log = logging.getLogger("faithcheck.openai")
_URL_USERINFO = re.compile(r"//[^/@\s]*@")
_KEY_PATTERN = re.compile(r"\b(sk|key|tok)-[A-Za-z0-9_\-*.]{6,}")


def public_base_url(url: str) -> str:
    """The base URL without credentials, query string or fragment, and without a trailing slash."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class EndpointURL:
    """A base URL taken apart: what the HTTP client is given, and the credentials and query it carried."""

    url: str
    """Scheme, host, port and path only: the client never sees (and so never logs) credentials."""
    username: str | None = None
    password: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    """Query parameters of the base URL (e.g. an `api-version`), sent with every request."""

    @classmethod
    def parse(cls, url: str) -> EndpointURL:
        """Split `http://user:password@host:port/v1?name=value` into its parts (percent-escapes decoded)."""
        parts = urlsplit(url.strip())
        return cls(
            url=public_base_url(url),
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        )

    @property
    def basic_auth(self) -> str | None:
        """An `Authorization: Basic` value when the URL carries credentials."""
        if self.username is None and self.password is None:
            return None
        token = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")


class OpenAIOptions(NetworkOptions):
    """Options of `openai/<model>`."""

    base_url: SecretStr | None = None
    """the server, e.g. http://127.0.0.1:8000/v1 [env OPENAI_BASE_URL; default api.openai.com]; kept secret, since
    it may carry credentials"""
    api_key: SecretStr | None = None
    """[env OPENAI_API_KEY] required for api.openai.com; a self-served endpoint gets a placeholder"""
    organization: str | None = None
    """[env OPENAI_ORG_ID]"""
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    """max_completion_tokens (the default for api.openai.com, required by its reasoning models) or max_tokens
    (the default elsewhere: every OpenAI-compatible server reads it)"""
    logprobs: StrictBool = True
    """true/false: whether this server honours token logprobs (a capability declared false is never requested)"""
    json_mode: StrictBool = True
    """true/false: whether this server honours response_format={"type": "json_object"}"""
    structured_output: StrictBool = True
    """true/false: whether this server honours response_format={"type": "json_schema", ...}"""
    seed: StrictBool = True
    """true/false: whether this server honours seeds (the sampling seed itself is --seed or GenerateConfig.seed)"""
    drop_params: tuple[str, ...] = ()
    """request fields never to send, for servers that reject them, e.g. [seed]"""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else SecretStr(checked_base_url(value.get_secret_value()))

    @field_validator("drop_params", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def checked_base_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host and a valid port, else a ValueError saying what one looks like."""
    parts = urlsplit(url.strip())
    shown = _URL_USERINFO.sub("//***@", url.strip())  # never repeat credentials in a message
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError:
        raise ValueError(f"the base URL {shown!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a base URL is http(s)://host[:port]/path, e.g. http://127.0.0.1:8000/v1, got {shown!r}")
    return url.strip()


@register_provider(
    "openai",
    requires=("openai",),
    summary="OpenAI API or any OpenAI-compatible server (vLLM, llama.cpp, Ollama, transformers serve)",
    example="openai/gpt-4o-mini  (--base-url http://127.0.0.1:8000/v1 for a local server)",
)
class OpenAIAPI(ModelAPI):
    """The OpenAI chat completions API, hosted or self-served; options in `OpenAIOptions`.

    Credentials in the base URL (`http://user:password@host/v1`) are sent as HTTP Basic auth, and then the API key
    is not sent at all (one Authorization header can carry only one): the URL names the credentials for that very
    server, while a key often comes from an environment variable meant for another one. The HTTP client is given
    the URL without them, so its logs cannot show them. `score` is not offered: a chat API cannot give exact
    continuation log-probabilities. A server that refuses a reply format (json_schema, json_object) or logprobs is
    remembered for the run and asked again with the next format down (`ReplyFormats`). Batch mode (`batch`,
    `batch_command`, ...: `agent.models.batch.BatchOptions`, docs/batch.md) answers through rounds of batched
    requests instead of direct calls.
    """

    Options = OpenAIOptions
    options: OpenAIOptions

    def __init__(self, model_name: str, **options: Any) -> None:
        batching = batch_options(options)  # batch mode (issue 17): BatchOptions checks the batch* options
        super().__init__(model_name, **{name: value for name, value in options.items() if not name.startswith("batch")})
        if not model_name:
            raise ConfigurationError(
                "openai needs a model name: openai/<model>, e.g. openai/gpt-4o-mini "
                "(for a local server, the id it lists under GET <base_url>/models)"
            )
        given_url = self.options.base_url.get_secret_value() if self.options.base_url else None
        explicit_url = given_url or os.environ.get("OPENAI_BASE_URL")
        if explicit_url and not given_url:
            try:
                checked_base_url(explicit_url)
            except ValueError as exc:
                raise ConfigurationError(f"{self.name}: OPENAI_BASE_URL: {exc}") from None
        self._endpoint = EndpointURL.parse(explicit_url or OPENAI_BASE_URL)
        self._self_served = bool(explicit_url) and urlsplit(self._endpoint.url).hostname != "api.openai.com"
        # batch mode (issue 17): a batch command needs no endpoint and no key
        self._self_served = self._self_served or bool(batching and batching.command)
        given_key = self.options.api_key.get_secret_value() if self.options.api_key else None
        key = given_key or os.environ.get("OPENAI_API_KEY")
        if not key and not self._self_served and self._endpoint.basic_auth is None:
            raise ConfigurationError(
                f"{self.name} needs an API key: set OPENAI_API_KEY (or pass --api-key); "
                "for a local OpenAI-compatible server pass --base-url instead"
            )
        if key and self._endpoint.basic_auth is not None:
            log.warning(
                "%s: the base URL carries credentials, so they are sent (HTTP Basic) and the API key is not",
                self.name,
            )
        self._api_key: str = key or PLACEHOLDER_API_KEY
        self._organization = self.options.organization or os.environ.get("OPENAI_ORG_ID")
        default_field = "max_tokens" if self._self_served else "max_completion_tokens"
        self._max_tokens_field = self.options.max_tokens_field or default_field
        self._capabilities = Capabilities(
            logprobs=self.options.logprobs,
            json_mode=self.options.json_mode,
            structured_output=self.options.structured_output,
            seed=self.options.seed,
            reasoning=True,
        )
        self._formats = ReplyFormats(self.name)
        self._dropped = frozenset(self.options.drop_params)
        # One client per event loop: an httpx pool cannot outlive the loop it was opened on (generate_sync).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncOpenAI] = weakref.WeakKeyDictionary()
        self.batch: BatchMode | None = None
        if batching:
            from agent.models.batch import BatchMode

            self.batch = BatchMode.for_api(self, batching)
        """Batch mode (issue 17): `generate` answers through rounds of batched requests (agent.models.batch)."""

    @property
    def base_url(self) -> str:
        """The endpoint, safe to show (no credentials, no query string)."""
        return self._endpoint.url

    @property
    def capabilities(self) -> Capabilities:
        """Logprobs, JSON mode and seeds as declared (default on); a reasoning trace when the server sends one."""
        return self._capabilities

    def cache_identity(self) -> dict[str, Any]:
        """The model and the endpoint that serves it; never the key."""
        identity = {"provider": self.provider, "model": self.model_name, "base_url": self.base_url}
        return self.batch.cache_identity(identity) if self.batch else identity  # batch mode (issue 17)

    def concurrency_key(self) -> str:
        """Every model served by one endpoint shares its connection limit (batch mode has a limit of its own)."""
        return f"{self.provider}:{self.base_url}" + (":batch" if self.batch else "")  # batch mode (issue 17)

    @property
    def max_connections(self) -> int:
        """Requests in flight at once; in batch mode a whole round (issue 17)."""
        return self.batch.max_in_flight if self.batch else super().max_connections

    def _client(self) -> AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            from openai import AsyncOpenAI

            basic_auth = self._endpoint.basic_auth
            client = AsyncOpenAI(
                api_key=self._api_key,
                organization=self._organization,
                base_url=self._endpoint.url,
                timeout=self.attempt_timeout_s(),
                max_retries=0,
                default_headers={"Authorization": basic_auth} if basic_auth else None,
                default_query=dict(self._endpoint.query) or None,
            )
            self._clients[loop] = client
        return client

    def request_params(self, messages: Sequence[ChatMessage], config: GenerateConfig) -> dict[str, Any]:
        """The chat.completions arguments for one call; optional fields only when they ask for something."""
        params: dict[str, Any] = {
            "model": self.model_name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": config.temperature,
            self._max_tokens_field: config.max_tokens,
        }
        if config.top_p is not None:
            params["top_p"] = config.top_p
        if config.stop:
            params["stop"] = list(config.stop)
        if config.n != 1:
            params["n"] = config.n
        if config.seed is not None and self._capabilities.seed:
            params["seed"] = config.seed
        if config.logprobs and self._capabilities.logprobs and not self._formats.refused_logprobs:
            params["logprobs"] = True
            if config.top_logprobs:
                params["top_logprobs"] = config.top_logprobs
        response_format = self._formats.response_format(config, self._capabilities)
        if response_format is not None:
            params["response_format"] = response_format
        return {name: value for name, value in params.items() if name not in self._dropped}

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        """One chat.completions call; SDK exceptions propagate to the retry layer, and so does a success whose body
        is not a chat completion (as `MalformedResponse`, retried like a 5xx)."""
        if self.batch is not None:  # batch mode (issue 17): the request joins a round
            return await self.batch.generate(messages, config)
        while True:
            params = self.request_params(messages, config)
            if config.timeout is not None:
                params["timeout"] = config.timeout
            try:
                raw = await self._client().chat.completions.with_raw_response.create(**params)
            except Exception as exc:
                refused = self._formats.refused(exc, params.get("response_format"))
                if not (refused or self._formats.logprobs_refused(exc, params)):
                    raise
                continue  # asked again with the next reply format down
            break
        body = raw.http_response.content
        try:
            data = json.loads(body)
        except ValueError:
            kind = raw.http_response.headers.get("content-type", "no content type")
            raise MalformedResponse(
                f"HTTP {raw.http_response.status_code} with a body that is not JSON ({kind}, {len(body)} bytes: "
                f"{_preview(body)})"
            ) from None
        problem = completion_body_problem(data)
        if problem is not None:
            raise MalformedResponse(f"a JSON body that is not a chat completion: {problem} ({_preview(body)})")
        return self.read_completion(raw.parse(), config)

    def read_completion(self, response: Any, config: GenerateConfig) -> Completion:
        """A chat completion (an SDK object) as a Completion; shared by direct calls and batch replies."""
        try:
            choices = [_choice(choice) for choice in response.choices]
            usage = response.usage
            return Completion(
                model=self.name,
                choices=choices,
                usage=Usage(
                    prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                    completion_tokens=(usage.completion_tokens or 0) if usage else 0,
                ),
                seed=config.seed,
                system_fingerprint=response.system_fingerprint or None,
            )
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise MalformedResponse(f"a chat completion that cannot be read: {_one_line(exc)}") from None

    def to_user_error(self, exc: BaseException, attempts: int) -> FaithcheckError:
        """Name the endpoint and the fix; never repeat the key (some servers echo it back)."""
        import openai

        error: FaithcheckError
        if isinstance(exc, openai.APITimeoutError):
            error = ModelUnavailableError(
                self.name,
                f"no answer from {self.base_url} in time ({attempt_count(attempts)}): is the server overloaded? "
                "allow more time with -O timeout=SECONDS (per attempt) or -O deadline=SECONDS (per call)",
            )
        elif isinstance(exc, openai.APIConnectionError):
            error = ModelUnavailableError(
                self.name,
                f"cannot reach {self.base_url} ({attempt_count(attempts)}; {_one_line(exc.__cause__ or exc)}): "
                "is the server running? check --base-url / OPENAI_BASE_URL",
            )
        elif isinstance(exc, MalformedResponse):
            error = ModelUnavailableError(
                self.name,
                f"{self.base_url} answered with something that is not a chat completion ({attempt_count(attempts)}; "
                f"last: {_one_line(exc)}): is it an OpenAI-compatible endpoint? check --base-url",
            )
        elif isinstance(exc, openai.APIStatusError):
            error = self._status_error(exc, attempts)
        else:
            error = super().to_user_error(exc, attempts)
        error.args = tuple(self._redact(str(arg)) for arg in error.args)
        return error

    def _status_error(self, exc: Any, attempts: int) -> FaithcheckError:
        status: int = exc.status_code
        detail = _one_line(exc)
        if " - " not in detail and exc.body:
            # The SDK only quotes `error.message`; FastAPI-style servers put the reason in `detail`.
            detail = _one_line(Exception(f"{detail} - {exc.body}"))
        where = f"HTTP {status} from {self.base_url}"
        if status in (401, 403):
            return ModelAuthError(
                self.name, f"{where}: the API key was refused; set OPENAI_API_KEY or pass --api-key ({detail})"
            )
        if status == 404:
            return ModelRequestError(
                self.name,
                f"{where}: check the model name '{self.model_name}' (GET <base_url>/models lists what the server "
                f"has) and that the base URL ends in /v1 ({detail})",
            )
        if self.classify_error(exc).transient:
            return ModelUnavailableError(
                self.name, f"{where}, still failing after {attempts} attempts: try again later ({detail})"
            )
        return ModelRequestError(
            self.name,
            f"{where}: the server rejected the request; check the model name and options, or drop a field the "
            f"server does not accept with -O drop_params=[name] ({detail})",
        )

    def _redact(self, text: str) -> str:
        if len(self._api_key) >= 4 and self._api_key != PLACEHOLDER_API_KEY:
            text = text.replace(self._api_key, "***")
        return _KEY_PATTERN.sub(lambda m: f"{m.group(1)}-***", text)

    async def aclose(self) -> None:
        """Close the HTTP client of the running loop; clients of finished loops are dropped."""
        if self.batch is not None:  # batch mode (issue 17): stop waiting before the client goes
            await self.batch.aclose()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        client = self._clients.pop(loop, None) if loop is not None else None
        self._clients.clear()
        if client is not None:
            await client.close()


def completion_body_problem(data: Any) -> str | None:
    """Why a successful response's JSON is not a chat completion, or None when it is one.

    Lenient where servers differ (missing `id`, `created` or `usage`; `content: null`), strict where a reply would
    otherwise be misread: no choices, a choice without a message, a message without content, text that is not
    a string, an `error` object sent with status 200.
    """
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    if data.get("error"):
        return f"an error object ({_one_line(Exception(str(data['error'])), 160)})"
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        return "no choices"
    for index, choice in enumerate(choices):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            return f"choice {index} has no message"
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            return f"choice {index}: content is a {type(content).__name__}, not text"
        if "content" not in message and not any(isinstance(message.get(f), str) for f in REASONING_FIELDS):
            return f"choice {index}: the message has no content"
    usage = data.get("usage")
    if usage is not None and not (
        isinstance(usage, dict)
        and all(isinstance(usage.get(name) or 0, int) for name in ("prompt_tokens", "completion_tokens"))
    ):
        return "usage is not token counts"
    return None


def _preview(body: bytes, limit: int = 80) -> str:
    text = " ".join(body[: limit * 4].decode("utf-8", errors="replace").split())
    return repr(text[:limit] + ("…" if len(text) > limit or len(body) > limit * 4 else ""))


def _choice(choice: Any) -> Choice:
    message = choice.message
    extra = getattr(message, "model_extra", None) or {}
    reasoning = next((extra[f] for f in REASONING_FIELDS if isinstance(extra.get(f), str) and extra[f]), None)
    return Choice(
        text=message.content or "",
        finish_reason=choice.finish_reason,
        logprobs=_logprobs(choice.logprobs),
        reasoning=reasoning,
    )


def _logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None
    return [
        TokenLogprob(
            token=item.token,
            logprob=float(item.logprob),
            top=[(alt.token, float(alt.logprob)) for alt in (item.top_logprobs or [])],
        )
        for item in content
    ]
