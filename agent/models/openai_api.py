"""`openai/<model>`: the OpenAI API or any OpenAI-compatible chat completions server.

One provider serves api.openai.com, vLLM, llama.cpp, Ollama and `transformers serve`: only the base URL differs.
The SDK's own retries are off; `agent.models._retry` is the one place that retries.
"""

from __future__ import annotations

import asyncio
import os
import re
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from agent.errors import (
    ConfigurationError,
    FaithcheckError,
    ModelAuthError,
    ModelError,
    ModelRequestError,
    ModelUnavailableError,
)
from agent.models._api import ModelAPI, RequestHint, _one_line
from agent.models._types import Capabilities, ChatMessage, Choice, Completion, GenerateConfig, TokenLogprob, Usage
from agent.models.batch import BatchMode, batch_options  # batch mode (issue 17)

if TYPE_CHECKING:
    from openai import AsyncOpenAI

OPENAI_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_API_KEY = "not-needed"
"""Sent to a local server when no key is configured: the SDK insists on one, local servers ignore it."""
DEFAULT_TIMEOUT_S = 300.0
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
REASONING_FIELDS = ("reasoning", "reasoning_content")
"""Where servers put a reasoning trace beside the answer: recent vLLM, OpenRouter and Ollama send `reasoning`;
DeepSeek, llama.cpp, older vLLM and `transformers serve` send `reasoning_content`."""
_KEY_PATTERN = re.compile(r"\b(sk|key|tok)-[A-Za-z0-9_\-*.]{6,}")


