"""Typed provider options: one pydantic model per provider, unknown keys rejected, every problem one line.

Options arrive as keyword arguments to `get_model` or as `-O key=value` on the CLI (values read as YAML scalars).
Each field's docstring is its documentation and the explanation an error message gives.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from agent.errors import ConfigurationError

DEFAULT_TIMEOUT_S = 180.0
"""Seconds one network attempt may take by default: long enough for a slow reasoning reply, short enough that a
stuck connection is abandoned and retried within minutes, not half an hour."""
DEFAULT_DEADLINE_S = 900.0
"""Seconds one network call may take by default over all its attempts and backoff waits."""


class ProviderOptions(BaseModel):
    """Options every provider takes."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_connections: PositiveInt | None = None
    """requests in flight at once against this endpoint, shared by every model on it (default: the provider's)"""
    retry_initial_wait: float = Field(default=1.0, ge=0)
    """seconds of the first backoff wait before a retry; later waits grow from it"""
    retry_max_wait: float = Field(default=60.0, ge=0)
    """seconds of the longest backoff wait; a server's Retry-After is honoured regardless"""


class NetworkOptions(ProviderOptions):
    """Options of providers that talk to a server: per-attempt timeout and per-call deadline."""

    timeout: float | None = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    """seconds one attempt may take before it is abandoned and retried"""
    deadline: float | None = Field(default=None, gt=0)
    """seconds one call may take over every attempt and backoff wait, then it fails (default: 900, or three
    attempts' worth of timeout when that is longer)"""

    @model_validator(mode="after")
    def _deadline_covers_an_attempt(self) -> NetworkOptions:
        if self.deadline is not None and self.timeout is not None and self.deadline < self.timeout:
            raise ValueError(
                f"deadline={self.deadline:g} is shorter than one attempt (timeout={self.timeout:g}): "
                "raise the deadline or lower the timeout"
            )
        return self

    @property
    def deadline_s(self) -> float:
        """The per-call deadline in effect."""
        if self.deadline is not None:
            return self.deadline
        return max(DEFAULT_DEADLINE_S, 3 * (self.timeout or 0.0))


def validate_options(options_type: type[ProviderOptions], owner: str, options: Mapping[str, Any]) -> Any:
    """`options` as an instance of `options_type`, or a one-line ConfigurationError naming `owner` and the fix."""
    try:
        return options_type.model_validate(dict(options))
    except ValidationError as exc:
        raise ConfigurationError(options_error(options_type, owner, exc)) from None


def options_error(options_type: type[ProviderOptions], owner: str, error: ValidationError) -> str:
    """The first problem of a failed validation, in words: which option, what it got, what it takes."""
    detail = error.errors()[0]
    fields = options_type.model_fields
    key = str(detail["loc"][0]) if detail["loc"] else ""
    if detail["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, list(fields), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{owner}: unknown option '{key}'{hint}; its options are {', '.join(fields)}"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if not key:  # a check across fields
        return f"{owner}: {message}"
    field = fields.get(key)
    what = " ".join((field.description or "").split()) if field else ""
    secret = field is not None and "SecretStr" in str(field.annotation)
    shown = "***" if secret else repr(detail.get("input"))  # a secret's checks say what is wrong without it
    if len(shown) > 60:
        shown = shown[:57] + "..."
    explained = what and detail["type"] not in ("literal_error", "enum")  # those list the values already
    return f"{owner}: option {key}={shown}: {message[:1].lower()}{message[1:]}" + (
        f" ({key}: {what})" if explained else ""
    )
