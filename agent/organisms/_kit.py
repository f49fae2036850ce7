"""Helpers for writing organisms: read what a request asks from its hint, and write replies the parsers accept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.items import Item, Task
from agent.models import ChatMessage, GenerateConfig, RequestHint
from agent.paradigms import ParadigmRequest, hint_request, spoken


@dataclass(frozen=True)
class Asked:
    """A request as an organism sees it."""

    paradigm: str
    """The paradigm ("predict", "cot", ...) or "role:<task>" for helper-role requests."""
    request: ParadigmRequest | None
    """The typed paradigm request (None for helper-role requests)."""
    hint: RequestHint
    messages: Sequence[ChatMessage]

    @property
    def item(self) -> Item:
        """The item asked about."""
        if self.request is not None:
            return self.request.item
        return Item.model_validate(self.hint["item"])

    @property
    def task(self) -> Task:
        """The task framing (paradigm requests only)."""
        assert self.request is not None, "helper-role requests carry no task"
        return self.request.task

    def say(self, answer: str) -> str:
        """An answer written the way the prompt asks (labels as is, letters as "(A)")."""
        assert self.request is not None
        return spoken(self.request, answer)


def read_hint(messages: Sequence[ChatMessage], hint: RequestHint | None) -> Asked:
    """Turn a scripted model's inputs into an `Asked`; organisms need the hint faithcheck sends with each request.

    A paradigm request's hint carries the typed request itself (`ParadigmHint`), used as it is; a helper-role
    hint is a plain mapping with the role's variables.
    """
    if hint is None or "paradigm" not in hint:
        raise ValueError("organisms answer faithcheck's own requests only (this request carries no hint)")
    return Asked(str(hint["paradigm"]), hint_request(hint), hint, messages)


OrganismReply = Callable[[Asked], str]


def reply_fn(respond: OrganismReply) -> Callable[[Sequence[ChatMessage], GenerateConfig, RequestHint | None], str]:
    """Adapt an `Asked -> str` function to the scripted-model reply signature."""

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None) -> str:
        return respond(read_hint(messages, hint))

    return reply


def unsupported(asked: Asked) -> str:
    """What an organism says to a request its behaviour does not cover (parsers will reject it)."""
    return f"(this organism has no planted behaviour for '{asked.paradigm}')"


def params(asked: Asked) -> dict[str, Any]:
    """The paradigm parameters of the request."""
    return asked.request.params if asked.request is not None else {}
