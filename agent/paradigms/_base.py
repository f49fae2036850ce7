"""The paradigm protocol and registry. A paradigm turns a typed request into a typed output (or a typed failure)
through a `Session`, which knows the model, the prompts and how to ask; how a request becomes messages lives in
the prompt templates, not here.

Each paradigm is also the one place for its facts: its generation budget, the formats its reply may take (a JSON
reply schema for backends with structured outputs, a grammar of the plain-text format for constrained decoding),
its canonical reply (what a dry run answers), the paradigms it runs and the helper roles it needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from agent.errors import ConfigurationError
from agent.items import TaskKind
from agent.models import ChatMessage, GenerateConfig
from agent.paradigms._answers import answer_space, spoken
from agent.paradigms._hint import ParadigmHint
from agent.paradigms._types import ParadigmRequest, ParadigmResult
from agent.prompts import RenderedPrompt
from agent.structured import Asker

HELPER_BUDGET = 128
"""The budget of a call that serves no paradigm (a helper task without a budget of its own)."""


class Session(Protocol):
    """What a paradigm may use: the asker for the model under test, rendering, configs, and other paradigms."""

    asker: Asker
    use_scores: bool
    json_mode: bool

    def render(self, paradigm: str, request: ParadigmRequest, **extra: Any) -> RenderedPrompt:
        """Render the template for a paradigm and task framing."""
        ...

    def config(self, paradigm: str, request: ParadigmRequest | None = None) -> GenerateConfig:
        """Generation settings for a paradigm's calls on a request (its budget, reply format, logprobs)."""
        ...

    def history(self, request: ParadigmRequest) -> list[ChatMessage]:
        """Few-shot demonstrations as earlier turns."""
        ...

    def hint(self, paradigm: str, request: ParadigmRequest, **extra: Any) -> ParadigmHint:
        """What scripted models and the dry run may read about a request."""
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
    budget: ClassVar[int] = HELPER_BUDGET
    """Generation budget (max_tokens) of its own calls: enough for the asked format, short enough to stop a weak
    model's rambling. Overrides apply in the order `resolve_budget` documents."""
    budget_of: ClassVar[str | None] = None
    """Another paradigm whose budget (and overrides of it) these calls share, when not their own."""
    uses: ClassVar[tuple[str, ...]] = ()
    """Other paradigms it runs (memoised by the session, so a base answer is asked once per item)."""
    roles: ClassVar[tuple[str, ...]] = ()
    """Helper roles its calls need. None of the built-in paradigms needs one: helper roles belong to the tests."""
    scored: ClassVar[bool] = False
    """Its answer comes with a distribution where the backend gives scores (exact continuation scores locally, the
    top log-probabilities of the answer token on an API)."""

    @abstractmethod
    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        """Ask, parse, and return the typed result."""

    @abstractmethod
    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        """A reply in the plain-text format the prompt asks for, which this paradigm's reading accepts the first
        time: what a dry run's stand-in answers. `extra` is the hint's extras (target, k, prefix, ...)."""

    def default_budget(self, request: ParadigmRequest | None) -> int:
        """The budget before overrides; paradigms whose reply grows with the input raise it for long inputs."""
        return self.budget

    def reply_schema(self, request: ParadigmRequest) -> type[BaseModel] | None:
        """The JSON reply the prompt asks for in JSON mode, as a pydantic model (None: no JSON reply)."""
        return None

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        """A Lark grammar of the plain-text reply the prompt asks for, for constrained decoding (None: free text)."""
        return None

    def reply_ending(self, request: ParadigmRequest) -> str | None:
        """With a grammar, the grammar of what the reply must end with (its answer line), where a model that would
        stop early goes on (None: it may stop wherever the grammar lets it)."""
        return None

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


def default_budgets() -> dict[str, int]:
    """Every paradigm's default budget (as declared, before input-dependent raises and overrides)."""
    return {name: resolve_budget(name) for name in _PARADIGMS}


def resolve_budget(
    purpose: str,
    request: ParadigmRequest | None = None,
    *,
    overrides: Mapping[str, int] | None = None,
    requested: int | None = None,
) -> int:
    """The max_tokens of one call, in one documented order:

    1. an override for the paradigm (`--max-tokens PARADIGM=N`, `Explainer(max_tokens=...)`), or for the paradigm
       whose budget it shares;
    2. a test's parameter: `requested` (a helper task's budget) or the request's `max_tokens` parameter;
    3. the paradigm's default for this request (`Paradigm.default_budget`); `HELPER_BUDGET` for a purpose that is
       no paradigm.
    """
    spec = _PARADIGMS.get(purpose)
    for key in (purpose, spec.budget_of if spec else None):
        if overrides and key is not None and key in overrides:
            return int(overrides[key])
    if requested is not None:
        return int(requested)
    if request is not None and "max_tokens" in request.params:
        return int(request.params["max_tokens"])
    if spec is None:
        return HELPER_BUDGET
    return (get_paradigm(spec.budget_of) if spec.budget_of else spec).default_budget(request)


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
        "preamble": request.preamble or "",
        "suffix": request.suffix or "",
        "json_mode": json_mode,
        "params": request.params,
        **extra,
    }
