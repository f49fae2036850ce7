"""Typed values that cross the model interface: messages in, completions out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(frozen=True)

    role: Role
    """Who speaks: system, user or assistant."""
    content: str
    """The text of the turn."""


def as_messages(prompt: str | Sequence[ChatMessage] | Sequence[dict[str, str]]) -> list[ChatMessage]:
    """Accept a bare prompt, message dicts or messages, and return messages."""
    if isinstance(prompt, str):
        return [ChatMessage(role="user", content=prompt)]
    return [m if isinstance(m, ChatMessage) else ChatMessage.model_validate(m) for m in prompt]


class GenerateConfig(BaseModel):
    """How to sample. Fields under "does not change the output" are left out of the cache key."""

    model_config = ConfigDict(frozen=True)

    temperature: float = 0.0
    """0 means greedy decoding."""
    max_tokens: int = 256
    """Upper bound on generated tokens per choice."""
    top_p: float | None = None
    """Nucleus sampling; None leaves the backend default."""
    seed: int | None = None
    """Sampling seed, sent to backends that accept one and recorded with the completion."""
    stop: tuple[str, ...] = ()
    """Stop sequences; the text is cut before the first one."""
    n: int = 1
    """Number of choices to return."""
    logprobs: bool = False
    """Ask for per-token log-probabilities of the generated text (where the backend can)."""
    top_logprobs: int | None = None
    """With logprobs, how many alternatives per position."""
    json_mode: bool = False
    """Ask the backend to constrain output to a JSON object, where it supports that."""
    reply_schema: str | None = None
    """The JSON schema (as JSON text) the reply should follow: sent as a structured-output request to backends
    that declare `structured_output`, which fall back to JSON mode, then to free text, when a server refuses it."""
    reply_name: str | None = None
    """A name for the reply schema (structured-output requests carry one)."""
    reply_grammar: str | None = None
    """A Lark grammar the reply must match, for backends that declare `grammar` (constrained decoding)."""
    reply_ending: str | None = None
    """With a grammar, a Lark grammar of what the reply must end with (e.g. its answer line): a model that would stop
    before its grammar is complete goes on, on a new line, with this."""
    sample_id: int = 0
    """Part of the cache key and nothing else: a different value asks for a fresh sample on purpose."""

    # --- does not change the output ---
    timeout: float | None = Field(default=None, exclude=True, gt=0)
    """Seconds before one attempt is abandoned and retried (None: the provider's `timeout` option)."""
    max_retries: int = Field(default=6, exclude=True)
    """Attempts after the first one on transient failures."""

    def cache_fields(self) -> dict[str, Any]:
        """The fields that can change what the backend returns (reply formats only when one is set, so that
        requests without one keep the keys they always had)."""
        fields = self.model_dump(exclude={"timeout", "max_retries"})
        for name in ("reply_schema", "reply_name", "reply_grammar", "reply_ending"):
            if fields[name] is None:
                del fields[name]
        return fields


class TokenLogprob(BaseModel):
    """The log-probability of one generated token, with the top alternatives when asked."""

    token: str
    logprob: float
    top: list[tuple[str, float]] = Field(default_factory=list)


class Usage(BaseModel):
    """Token counts as the backend reported them (0 when it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class Choice(BaseModel):
    """One generated continuation."""

    text: str
    """The generated text (after stop sequences are cut)."""
    finish_reason: str | None = None
    """Why generation ended: "stop", "length", ... as the backend says."""
    logprobs: list[TokenLogprob] | None = None
    """Per-token log-probabilities, when asked for and available."""
    reasoning: str | None = None
    """A reasoning trace the backend returned beside the answer (e.g. `reasoning_content`)."""


class Completion(BaseModel):
    """What one generate call returned."""

    model: str
    """The model that produced it, as `provider/name`."""
    choices: list[Choice]
    """One per requested sample (`n`)."""
    usage: Usage = Field(default_factory=Usage)
    """Token counts for the whole call."""
    seed: int | None = None
    """The seed that was sent, if any."""
    system_fingerprint: str | None = None
    """The backend configuration fingerprint, where the backend reports one (OpenAI)."""
    cached: bool = False
    """True when this came from the response cache and cost nothing."""
    latency_s: float = 0.0
    """Wall time of the call that produced it (the original call, for a cache hit)."""

    @property
    def text(self) -> str:
        """The first choice's text."""
        return self.choices[0].text if self.choices else ""

    @property
    def reasoning(self) -> str | None:
        """The first choice's reasoning trace, if any."""
        return self.choices[0].reasoning if self.choices else None


class Capabilities(BaseModel):
    """What a backend can do. Callers branch on these, never on model names."""

    model_config = ConfigDict(frozen=True)

    logprobs: bool = False
    """Returns per-token log-probabilities of generated text."""
    score: bool = False
    """Computes exact log-probabilities of given continuations (`Model.score`)."""
    reasoning: bool = False
    """May return a separate reasoning trace."""
    json_mode: bool = False
    """Can constrain output to JSON."""
    structured_output: bool = False
    """Can constrain output to a given JSON schema (`response_format` with `json_schema`)."""
    grammar: bool = False
    """Constrains output to a given grammar (`GenerateConfig.reply_grammar`) by constrained decoding."""
    seed: bool = False
    """Honours a sampling seed."""
    local: bool = False
    """Runs in this process (no network)."""

    def names(self) -> list[str]:
        """The names of the capabilities that are present."""
        return [name for name, present in self.model_dump().items() if present]