def public_base_url(url: str) -> str:
    """The base URL without credentials, query string or fragment, and without a trailing slash."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class OpenAIAPI(ModelAPI):
    """The OpenAI chat completions API, hosted or self-served.

    Options (keyword arguments to `get_model`, or `-O key=value` on the CLI):

    - `base_url`: the server, e.g. `http://127.0.0.1:8000/v1` [env OPENAI_BASE_URL; default api.openai.com].
    - `api_key`: [env OPENAI_API_KEY]. Required for api.openai.com; a self-served endpoint gets a placeholder.
    - `organization`: [env OPENAI_ORG_ID].
    - `timeout`: seconds per HTTP attempt (default 300); `GenerateConfig.timeout` overrides it per call.
    - `max_connections`: requests in flight at once against this base URL (default 8).
    - `max_tokens_field`: `max_completion_tokens` (default for api.openai.com, required by its reasoning models)
      or `max_tokens` (default elsewhere: every OpenAI-compatible server reads it).
    - `logprobs`, `json_mode`, `seed`: true/false, whether this server honours token logprobs,
      `response_format={"type": "json_object"}` and seeds (default true). A capability declared false is
      never requested; a server that silently ignores a request just yields no logprobs.
    - `drop_params`: request fields never to send, for servers that reject them (e.g. `[seed]`).
    - `retry_initial_wait`, `retry_max_wait`: backoff bounds in seconds for the shared retry layer.
    - `batch`, `batch_command`, `batch_window`, `batch_max_requests`, `batch_poll_interval`,
      `batch_completion_window`: batch mode, through the endpoint's Batch API or a command per round
      (`agent.models.batch.BatchOptions`, docs/batch.md).

    `score` is not offered: a chat API cannot give exact continuation log-probabilities.
    """

    provider = "openai"
    requires = ("openai",)
    summary = "OpenAI API or any OpenAI-compatible server (vLLM, llama.cpp, Ollama, transformers serve)"

    def __init__(self, model_name: str, **options: Any) -> None:
        super().__init__(model_name, **options)
        # Secrets are kept apart from `options`, which callers may show or record.
        self.options = {name: value for name, value in options.items() if name != "api_key"}
        if self.options.get("base_url"):
            self.options["base_url"] = public_base_url(str(self.options["base_url"]))
        if not model_name:
            raise ConfigurationError(
                "openai needs a model name: openai/<model>, e.g. openai/gpt-4o-mini "
                "(for a local server, the id it lists under GET <base_url>/models)"
            )
        explicit_url = options.get("base_url") or os.environ.get("OPENAI_BASE_URL")
        self._base_url = str(explicit_url or OPENAI_BASE_URL).rstrip("/")
        self._self_served = bool(explicit_url) and urlsplit(self._base_url).hostname != "api.openai.com"
        batching = batch_options(options)  # batch mode (issue 17): a batch command needs no endpoint and no key
        self._self_served = self._self_served or bool(batching and batching.command)
        key = options.get("api_key") or os.environ.get("OPENAI_API_KEY")
        if not key and not self._self_served:
            raise ConfigurationError(
                f"{self.name} needs an API key: set OPENAI_API_KEY (or pass --api-key); "
                "for a local OpenAI-compatible server pass --base-url instead"
            )
        self._api_key: str = key or PLACEHOLDER_API_KEY
        self._organization = options.get("organization") or os.environ.get("OPENAI_ORG_ID")
        self._timeout = float(options.get("timeout") or DEFAULT_TIMEOUT_S)
        default_field = "max_tokens" if self._self_served else "max_completion_tokens"
        self._max_tokens_field = str(options.get("max_tokens_field") or default_field)
        if self._max_tokens_field not in MAX_TOKENS_FIELDS:
            raise ConfigurationError(
                f"max_tokens_field must be one of {', '.join(MAX_TOKENS_FIELDS)}, got '{self._max_tokens_field}'"
            )
        self._capabilities = Capabilities(
            logprobs=_flag(options, "logprobs"),
            json_mode=_flag(options, "json_mode"),
            seed=_flag(options, "seed"),
            reasoning=True,
        )
        dropped = options.get("drop_params") or ()
        self._dropped = frozenset([dropped] if isinstance(dropped, str) else [str(name) for name in dropped])
        # One client per event loop: an httpx pool cannot outlive the loop it was opened on (generate_sync).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncOpenAI] = weakref.WeakKeyDictionary()
        self.batch: BatchMode | None = BatchMode.for_api(self, batching) if batching else None
        """Batch mode (issue 17): `generate` answers through rounds of batched requests (agent.models.batch)."""

    @property
    def base_url(self) -> str:
        """The endpoint, safe to show (no credentials, no query string)."""
        return public_base_url(self._base_url)

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

            client = AsyncOpenAI(
                api_key=self._api_key,
                organization=self._organization,
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=0,
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
        if config.logprobs and self._capabilities.logprobs:
            params["logprobs"] = True
            if config.top_logprobs:
                params["top_logprobs"] = config.top_logprobs
        if config.json_mode and self._capabilities.json_mode:
            params["response_format"] = {"type": "json_object"}
        return {name: value for name, value in params.items() if name not in self._dropped}

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        """One chat.completions call; SDK exceptions propagate to the retry layer."""
        if self.batch is not None:  # batch mode (issue 17): the request joins a round
            return await self.batch.generate(messages, config)
        params = self.request_params(messages, config)
        if config.timeout is not None:
            params["timeout"] = config.timeout
        response = await self._client().chat.completions.create(**params)
        return self.read_completion(response, config)

    def read_completion(self, response: Any, config: GenerateConfig) -> Completion:
        """A chat completion (an SDK object) as a Completion; shared by direct calls and batch replies."""
        if not getattr(response, "choices", None):
            raise ModelError(
                self.name,
                f"{self.base_url} answered without any choices: is it an OpenAI-compatible chat completions "
                "endpoint? (check --base-url)",
            )
        usage = response.usage
        return Completion(
            model=self.name,
            choices=[_choice(choice) for choice in response.choices],
            usage=Usage(
                prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                completion_tokens=(usage.completion_tokens or 0) if usage else 0,
            ),
            seed=config.seed,
            system_fingerprint=response.system_fingerprint or None,
        )

    def to_user_error(self, exc: BaseException, attempts: int) -> FaithcheckError:
        """Name the endpoint and the fix; never repeat the key (some servers echo it back)."""
        import openai

        error: FaithcheckError
        if isinstance(exc, openai.APITimeoutError):
            error = ModelUnavailableError(
                self.name,
                f"no answer from {self.base_url} in time after {attempts} attempts: "
                "is the server overloaded? raise the timeout (-O timeout=SECONDS or GenerateConfig.timeout)",
            )
        elif isinstance(exc, openai.APIConnectionError):
            error = ModelUnavailableError(
                self.name,
                f"cannot reach {self.base_url} after {attempts} attempts: is the server running? "
                f"(check --base-url / OPENAI_BASE_URL; {_one_line(exc.__cause__ or exc)})",
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


def _flag(options: dict[str, Any], name: str) -> bool:
    value = options.get(name, True)
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"option {name}= declares whether the server supports {name} and takes true or false, got {value!r}"
            + (" (set the sampling seed with --seed or GenerateConfig.seed)" if name == "seed" else "")
        )
    return value


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
