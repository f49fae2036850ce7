"""Ask a model for something typed: render, send, parse, and re-ask with the error shown when parsing fails.

Network retries happen below this layer (agent.models); this layer only handles replies that arrived but could not
be read. When re-asks run out, the result is a typed `ParseFailure` holding the raw text: a run never crashes on
a reply it cannot read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from agent.models import ChatMessage, Completion, GenerateConfig, Model, RequestHint, Usage
from agent.parsing import ReplyParseError, is_degenerate, split_reasoning
from agent.prompts import PromptLibrary, RenderedPrompt

T = TypeVar("T")

Role = str
"""Which part a model plays in a call: "subject" (the model under test), "editor", "judge", "generator", ..."""


class CallTrace(BaseModel):
    """One request to a model and what came back: enough to see exactly why a figure is what it is."""

    kind: Literal["call"] = "call"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    """Unique id of this call; verdicts list the ids of the calls behind them."""
    model: str
    """`provider/name` of the model that answered."""
    role: Role = "subject"
    """The part the model played."""
    purpose: str
    """The paradigm or helper task this call served (e.g. "predict", "counterfactual", "judge-mention")."""
    item_id: str | None = None
    """The item the call was about, when there is one."""
    template: str | None = None
    """The prompt template name."""
    template_hash: str | None = None
    """Hash of the template source (and its includes)."""
    messages: list[ChatMessage]
    """Exactly what was sent."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The output-relevant generation settings."""
    reply: str | None = None
    """The raw reply text (None for a scoring call)."""
    reasoning: str | None = None
    """The reasoning trace: a separate field the backend returned (`reasoning_content`, `reasoning`) and any
    `<think>` blocks taken out of the reply, in that order."""
    finish_reason: str | None = None
    scores: dict[str, float] | None = None
    """For a scoring call: continuation -> log-probability."""
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False
    """True when the reply came from the cache (or an identical request in flight) and cost nothing."""
    attempt: int = 0
    """0 for the first ask, 1.. for re-asks after a parse failure."""
    parse_error: str | None = None
    """Why this reply could not be read, when it could not."""
    latency_s: float = 0.0


class ParseFailure(BaseModel):
    """A reply that could not be read after every re-ask."""

    kind: Literal["parse_failure"] = "parse_failure"
    purpose: str
    """What was being asked for."""
    error: str
    """The last parse error."""
    error_kind: str = "format"
    """"empty", "refusal", "ambiguous", "degenerate" or "format"."""
    raw: str
    """The last raw reply."""
    attempts: int
    """How many replies were tried."""


