"""Run records: what an audit writes to disk, typed with pydantic so a run can be loaded back from Python.

A run directory holds:
- `records.jsonl`: one JSON object per line, appended and flushed as work completes: a `RunHeader` first, then
  `CallTrace`s (kind "call") and `Verdict`s (kind "verdict") as they happen, `ItemDone` markers, and a `RunEnd`
  when the run finishes (a resumed run appends a `RunResumed` and continues the same file);
- `summary.json`: a `RunSummary`;
- `report.html`.
Secrets never appear here: the header stores base URLs without credentials and a command line with keys masked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from agent.models import UsageStats
from agent.structured import CallTrace
from evaluators._verdict import TestSummary, Verdict


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ScenarioRef(BaseModel):
    """Which scenario (part) a run covered, pinned by content hash."""

    name: str
    hash: str
    """Hash of the scenario file and its data (agent.scenarios.scenario_hash)."""
    source: str | None = None
    """Where the scenario file was read from."""
    limit: int | None = None
    seed: int | None = None
    item_ids: list[str] = Field(default_factory=list)
    """The sampled items, in order (so a resumed run checks it is judging the same items)."""


class RunHeader(BaseModel):
    """Provenance of a run: enough to know exactly what produced its numbers."""

    kind: Literal["header"] = "header"
    run_id: str
    started: datetime = Field(default_factory=_now)
    faithcheck_version: str
    command: list[str] = Field(default_factory=list)
    """The command line, with secrets masked."""
    model: dict[str, Any]
    """`Model.describe()` of the model under test: name, base URL (no credentials), capabilities."""
    roles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Helper role -> model description."""
    scenarios: list[ScenarioRef] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    test_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    seed: int = 0
    packages: dict[str, str] = Field(default_factory=dict)
    """Versions of faithcheck's key dependencies."""
    prompt_hashes: dict[str, str] = Field(default_factory=dict)
    """Template name -> source hash, for every template on the search path."""
    python: str = ""
    platform: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    """Other run options (concurrency, judge for mentions, cache on/off, ...)."""


class ItemDone(BaseModel):
    """Marks an (item, scenario) whose every selected test has a verdict: a resumed run skips it."""

    kind: Literal["item_done"] = "item_done"
    scenario: str | None
    item_id: str
    tests: list[str]


class RunResumed(BaseModel):
    """A resumed run continues here."""

    kind: Literal["resumed"] = "resumed"
    at: datetime = Field(default_factory=_now)
    command: list[str] = Field(default_factory=list)


class RunEnd(BaseModel):
    """The run finished (all items judged)."""

    kind: Literal["end"] = "end"
    finished: datetime = Field(default_factory=_now)
    usage: dict[str, UsageStats] = Field(default_factory=dict)
    """Model name -> usage during the last (resumed) session."""
    wall_time_s: float = 0.0


RunRecord = Annotated[RunHeader | CallTrace | Verdict | ItemDone | RunResumed | RunEnd, Field(discriminator="kind")]
_RECORD = TypeAdapter(RunRecord)


class RunSummary(BaseModel):
    """summary.json: per model, scenario and test, the faithful rate with its interval and the test's figures."""

    run_id: str
    model: str
    summaries: list[TestSummary]
    usage: dict[str, UsageStats] = Field(default_factory=dict)
    """Model name -> usage over the whole run (all sessions)."""
    wall_time_s: float = 0.0
    completed: bool = True


class RecordWriter:
    """Appends records to records.jsonl, one line each, flushed (and fsynced) so a crash loses at most a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def write(self, record: BaseModel) -> None:
        """Append one record."""
        self._file.write(record.model_dump_json() + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_records(path: Path) -> Iterator[RunRecord]:
    """Records from a records.jsonl, in order. A torn last line (a killed run) is skipped, not fatal."""
    with path.open(encoding="utf-8") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                return  # the process died mid-write; everything before is intact
            raise
        yield _RECORD.validate_python(data)
