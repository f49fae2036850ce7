"""Dry runs: count the model calls and tokens an audit would take, sending nothing to any model.

How many calls an audit makes depends on the replies (a counterfactual edit is asked only once the base answer
is known, a chain of thought's length sets how many truncations are tried, an unreadable reply is asked again).
So a dry run executes the whole audit, with the same tests, items, prompts, caching and sharing, against a
stand-in for each model (`DryAPI`) that answers every request with its paradigm's canonical reply
(`Paradigm.canonical_reply`), found through the request hint faithcheck sends (the paradigm and the typed
request). Its scores are uniform. Counting what reaches the stand-ins through a fresh in-memory cache gives
exactly the calls a real run would send on a clean cache, under one assumption, stated in the output: every
reply parses the first time. Re-asks after unreadable replies can add up to `reasks` more calls per generated reply.

Helper-role requests (judge, editor, ...) are open-ended: when the canonical reply does not parse, `DryAsker`
tries a few generic candidates against the caller's own parser (no extra call is counted), so the flow after it
is the one a readable reply leads to. The stand-ins never touch the real backend: no weights are loaded, no
request leaves the machine, and the real response cache is neither read nor written.

Token counts are estimates: prompt tokens as characters / 4 (no tokenizer is loaded), completion tokens as the
most the generation budgets (`max_tokens`) allow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agent.items import Item
from agent.models import (
    Capabilities,
    ChatMessage,
    Choice,
    Completion,
    GenerateConfig,
    ModelAPI,
    RequestHint,
    Usage,
)
from agent.paradigms import get_paradigm, hint_extras, hint_request
from agent.parsing import ReplyParseError
from agent.prompts import RenderedPrompt
from agent.structured import Asked, Asker

T = TypeVar("T")

CHARS_PER_TOKEN = 4
"""The rough English average used for token estimates when no tokenizer is at hand."""


def estimate_tokens(text: str) -> int:
    """A rough token count: characters / 4, at least 1 for non-empty text."""
    return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0


def canonical_reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None) -> str:
    """A reply in the format the request's prompt asks for, which faithcheck's parsers read the first time.

    Paradigm requests get their paradigm's canonical reply (`Paradigm.canonical_reply`: the reference answer or the
    first one, with the explanation, word list, edit, redaction or chain of thought its prompt asks for);
    helper-role requests get "yes".
    """
    if not hint or "paradigm" not in hint:
        return "OK"
    paradigm = str(hint["paradigm"])
    request = None if paradigm.startswith("role:") else hint_request(hint)
    if request is None:
        return "yes"
    return get_paradigm(paradigm).canonical_reply(request, hint_extras(hint))


def _fallback_replies(hint: RequestHint | None) -> list[str]:
    """Generic replies to try against a parser the canonical reply did not satisfy (helper roles mostly)."""
    candidates = ["yes", "no", "Answer: (A)", "A", "1", "0.5", '{"answer": "yes"}']
    extras = hint_extras(hint)
    for key, value in extras.items():
        if key in {"role", "item"}:
            continue
        if isinstance(value, str) and value.strip():
            candidates.append(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            candidates.append("\n".join(value))
    item = extras.get("item")
    if isinstance(item, dict):
        with contextlib.suppress(ValueError):
            candidates.append(Item.model_validate(item).target_text)
    return candidates


@dataclass
class DryCounts:
    """What the stand-in for one model was asked (each count is a call a real run would send on a clean cache)."""

    generate_calls: int = 0
    score_calls: int = 0
    prompt_tokens: int = 0
    """Estimated: characters / 4 of everything sent (scored continuations included)."""
    max_completion_tokens: int = 0
    """The sum of the generation budgets: the most the replies could cost."""

    @property
    def calls(self) -> int:
        """Generate and score calls."""
        return self.generate_calls + self.score_calls


@dataclass
class DryStats:
    """Readability of canonical replies during a dry run."""

    asks: int = 0
    """Parsed requests (each could be re-asked when a real reply is unreadable)."""
    fallbacks: int = 0
    """Requests whose canonical reply did not parse but a generic candidate did."""
    unreadable: int = 0
    """Requests no candidate satisfied (the run went on as after a parse failure)."""
    reasks: int = 2
    """Re-asks the real run allows per unreadable reply."""


class DryAPI(ModelAPI):
    """A stand-in for a real backend: same name and capabilities, canonical replies, nothing sent anywhere."""

    provider = "dry"
    summary = "dry-run stand-in"

    def __init__(self, real: ModelAPI) -> None:
        super().__init__(real.model_name)
        self.real = real
        self.counts = DryCounts()
        self._capabilities = real.capabilities  # declared statically by providers: no weights, no request

    @property
    def name(self) -> str:
        """The real model's name, so verdicts and counts read as they would in a real run."""
        return self.real.name

    @property
    def capabilities(self) -> Capabilities:
        """The real backend's, so paradigms take the same paths (scoring where it can score)."""
        return self._capabilities

    @property
    def max_connections(self) -> int:
        """No limit worth having: nothing is sent."""
        return 1024

    def cache_identity(self) -> dict[str, Any]:
        """Only the name: the stand-in has its own memory cache."""
        return {"provider": self.provider, "model": self.real.name}

    def concurrency_key(self) -> str:
        """Separate from any real endpoint."""
        return f"dry:{self.real.name}"

    def describe(self) -> dict[str, Any]:
        """The stand-in, named after the model it stands for."""
        return {"name": self.real.name, "dry_run": True}

    async def generate(
        self, messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None = None
    ) -> Completion:
        """Count the call and answer canonically."""
        reply = canonical_reply(messages, config, hint)
        self.counts.generate_calls += 1
        self.counts.prompt_tokens += sum(estimate_tokens(m.content) for m in messages)
        self.counts.max_completion_tokens += config.max_tokens * config.n
        return Completion(
            model=self.name,
            choices=[Choice(text=reply, finish_reason="stop") for _ in range(config.n)],
            usage=Usage(prompt_tokens=0, completion_tokens=0),
        )

    async def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        """Count the call; every continuation is equally likely."""
        self.counts.score_calls += 1
        prompt = sum(estimate_tokens(m.content) for m in messages)
        self.counts.prompt_tokens += prompt * max(1, len(continuations)) + sum(map(estimate_tokens, continuations))
        return [0.0 for _ in continuations]


@dataclass
class DryAsker(Asker):
    """An Asker for dry runs: one call per request; an unreadable canonical reply is replaced by a generic one
    the caller's parser accepts, so the audit follows the path a readable reply leads to."""

    stats: DryStats = field(default_factory=DryStats)

    async def ask(
        self,
        prompt: RenderedPrompt,
        parse: Callable[[str], T],
        *,
        purpose: str,
        config: GenerateConfig | None = None,
        hint: RequestHint | None = None,
        item_id: str | None = None,
        history: Sequence[ChatMessage] = (),
        allow_loops: bool = False,
    ) -> Asked[T]:
        """Ask once (no re-asks), then fall back to generic candidates when the canonical reply does not parse."""
        self.stats.asks += 1
        asked = await super().ask(
            prompt,
            parse,
            purpose=purpose,
            config=config,
            hint=hint,
            item_id=item_id,
            history=history,
            allow_loops=allow_loops,
        )
        if asked.ok:
            return asked
        for candidate in _fallback_replies(hint):
            try:
                value = parse(candidate)
            except (ReplyParseError, ValueError):
                continue
            self.stats.fallbacks += 1
            return Asked(value, None, asked.traces, asked.completion)
        self.stats.unreadable += 1
        return asked
