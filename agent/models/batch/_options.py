"""The `-O batch*` options of `openai/` models, checked once so that a typo fails before anything is sent."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import ConfigurationError

PLACEHOLDERS = ("{input}", "{output}", "{model}")
"""What a command template may contain; {input} and {output} are required."""

OPENAI_MAX_REQUESTS = 50_000
"""The most requests the OpenAI Batch API accepts in one batch (its input file is also limited to 200 MB)."""


class BatchOptions(BaseModel):
    """How an `openai/` model batches its requests. Each field is an `-O` option named in its docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = None
    """`batch_command`: a command template run once per round instead of the Batch API, e.g.
    `python -m vllm.entrypoints.openai.run_batch -i {input} -o {output} --model M`. None: the Batch API."""
    window_s: float = Field(default=2.0, ge=0.0)
    """`batch_window`: a round closes once no new request has arrived for this many seconds."""
    max_requests: int = Field(default=OPENAI_MAX_REQUESTS, ge=1)
    """`batch_max_requests`: a round closes as soon as it holds this many requests."""
    poll_interval_s: float = Field(default=30.0, gt=0.0)
    """`batch_poll_interval`: seconds between two status checks of a submitted batch (Batch API only)."""
    completion_window: str = "24h"
    """`batch_completion_window`: sent with each batch (the OpenAI API accepts only "24h")."""

    def command_argv(self) -> list[str]:
        """The command template split into arguments (placeholders are replaced per argument, never re-split)."""
        return shlex.split(self.command or "")


_OPTION_FIELDS = {
    "batch_command": "command",
    "batch_window": "window_s",
    "batch_max_requests": "max_requests",
    "batch_poll_interval": "poll_interval_s",
    "batch_completion_window": "completion_window",
}


def batch_options(options: Mapping[str, Any]) -> BatchOptions | None:
    """The batch options among a provider's options, or None when batch mode is off.

    Batch mode is on with `batch=true` (the Batch API of the model's endpoint) or with `batch_command=...`
    (a command per round). Every problem is one ConfigurationError line that says what to fix.
    """
    given = {name: value for name, value in options.items() if name.startswith("batch")}
    unknown = sorted(set(given) - set(_OPTION_FIELDS) - {"batch"})
    if unknown:
        known = ", ".join(["batch", *_OPTION_FIELDS])
        raise ConfigurationError(f"unknown option -O {unknown[0]}=...: the batch options are {known}")
    switch = given.get("batch", False)
    if not isinstance(switch, bool):
        raise ConfigurationError(f"-O batch= takes true or false, got {switch!r}")
    if not switch and given.get("batch_command") in (None, ""):
        extra = sorted(set(given) - {"batch", "batch_command"})
        if extra:
            raise ConfigurationError(
                f"-O {extra[0]}= only applies in batch mode: add -O batch=true (the Batch API) "
                "or -O batch_command='...' (a command per round)"
            )
        return None
    command = given.get("batch_command")
    if command is not None and not isinstance(command, str):
        raise ConfigurationError(
            f"-O batch_command= takes a command line, got {type(command).__name__} {command!r}: "
            "quote the whole value, e.g. -O 'batch_command=\"my-runner -i {input} -o {output}\"'"
        )
    values = {_OPTION_FIELDS[name]: value for name, value in given.items() if name in _OPTION_FIELDS}
    try:
        parsed = BatchOptions(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = next(name for name, field in _OPTION_FIELDS.items() if field == error["loc"][0])
        raise ConfigurationError(f"-O {option}={given.get(option)!r}: {error['msg']}") from None
    if parsed.command is not None:
        _check_command(parsed)
    return parsed


def _check_command(options: BatchOptions) -> None:
    try:
        argv = options.command_argv()
    except ValueError as exc:
        raise ConfigurationError(f"-O batch_command= cannot be split into arguments ({exc}): check quotes") from None
    if not argv:
        raise ConfigurationError("-O batch_command= is empty: give a command with {input} and {output}")
    text = " ".join(argv)
    missing = [p for p in ("{input}", "{output}") if p not in text]
    if missing:
        raise ConfigurationError(
            f"-O batch_command= must contain {' and '.join(missing)}: faithcheck writes each round to {{input}} "
            "and reads the answers from {output}"
        )
    program = argv[0]
    if shutil.which(program) is None and not Path(program).is_file():
        raise ConfigurationError(f"-O batch_command=: '{program}' is not a program on PATH; check the command")
