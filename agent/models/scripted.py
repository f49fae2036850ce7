"""Scripted models: deterministic Python functions behind the same interface as real backends.

They serve unit tests and the planted-behaviour "organisms" that prove each faithfulness test can tell a
faithful model from an unfaithful one. They never stand in for a real backend in an integration test.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict

from agent.errors import ConfigurationError
from agent.models._api import ModelAPI, RequestHint
from agent.models._model import Model
from agent.models._options import ProviderOptions
from agent.models._registry import register_provider
from agent.models._types import Capabilities, ChatMessage, Choice, Completion, GenerateConfig, Usage

ReplyFn = Callable[[Sequence[ChatMessage], GenerateConfig, RequestHint | None], str]
ScoreFn = Callable[[Sequence[ChatMessage], Sequence[str]], Sequence[float]]


@dataclass
class ScriptedBehaviour:
    """What a scripted model does: a reply function and, optionally, exact continuation scoring."""

    reply: ReplyFn
    score: ScoreFn | None = None
    description: str = ""
    reasoning: Callable[[Sequence[ChatMessage], RequestHint | None], str | None] | None = None
    extra_capabilities: dict[str, bool] = field(default_factory=dict)


BehaviourFactory = Callable[..., ScriptedBehaviour]
_SCRIPTED: dict[str, BehaviourFactory] = {}
# Modules that register more scripted models when imported (the organisms). Imported on first lookup miss.
_PLUGIN_MODULES: list[str] = ["agent.organisms"]


def register_scripted(name: str, description: str = "") -> Callable[[BehaviourFactory], BehaviourFactory]:
    """Decorator: register a factory `(**options) -> ScriptedBehaviour` as `scripted/<name>`."""

    def decorate(factory: BehaviourFactory) -> BehaviourFactory:
        if description and not factory.__doc__:
            factory.__doc__ = description
        _SCRIPTED[name] = factory
        return factory

    return decorate


def scripted_names() -> dict[str, str]:
    """Every registered scripted model with the first line of its description."""
    _load_plugins()
    return {name: (factory.__doc__ or "").strip().splitlines()[0] for name, factory in sorted(_SCRIPTED.items())}


def _load_plugins() -> None:
    for module in _PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def _count_tokens(text: str) -> int:
    return len(text.split())


class ScriptedOptions(ProviderOptions):
    """Options of `scripted/<name>`: the common ones, and any others go to the behaviour's factory."""

    model_config = ConfigDict(extra="allow")


@register_provider(
    "scripted",
    summary="deterministic scripted models and planted-behaviour organisms, for tests",
    example="scripted/echo",
)
class ScriptedAPI(ModelAPI):
    """`scripted/<name>`: a registered behaviour, or one passed as `behaviour=` from Python."""

    Options = ScriptedOptions

    def __init__(self, model_name: str, behaviour: ScriptedBehaviour | None = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        if behaviour is None:
            factory = _SCRIPTED.get(model_name)
            if factory is None:
                _load_plugins()
                factory = _SCRIPTED.get(model_name)
            if factory is None:
                known = ", ".join(sorted(_SCRIPTED)) or "none"
                raise ConfigurationError(f"unknown scripted model 'scripted/{model_name}': known ones are {known}")
            factory_options = dict(self.options.model_extra or {})
            try:
                inspect.signature(factory).bind(**factory_options)
            except TypeError as exc:
                raise ConfigurationError(f"{self.name}: {exc} (options other than the common ones go to it)") from None
            behaviour = factory(**factory_options)
        self.behaviour = behaviour

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            score=self.behaviour.score is not None,
            reasoning=self.behaviour.reasoning is not None,
            seed=True,
            local=True,
            **self.behaviour.extra_capabilities,
        )

    @property
    def max_connections(self) -> int:
        return self.options.max_connections or 64

    def concurrency_key(self) -> str:
        return self.name

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        texts = [self.behaviour.reply(messages, config, hint) for _ in range(config.n)]
        reasoning = self.behaviour.reasoning(messages, hint) if self.behaviour.reasoning else None
        choices = []
        for text in texts:
            finish = "stop"
            for stop in config.stop:
                if stop and stop in text:
                    text = text[: text.index(stop)]
            if _count_tokens(text) > config.max_tokens:
                text = " ".join(text.split()[: config.max_tokens])
                finish = "length"
            choices.append(Choice(text=text, finish_reason=finish, reasoning=reasoning))
        prompt_tokens = sum(_count_tokens(m.content) for m in messages)
        completion_tokens = sum(_count_tokens(c.text) for c in choices)
        return Completion(
            model=self.name,
            choices=choices,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            seed=config.seed,
        )

    async def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        if self.behaviour.score is None:
            return await super().score(messages, continuations)
        return [float(x) for x in self.behaviour.score(messages, continuations)]


def scripted_model(
    reply: ReplyFn | Iterable[str],
    *,
    name: str = "custom",
    score: ScoreFn | None = None,
    **model_options: Any,
) -> Model:
    """A Model from a reply function, or from a list of replies returned in turn (cycling)."""
    if callable(reply):
        fn: ReplyFn = reply
    else:
        replies = itertools.cycle(list(reply))

        def fn(messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None) -> str:
            return next(replies)

    api = ScriptedAPI(name, behaviour=ScriptedBehaviour(reply=fn, score=score))
    return Model(api, **model_options)


@register_scripted("echo")
def _echo(**_: Any) -> ScriptedBehaviour:
    """Replies with the last user message, unchanged."""

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None) -> str:
        return next((m.content for m in reversed(messages) if m.role == "user"), "")

    return ScriptedBehaviour(reply=reply, description="echo")
