"""The paradigm protocol and registry. A paradigm turns a typed request into a typed output (or a typed failure)
through a `Session`, which knows the model, the prompts and how to ask; how a request becomes messages lives in
the prompt templates, not here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

from agent.errors import ConfigurationError
from agent.items import TaskKind
from agent.models import ChatMessage, GenerateConfig
from agent.paradigms._answers import answer_space, spoken
from agent.paradigms._types import ParadigmRequest, ParadigmResult
from agent.prompts import RenderedPrompt
from agent.structured import Asker


class Session(Protocol):
    """What a paradigm may use: the asker for the model under test, rendering, configs, and other paradigms."""

    asker: Asker
    use_scores: bool
    json_mode: bool

    def render(self, paradigm: str, request: ParadigmRequest, **extra: Any) -> RenderedPrompt:
        """Render the template for a paradigm and task framing."""
        ...

    def config(self, paradigm: str) -> GenerateConfig:
        """Generation settings for a paradigm's calls."""
        ...

    def history(self, request: ParadigmRequest) -> list[ChatMessage]:
        """Few-shot demonstrations as earlier turns."""
        ...

    def hint(self, paradigm: str, request: ParadigmRequest, **extra: Any) -> dict[str, Any]:
        """What scripted models may read about a request."""
        ...

    async def run(self, paradigm: str, request: ParadigmRequest) -> ParadigmResult:
        """Run another paradigm (memoised: the base answer is asked once per item)."""
        ...


class Paradigm(ABC):
    """One way of asking a model to explain itself. Subclasses set `name`, `kinds` and implement `run`."""

    name: ClassVar[str]
    """Registry name, part of the interface (records, CLI flags, scenario files)."""
    kinds: ClassVar[frozenset[TaskKind]] = frozenset({"classification", "multiple_choice", "free_form"})
    """Task framings this paradigm supports."""
    summary: ClassVar[str] = ""
    """One line for help texts."""

    @abstractmethod
    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        """Ask, parse, and return the typed result."""

    def supports(self, kind: TaskKind) -> bool:
        """Whether this paradigm applies to a task framing."""
        return kind in self.kinds

    def result(self, request: ParadigmRequest, session: Session, **fields: Any) -> ParadigmResult:
        """A result for this paradigm and item."""
        return ParadigmResult(paradigm=self.name, item_id=request.item.id, model=session.asker.model.name, **fields)


_PARADIGMS: dict[str, Paradigm] = {}


def register_paradigm(cls: type[Paradigm]) -> type[Paradigm]:
    """Class decorator: make a paradigm available by name."""
    _PARADIGMS[cls.name] = cls()
    return cls


def get_paradigm(name: str) -> Paradigm:
    """The registered paradigm of this name, or a one-line error listing the known ones."""
    try:
        return _PARADIGMS[name]
    except KeyError:
        known = ", ".join(sorted(_PARADIGMS))
        raise ConfigurationError(f"unknown paradigm '{name}': use one of {known}") from None


def paradigm_names() -> list[str]:
    """Every registered paradigm name."""
    return list(_PARADIGMS)


def template_variables(request: ParadigmRequest, json_mode: bool, **extra: Any) -> dict[str, Any]:
    """Everything a template may use. Templates fail on anything undefined, so this is the full contract."""
    item = request.item
    answers = answer_space(request)
    return {
        "task": request.task,
        "item": item,
        "fields": item.fields,
        "target_field": item.target_field,
        "target_text": item.target_text,
        "options": list(zip(item.letters, item.options, strict=True)),
        "answers": answers,
        "spoken_answers": [spoken(request, a) for a in answers],
        "allow_unknown": request.allow_unknown,
        "suffix": request.suffix or "",
        "json_mode": json_mode,
        "params": request.params,
        **extra,
    }