@dataclass
class Asked(Generic[T]):
    """The parsed value or the failure, with the calls that produced it."""

    value: T | None
    failure: ParseFailure | None
    traces: list[CallTrace] = field(default_factory=list)
    completion: Completion | None = None
    """The last completion (for reasoning traces and finish reasons)."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def reply(self) -> str:
        """The visible text of the last reply (reasoning blocks taken out): what was read."""
        return visible_reply(self.completion)[0] if self.completion else ""

    @property
    def reasoning(self) -> str | None:
        """The reasoning trace of the last reply (a separate field and inline `<think>` blocks)."""
        return visible_reply(self.completion)[1] if self.completion else None


def visible_reply(completion: Completion) -> tuple[str, str | None]:
    """(the text to read, the reasoning trace): `<think>` blocks go to the trace, after a separate trace field."""
    visible, inline = split_reasoning(completion.text)
    traces = [t for t in (completion.reasoning, inline) if t and t.strip()]
    return visible, "\n\n".join(traces) if traces else None


TraceSink = Callable[[CallTrace], None]


def recorded_config(config: GenerateConfig) -> dict[str, Any]:
    """The output-relevant settings as a record keeps them: a reply grammar (as long as the input, for redactions)
    by its hash, since the paradigm and the request it is built from are in the same record."""
    fields = config.cache_fields()
    for name in ("reply_grammar", "reply_ending"):
        if fields.get(name):
            fields[name] = "sha256:" + hashlib.sha256(fields[name].encode()).hexdigest()[:16]
    return fields


@dataclass
class Asker:
    """Sends prompts to one model in one role and reads the replies."""

    model: Model
    prompts: PromptLibrary
    role: Role = "subject"
    reasks: int = 2
    """How many times to re-ask after an unreadable reply."""
    on_trace: TraceSink | None = None
    system_prompt: str | None = None
    """The system prompt the model is deployed with, put first in every call of this asker (the audited model's
    only: helper roles get none). A template's own system message follows it in the same system message."""

    def conversation(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The messages as sent: the deployed system prompt first (merged with a leading system message, since many
        chat templates take only one), then the rest."""
        if not self.system_prompt:
            return list(messages)
        if messages and messages[0].role == "system":
            merged = f"{self.system_prompt}\n\n{messages[0].content}"
            return [ChatMessage(role="system", content=merged), *messages[1:]]
        return [ChatMessage(role="system", content=self.system_prompt), *messages]

    def _emit(self, trace: CallTrace) -> CallTrace:
        if self.on_trace is not None:
            self.on_trace(trace)
        return trace

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
        """Send `history + prompt`, parse the reply, re-ask with the error shown until it parses or re-asks run out.

        The parser sees the visible reply: `<think>` blocks are taken out and kept as the reasoning trace. A reply
        the token limit cut in the middle of a loop is not read at all (its "answer" is whatever the loop repeated)
        unless `allow_loops` (chains of thought cut their steps at the first repeat themselves).
        """
        config = config or GenerateConfig()
        messages = self.conversation([*history, *prompt.messages])
        traces: list[CallTrace] = []
        last_error: ReplyParseError | None = None
        completion: Completion | None = None
        for attempt in range(self.reasks + 1):
            completion = await self.model.generate(messages, config, hint=hint)
            reply, reasoning = visible_reply(completion)
            finish_reason = completion.choices[0].finish_reason if completion.choices else None
            trace = CallTrace(
                model=self.model.name,
                role=self.role,
                purpose=purpose,
                item_id=item_id,
                template=prompt.template,
                template_hash=prompt.template_hash,
                messages=list(messages),
                config=recorded_config(config),
                reply=completion.text,
                reasoning=reasoning,
                finish_reason=finish_reason,
                usage=completion.usage,
                cached=completion.cached,
                attempt=attempt,
                latency_s=completion.latency_s,
            )
            try:
                if finish_reason == "length" and not allow_loops and is_degenerate(reply):
                    raise ReplyParseError("the reply repeated itself until it was cut off; answer once", "degenerate")
                value = parse(reply)
            except ReplyParseError as error:
                last_error = error
                trace.parse_error = str(error)
                traces.append(self._emit(trace))
                if error.kind in {"refusal"}:
                    break  # re-asking a refusal with a format hint rarely helps and costs a call
                reask = self.prompts.render("reask", {"error": str(error)})
                messages = [*messages, ChatMessage(role="assistant", content=reply or completion.text), *reask.messages]
                continue
            traces.append(self._emit(trace))
            return Asked(value, None, traces, completion)
        assert last_error is not None
        failure = ParseFailure(
            purpose=purpose,
            error=str(last_error),
            error_kind=last_error.kind,
            raw=completion.text if completion else "",
            attempts=len(traces),
        )
        return Asked(None, failure, traces, completion)

    async def score(
        self,
        prompt: RenderedPrompt,
        continuations: Sequence[str],
        *,
        purpose: str,
        item_id: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> tuple[list[float], CallTrace]:
        """Log-probabilities of continuations of the assistant reply to `history + prompt`, with its trace."""
        messages = self.conversation([*history, *prompt.messages])
        logprobs, cached = await self.model.score_with_cache_flag(messages, continuations)
        trace = CallTrace(
            model=self.model.name,
            role=self.role,
            purpose=purpose,
            item_id=item_id,
            template=prompt.template,
            template_hash=prompt.template_hash,
            messages=messages,
            scores=dict(zip(continuations, logprobs, strict=True)),
            cached=cached,
        )
        return logprobs, self._emit(trace)
