"""`langchain/...`: any LangChain chat model behind faithcheck's model interface.

The wrapped model does the talking; faithcheck keeps the cache, retries, concurrency limit and usage counts.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import re
import threading
from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import Field, StrictBool

from agent.errors import ConfigurationError
from agent.models._api import ModelAPI, RequestHint, _one_line
from agent.models._options import NetworkOptions
from agent.models._registry import register_provider
from agent.models._reply_formats import ReplyFormats
from agent.models._types import Capabilities, ChatMessage, Choice, Completion, GenerateConfig, TokenLogprob, Usage
from agent.models.openai_api import public_base_url

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import ChatGeneration

T = TypeVar("T")
log = logging.getLogger("faithcheck.langchain")

CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "max_tokens": ("max_tokens", "max_output_tokens", "max_new_tokens", "num_predict"),
    "top_p": ("top_p",),
    "seed": ("seed",),
    "n": ("n",),
    "logprobs": ("logprobs",),
    "top_logprobs": ("top_logprobs",),
}
"""GenerateConfig field -> the chat model fields that mean the same, in LangChain's usual spellings."""
MODEL_NAME_FIELDS = ("model_name", "model", "model_id", "deployment_name", "repo_id")
BASE_URL_FIELDS = ("openai_api_base", "base_url", "api_base", "azure_endpoint", "endpoint_url", "endpoint")
_SECRET_NAME = re.compile(r"key|token|secret|password|credential", re.IGNORECASE)


class LangChainOptions(NetworkOptions):
    """Options of `langchain/...`."""

    timeout: float | None = Field(default=None, gt=0)
    """seconds one attempt may take before it is abandoned and retried (default: the chat model's own timeouts)"""
    logprobs: StrictBool | None = None
    """true/false: whether the model returns token logprobs (default: whether it has a `logprobs` field)"""
    seed: StrictBool | None = None
    """true/false: whether the model honours seeds (default: whether it has a `seed` field)"""
    json_mode: StrictBool | None = None
    """true/false: whether to ask for JSON output as response_format={"type": "json_object"} (default: false)"""
    structured_output: StrictBool | None = None
    """true/false: whether to ask for a JSON schema as response_format={"type": "json_schema", ...}, falling back to
    json_object and to plain text when refused (default: false)"""


