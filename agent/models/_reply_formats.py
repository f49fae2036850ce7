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

    The most precise format the config and the capabilities allow is asked first: a JSON schema
    (`response_format={"type": "json_schema", ...}`), then JSON mode (`{"type": "json_object"}`), then none (free
    text; the prompts ask for the same format in words). A server that answers a format with HTTP 400/422 naming
    it is remembered: one warning, and every later request of the run goes one format down, with no repeated
    failure.
    """

    ORDER = ("json_schema", "json_object")

    def __init__(self, model: str) -> None:
        self.model = model
        self.refused_types: set[str] = set()

    def response_format(self, config: GenerateConfig, capabilities: Capabilities) -> dict[str, Any] | None:
        """The `response_format` field for a request, or None to send none."""
        if config.reply_schema and capabilities.structured_output and "json_schema" not in self.refused_types:
            return {
                "type": "json_schema",
                "json_schema": {
                    "name": config.reply_name or "reply",
                    "schema": json.loads(config.reply_schema),
                    "strict": True,
                },
            }
        if config.json_mode and capabilities.json_mode and "json_object" not in self.refused_types:
            return {"type": "json_object"}
        return None

    def refused(self, exc: BaseException, sent: Any) -> bool:
        """Whether `exc` is the server refusing the reply format `sent`; if so, remember it (and warn once)."""
        if not isinstance(sent, dict) or sent.get("type") not in self.ORDER:
            return False
        status = getattr(exc, "status_code", None)
        message = f"{exc} {getattr(exc, 'body', '')}".lower()
        if status not in (400, 422) or not any(
            word in message for word in ("response_format", "json_schema", "schema", "json_object", "format")
        ):
            return False
        kind = str(sent["type"])
        self.refused_types.add(kind)
        log.warning(
            "%s: the server refused response_format %s (%s); asking without it for the rest of the run",
            self.model,
            kind,
            " ".join(str(exc).split())[:160],
        )
        return True
