"""The typed records of a run directory: the lines of records.jsonl and summary.json (see agent.records)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

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
    """Marks an (item, scenario) whose every selected test has a verdict other than `error`: a resume skips it."""

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
    """A session finished: every item it had to judge has a verdict for every test (some may be errors)."""

    kind: Literal["end"] = "end"
    finished: datetime = Field(default_factory=_now)
    usage: dict[str, UsageStats] = Field(default_factory=dict)
    """Model name -> usage during the last (resumed) session."""
    wall_time_s: float = 0.0


RunRecord = Annotated[RunHeader | CallTrace | Verdict | ItemDone | RunResumed | RunEnd, Field(discriminator="kind")]
"""Any line of records.jsonl, told apart by its `kind`."""


class RunSummary(BaseModel):
    """summary.json: per model, scenario and test, the faithful rate with its interval and the test's figures."""

    run_id: str
    model: str
    summaries: list[TestSummary]
    usage: dict[str, UsageStats] = Field(default_factory=dict)
    """Model name -> usage over the whole run (all sessions)."""
    wall_time_s: float = 0.0
    completed: bool = True