@register_provider(
    "langchain",
    requires=("langchain_core=langchain-core",),
    summary="any LangChain chat model, passed from Python or named by an import path",
    example="langchain/langchain_openai:ChatOpenAI?model=gpt-4o-mini",
)
class LangChainAPI(ModelAPI):
    """Wrap a LangChain chat model (`langchain_core.language_models.BaseChatModel`).

    From Python, pass the instance; the part after `langchain/` is only its display name::

        get_model("langchain/my-gpt", chat_model=ChatOpenAI(model="gpt-4o-mini", max_retries=0))

    From the CLI, name the class by import path (`module:Class`) and give constructor arguments as a query
    string; values are read as YAML scalars (`0.5` is a float, `true` a boolean, anything else a string)::

        faithcheck generate "Hi" \\
            -m 'langchain/langchain_openai:ChatOpenAI?model=gpt-4o-mini&base_url=http://127.0.0.1:8000/v1'

    Secrets never go in the name (it is logged and recorded): a parameter called like a key, token or password
    is refused; let the class read its environment variable (e.g. OPENAI_API_KEY) instead.

    Per call, `temperature`, `max_tokens`, `top_p`, `seed`, `n` and `logprobs` are set on a copy of the chat model
    when it has a field of that name (see `CONFIG_FIELDS`); `stop` goes to the call itself. A model without an `n`
    field is called `n` times. Its own retries should be off (`max_retries=0`): the shared retry layer retries, and
    classifies the underlying SDK's exceptions by HTTP status. A class built from the CLI gets `max_retries=0`.

    `chat_model=` is the instance; the other options are in `LangChainOptions`.
    """

    Options = LangChainOptions
    options: LangChainOptions

    def __init__(self, model_name: str, chat_model: Any = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        from langchain_core.language_models import BaseChatModel

        if chat_model is None:
            chat_model = build_chat_model(model_name)
        elif not isinstance(chat_model, BaseChatModel):
            raise ConfigurationError(
                f"chat_model must be a LangChain chat model (a BaseChatModel), got {type(chat_model).__name__}"
            )
        self.chat_model: BaseChatModel = chat_model
        self._fields = frozenset(type(chat_model).model_fields)
        if not model_name:
            model = self._model_id()
            self.model_name = f"{type(chat_model).__name__}:{model}" if model else type(chat_model).__name__
        own_retries = getattr(chat_model, "max_retries", 0)
        if "max_retries" in self._fields and own_retries != 0:
            log.warning(
                "%s retries by itself (max_retries=%s): create it with max_retries=0 so that only faithcheck's "
                "retry layer retries",
                self.name,
                own_retries,
            )
        declared = self.options
        self._capabilities = Capabilities(
            logprobs=declared.logprobs if declared.logprobs is not None else "logprobs" in self._fields,
            seed=declared.seed if declared.seed is not None else "seed" in self._fields,
            json_mode=bool(declared.json_mode),
            structured_output=bool(declared.structured_output),
            reasoning=True,
        )
        self._formats = ReplyFormats(self.name)

    @property
    def capabilities(self) -> Capabilities:
        """Logprobs and seeds when the wrapped model has those fields (or as declared); never exact scoring."""
        return self._capabilities

    def _model_id(self) -> str | None:
        for name in MODEL_NAME_FIELDS:
            value = getattr(self.chat_model, name, None)
            if isinstance(value, str) and value:
                return value
        return None

    def _base_url(self) -> str | None:
        for name in BASE_URL_FIELDS:
            value = getattr(self.chat_model, name, None)
            if isinstance(value, str) and value:
                return public_base_url(value)
        return None

    def cache_identity(self) -> dict[str, Any]:
        """Class, model name, endpoint and the model's own identifying parameters; never secrets."""
        cls = type(self.chat_model)
        try:
            identifying = dict(self.chat_model._identifying_params)
        except Exception:  # a third-party model whose property fails should still be cacheable by class and name
            identifying = {}
        return {
            "provider": self.provider,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "model": self._model_id(),
            "base_url": self._base_url(),
            "params": _json_safe(identifying),
        }

    def concurrency_key(self) -> str:
        """Models on the same endpoint (or of the same class and name) share a connection limit."""
        cls = type(self.chat_model)
        return f"{self.provider}:{cls.__qualname__}:{self._base_url() or self._model_id()}"

    def configured_model(self, config: GenerateConfig) -> BaseChatModel:
        """A copy of the chat model with the config's sampling settings on the fields it has."""
        wanted: dict[str, Any] = {"temperature": config.temperature, "max_tokens": config.max_tokens}
        if config.top_p is not None:
            wanted["top_p"] = config.top_p
        if config.seed is not None and self._capabilities.seed:
            wanted["seed"] = config.seed
        if config.n != 1:
            wanted["n"] = config.n
        if config.logprobs and self._capabilities.logprobs:
            wanted["logprobs"] = True
            if config.top_logprobs:
                wanted["top_logprobs"] = config.top_logprobs
        update: dict[str, Any] = {}
        for setting, value in wanted.items():
            field = next((name for name in CONFIG_FIELDS[setting] if name in self._fields), None)
            if field is not None:
                update[field] = value
        return self.chat_model.model_copy(update=update) if update else self.chat_model

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        """Call the wrapped model; its SDK's exceptions propagate to the retry layer."""
        model = self.configured_model(config)
        calls = 1 if config.n == 1 or "n" in self._fields else config.n
        while True:
            kwargs: dict[str, Any] = {}
            response_format = self._formats.response_format(config, self._capabilities)
            if response_format is not None:
                kwargs["response_format"] = response_format
            request = model.agenerate(
                [to_langchain_messages(messages)] * calls, stop=list(config.stop) or None, **kwargs
            )
            # The retry layer bounds the attempt (option `timeout`); cancelling it cancels the call on the shared loop.
            try:
                result = await run_on_shared_loop(request)
            except Exception as exc:
                if not self._formats.refused(exc, response_format):
                    raise
                continue  # asked again with the next reply format down
            break
        choices: list[Choice] = []
        usage = Usage()
        for generations in result.generations:
            call_usage: Usage | None = None
            for generation in generations:
                choices.append(_choice(generation))  # type: ignore[arg-type]
                call_usage = call_usage or _usage(generation)  # type: ignore[arg-type]
            usage += call_usage or Usage()
        if usage == Usage():
            usage = _llm_output_usage(result.llm_output)
        return Completion(model=self.name, choices=choices, usage=usage, seed=config.seed)


_shared_loop: asyncio.AbstractEventLoop | None = None
_shared_loop_lock = threading.Lock()


async def run_on_shared_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` on one long-lived event loop in a background thread, whichever loop the caller runs.

    LangChain integrations cache loop-bound HTTP clients process-wide (langchain-openai keeps one
    httpx AsyncClient), so a second `asyncio.run` (every `generate_sync`, a CLI run after a test) would
    fail with "Event loop is closed". Running every call on the same loop keeps those clients valid.
    """
    global _shared_loop
    with _shared_loop_lock:
        if _shared_loop is None:
            _shared_loop = asyncio.new_event_loop()
            threading.Thread(target=_shared_loop.run_forever, name="faithcheck-langchain", daemon=True).start()
        loop = _shared_loop
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


def build_chat_model(spec: str) -> BaseChatModel:
    """`module:Class?param=value&...` -> an instance, with its own retries off when it has `max_retries`."""
    from langchain_core.language_models import BaseChatModel

    path, _, query = spec.partition("?")
    module_name, sep, class_name = path.partition(":")
    if not sep:
        module_name, _, class_name = path.rpartition(".")
    if not module_name or not class_name:
        raise ConfigurationError(
            f"langchain/{spec}: name a chat model class as module:Class, e.g. "
            "langchain/langchain_openai:ChatOpenAI?model=gpt-4o-mini (or pass chat_model= from Python)"
        )
    params = parse_query(query)
    secret = [name for name in params if _SECRET_NAME.search(name)]
    if secret:
        raise ConfigurationError(
            f"langchain/{path}: do not put '{secret[0]}' in the model name (names are logged and recorded); "
            "set it in the environment variable the class reads instead (e.g. OPENAI_API_KEY)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        package = module_name.split(".")[0].replace("_", "-")
        raise ConfigurationError(
            f"langchain/{path}: cannot import '{module_name}' ({_one_line(exc)}): pip install '{package}'"
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseChatModel)):
        raise ConfigurationError(f"langchain/{path}: '{class_name}' in {module_name} is not a LangChain chat model")
    if "max_retries" in cls.model_fields:
        params.setdefault("max_retries", 0)
    try:
        return cls(**params)
    except Exception as exc:
        raise ConfigurationError(
            f"langchain/{path}: cannot create {class_name}({', '.join(params)}): {_one_line(exc)}"
        ) from exc


def parse_query(query: str) -> dict[str, Any]:
    """`a=1&b=x` -> `{"a": 1, "b": "x"}`: YAML scalars (numbers, booleans, null), everything else a string."""
    import yaml

    params: dict[str, Any] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        params[key] = value if isinstance(value, (bool, int, float, type(None))) else raw
    return params


def to_langchain_messages(messages: Sequence[ChatMessage]) -> list[BaseMessage]:
    """faithcheck chat turns -> LangChain System/Human/AI messages."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[message.role](content=message.content) for message in messages]


def _choice(generation: ChatGeneration) -> Choice:
    message = generation.message
    info = generation.generation_info or {}
    metadata = message.response_metadata or {}
    finish = next(
        (
            source[key]
            for source in (info, metadata)
            for key in ("finish_reason", "stop_reason", "done_reason")
            if isinstance(source.get(key), str)
        ),
        None,
    )
    blocks: list[Mapping[str, Any]] = [dict(block) for block in message.content_blocks]
    reasoning = [
        block["reasoning"]
        for block in blocks
        if block.get("type") == "reasoning" and isinstance(block.get("reasoning"), str)
    ]
    return Choice(
        text=str(message.text),
        finish_reason=finish,
        logprobs=_logprobs(info.get("logprobs") or metadata.get("logprobs")),
        reasoning="\n".join(reasoning) or None,
    )


def _usage(generation: ChatGeneration) -> Usage | None:
    usage = getattr(generation.message, "usage_metadata", None)
    if not usage:
        return None
    return Usage(
        prompt_tokens=int(usage.get("input_tokens") or 0), completion_tokens=int(usage.get("output_tokens") or 0)
    )


def _llm_output_usage(llm_output: Mapping[str, Any] | None) -> Usage:
    token_usage = (llm_output or {}).get("token_usage") or {}
    return Usage(
        prompt_tokens=int(token_usage.get("prompt_tokens") or 0),
        completion_tokens=int(token_usage.get("completion_tokens") or 0),
    )


def _logprobs(raw: Any) -> list[TokenLogprob] | None:
    items = raw.get("content") if isinstance(raw, Mapping) else raw
    if not isinstance(items, list) or not items:
        return None
    out = []
    for item in items:
        if not isinstance(item, Mapping) or "token" not in item or "logprob" not in item:
            return None
        top = [(str(alt["token"]), float(alt["logprob"])) for alt in item.get("top_logprobs") or []]
        out.append(TokenLogprob(token=str(item["token"]), logprob=float(item["logprob"]), top=top))
    return out


def _json_safe(params: Mapping[str, Any]) -> dict[str, Any]:
    """Keep JSON-plain values whose names do not look secret (objects' reprs would change between runs)."""
    safe: dict[str, Any] = {}
    for key, value in params.items():
        if _SECRET_NAME.search(str(key)):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        safe[str(key)] = value
    return safe
