"""The model interface: one async `generate` over every backend, with caching, retries and usage accounting."""

from agent.models._api import ErrorClass, MalformedResponse, ModelAPI, RequestHint, classify_exception
from agent.models._cache import MemoryCache, ResponseCache, SQLiteCache, cache_key, default_cache_dir
from agent.models._model import Model
from agent.models._options import NetworkOptions, ProviderOptions
from agent.models._registry import ProviderEntry, get_model, providers, register_provider, split_model_name
from agent.models._types import (
    Capabilities,
    ChatMessage,
    Choice,
    Completion,
    GenerateConfig,
    TokenLogprob,
    Usage,
    as_messages,
)
from agent.models._usage import UsageStats

__all__ = [
    "Capabilities",
    "ChatMessage",
    "Choice",
    "Completion",
    "ErrorClass",
    "GenerateConfig",
    "MalformedResponse",
    "MemoryCache",
    "Model",
    "ModelAPI",
    "NetworkOptions",
    "ProviderEntry",
    "ProviderOptions",
    "RequestHint",
    "ResponseCache",
    "SQLiteCache",
    "TokenLogprob",
    "Usage",
    "UsageStats",
    "as_messages",
    "cache_key",
    "classify_exception",
    "default_cache_dir",
    "get_model",
    "providers",
    "register_provider",
    "split_model_name",
]
