"""Which reply format (`response_format`) to ask an OpenAI-style chat API for, remembering the ones a server refused.

Shared by the `openai/` and `langchain/` providers, which send the same field.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from agent.models._types import Capabilities, GenerateConfig

log = logging.getLogger("faithcheck.models.formats")


class ReplyFormats:
    """Which reply format to ask a server for, and the ones it refused during this run.

    The most precise format the config and the capabilities allow is asked first, then the next one down:

    1. `{"type": "json_schema", "json_schema": {...}}` (OpenAI, vLLM, llama.cpp's server, SGLang);
    2. `{"type": "json_object", "schema": {...}}` (llama-cpp-python's server, which refuses the first);
    3. `{"type": "json_object"}` (JSON mode);
    4. none: free text (the prompts ask for the same format in words).

    A server that answers a format with an error naming it (HTTP 400/422 about the format, or any error that names
    `response_format`; llama-cpp-python answers 500) is remembered: one warning, and every later request of the run
    goes one format down, with no repeated failure.
    """

    KINDS = ("json_schema", "json_object_schema", "json_object")

    def __init__(self, model: str) -> None:
        self.model = model
        self.refused_kinds: set[str] = set()
        self.refused_logprobs = False
        """The server refused token logprobs (as reasoning models on api.openai.com do): not asked again."""

    def logprobs_refused(self, exc: BaseException, params: dict[str, Any]) -> bool:
        """Whether `exc` is the server refusing the `logprobs` it was sent; if so, remember it (and warn once)."""
        status = getattr(exc, "status_code", None)
        message = f"{exc} {getattr(exc, 'body', '')}".lower()
        if not params.get("logprobs") or status not in (400, 422) or "logprobs" not in message:
            return False
        if not self.refused_logprobs:
            self.refused_logprobs = True
            log.warning(
                "%s: the server refused logprobs (%s); answers are read without probabilities for the rest of the run "
                "(declare it with -O logprobs=false)",
                self.model,
                " ".join(str(exc).split())[:160],
            )
        return True

    def response_format(self, config: GenerateConfig, capabilities: Capabilities) -> dict[str, Any] | None:
        """The `response_format` field for a request, or None to send none."""
        schema = json.loads(config.reply_schema) if config.reply_schema and capabilities.structured_output else None
        if schema is not None and "json_schema" not in self.refused_kinds:
            named = {"name": config.reply_name or "reply", "schema": schema, "strict": True}
            return {"type": "json_schema", "json_schema": named}
        if schema is not None and "json_object_schema" not in self.refused_kinds:
            return {"type": "json_object", "schema": schema}
        if (
            (config.json_mode or schema is not None)
            and capabilities.json_mode
            and "json_object" not in self.refused_kinds
        ):
            return {"type": "json_object"}
        return None

    @staticmethod
    def kind(sent: Any) -> str | None:
        """Which of `KINDS` a sent `response_format` is (None for none)."""
        if not isinstance(sent, dict):
            return None
        if sent.get("type") == "json_object":
            return "json_object_schema" if "schema" in sent else "json_object"
        return "json_schema" if sent.get("type") == "json_schema" else None

    def refused(self, exc: BaseException, sent: Any) -> bool:
        """Whether `exc` is the server refusing the reply format `sent`; if so, remember it (and warn once)."""
        kind = self.kind(sent)
        if kind is None:
            return False
        status = getattr(exc, "status_code", None)
        message = f"{exc} {getattr(exc, 'body', '')}".lower()
        names_it = "response_format" in message or "json_schema" in message
        about_format = any(word in message for word in ("schema", "json_object", "format", "grammar"))
        if not (names_it or (status in (400, 422) and about_format)):
            return False
        if kind in self.refused_kinds:
            return True  # refused by a request that was already in flight: warned once already
        self.refused_kinds.add(kind)
        log.warning(
            "%s: the server refused response_format %s (%s); asking without it for the rest of the run",
            self.model,
            kind,
            " ".join(str(exc).split())[:160],
        )
        return True
