"""One-line errors for bad scenario files: the file, the field, and what is expected there."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from agent.errors import ConfigurationError

Problem = tuple[str, str]
"""(field, what is wrong and what is expected), e.g. ("tests[1]", "expected a test name among: ...")."""


class ScenarioError(ConfigurationError):
    """A scenario file (or a Scenario built in Python) that does not validate. The message is one line."""

    def __init__(self, where: str, problems: Sequence[Problem]) -> None:
        details = "; ".join(f"field '{field}': {message}" if field else message for field, message in problems)
        super().__init__(f"{where}: {details}".replace("\n", " "))
        self.where = where
        self.problems = list(problems)


def describe_source(source: Path | None, name: str | None = None) -> str:
    """How an error names a scenario: its file, or its name when it has none."""
    if source is not None:
        return str(source)
    return f"scenario '{name}'" if name else "scenario"


def field_path(loc: Sequence[str | int], prefix: str = "") -> str:
    """("tests", 1) -> "tests[1]"; ("task", "labels") -> "task.labels"."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(error: ErrorDetails, known_fields: Sequence[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown field; expected one of: {', '.join(known_fields)}" if known_fields else "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":
        return message
    if kind == "string_type" and isinstance(error["input"], bool):
        return f"{message}; got {error['input']} (YAML reads unquoted yes/no/on/off/true/false as booleans: quote it)"
    return f"{message}; got {_shown(error['input'])}"


def problems_from(error: ValidationError, prefix: str = "", known_fields: Sequence[str] = ()) -> list[Problem]:
    """pydantic's errors as (field, message) pairs; `known_fields` lists the fields an unknown one might mean."""
    problems = []
    for detail in error.errors():
        top_level = len(detail["loc"]) == 1
        problems.append((field_path(detail["loc"], prefix), _message(detail, known_fields if top_level else ())))
    return problems
