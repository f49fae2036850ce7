"""Resolve `provider/model` strings to models.

A provider registers itself where it is defined, with `@register_provider` on its class: its name, what it needs
installed and its one-line summary are written there and nowhere else. The built-in provider modules are imported
on the first lookup; they are cheap to import, since each imports its SDK (openai, torch, transformers,
langchain-core) only when a model is first used.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

from agent.errors import ConfigurationError, MissingDependencyError
from agent.models._api import ModelAPI
from agent.models._cache import ResponseCache
from agent.models._model import Model

API = TypeVar("API", bound=type[ModelAPI])

BUILTIN_PROVIDER_MODULES = (
    "agent.models.openai_api",
    "agent.models.huggingface",
    "agent.models.smollm2",
    "agent.models.langchain_api",
    "agent.models.http_api",
    "agent.models.scripted",
)
"""Where the built-in providers register themselves, in the order `faithcheck models` lists them."""


@dataclass(frozen=True)
class ProviderEntry:
    """A registered provider: its class and what it needs installed."""

    name: str
    api: type[ModelAPI]
    """The ModelAPI subclass; its module is imported, its SDK not yet."""
    example: str

    @property
    def requires(self) -> tuple[str, ...]:
        """'import_name=pip-name' entries, or a plain name when both are the same."""
        return self.api.requires

    @property
    def summary(self) -> str:
        """One line for `faithcheck models`."""
        return self.api.summary

    def missing(self) -> list[str]:
        """The pip names of required packages that are not installed."""
        out = []
        for requirement in self.requires:
            module, _, pip_name = requirement.partition("=")
            if importlib.util.find_spec(module) is None:
                out.append(pip_name or module)
        return out

    def load(self) -> type[ModelAPI]:
        """The provider class, or an 'install X' error when a package it needs is missing."""
        missing = self.missing()
        if missing:
            raise MissingDependencyError(self.name, missing[0], extra=extra_providing(missing[0]))
        return self.api


_PROVIDERS: dict[str, ProviderEntry] = {}

_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_providing(package: str) -> str | None:
    """The faithcheck extra that installs `package` (e.g. 'local' for torch), read from the installed metadata so
    pyproject.toml stays the one place that says it; None when no extra does or faithcheck is not installed."""
    try:
        requirements = metadata.requires("faithcheck") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        extra = _EXTRA_MARKER.search(requirement)
        if name and extra and _normalized(name.group()) == _normalized(package) and extra.group(1) != "test":
            return extra.group(1)
    return None


def register_provider(
    name: str, *, requires: tuple[str, ...] = (), summary: str = "", example: str = ""
) -> Callable[[API], API]:
    """Class decorator: make `name/...` resolve to the decorated ModelAPI subclass.

    `requires` lists what the provider imports lazily, as 'import_name=pip-name' or one name for both; `summary`
    is its line in `faithcheck models`, `example` a model string to show there.
    """

    def decorate(api: API) -> API:
        api.provider = name
        api.requires = requires
        api.summary = summary
        _PROVIDERS[name] = ProviderEntry(name, api, example or f"{name}/<model>")
        return api

    return decorate


def _load_builtins() -> None:
    for module in BUILTIN_PROVIDER_MODULES:
        importlib.import_module(module)


def providers() -> list[ProviderEntry]:
    """All registered providers, built-ins first."""
    _load_builtins()
    return list(_PROVIDERS.values())


def split_model_name(name: str) -> tuple[str, str]:
    """`'openai/gpt-4o'` -> `('openai', 'gpt-4o')`; a bare alias like `'smollm2'` has an empty model part."""
    provider, _, model_name = name.strip().partition("/")
    return provider, model_name


def get_model(name: str, *, cache: ResponseCache | None = None, **options: Any) -> Model:
    """Resolve a model string to a ready `Model`.

    `options` go to the provider and are checked against its `Options` (e.g. `base_url`, `api_key`, `timeout` for
    openai; `dtype` for hf; `max_connections` for every provider). Pass a cache to reuse responses across calls
    and runs (see `agent.models.SQLiteCache`).
    """
    provider, model_name = split_model_name(name)
    _load_builtins()
    entry = _PROVIDERS.get(provider)
    if entry is None:
        known = ", ".join(sorted(_PROVIDERS))
        raise ConfigurationError(
            f"unknown model provider '{provider}' in '{name}': use one of {known} "
            "(e.g. openai/gpt-4o-mini, hf/./my-model, smollm2); `faithcheck models` lists them"
        )
    api = entry.load()(model_name, **options)
    return Model(api, cache=cache)
