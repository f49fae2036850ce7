"""The run directory on disk: creating one, reading one back, and reopening one to resume it.

records.jsonl is the single source of truth. A resumed run reads it (a torn last line from a killed process is
cut off before anything is appended), rebuilds which (scenario, item) pairs are done and which (test, item)
verdicts exist, checks that the header describes the same audit, appends a `RunResumed`, and continues the
same file. summary.json is always recomputed from every verdict in the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.errors import ConfigurationError
from agent.records import ItemDone, RecordWriter, RunEnd, RunHeader, RunResumed, RunSummary, read_records
from agent.run._provenance import SecretMasker
from agent.structured import CallTrace
from evaluators import Verdict

RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"


class ScrubbingWriter(RecordWriter):
    """A RecordWriter that masks secrets in every line and ignores records that arrive after it was closed.

    Late records can only come from calls still finishing while an interrupted run shuts down; their item is not
    done, so a resumed run asks again, and nothing that a verdict refers to is lost.
    """

    def __init__(self, path: Path, masker: SecretMasker) -> None:
        super().__init__(path)
        self._masker = masker
        self.closed = False

    def write(self, record: BaseModel) -> None:
        """Append one record (secrets masked), flushed and fsynced."""
        if self.closed:
            return
        self._file.write(self._masker.scrub(record.model_dump_json()) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file; later writes are dropped."""
        if not self.closed:
            self.closed = True
            super().close()


@dataclass
class RunState:
    """What records.jsonl says has happened so far."""

    header: RunHeader
    verdicts: dict[tuple[str | None, str, str], Verdict] = field(default_factory=dict)
    """(scenario, test, item id) -> the first verdict written for it."""
    done: set[tuple[str | None, str]] = field(default_factory=set)
    """(scenario, item id) pairs marked ItemDone."""
    traces: list[CallTrace] = field(default_factory=list)
    ends: list[RunEnd] = field(default_factory=list)
    resumes: list[RunResumed] = field(default_factory=list)

    def add(self, record: BaseModel) -> None:
        """Take one record into account (a repeated verdict keeps the first)."""
        if isinstance(record, Verdict):
            self.verdicts.setdefault((record.scenario, record.test, record.item_id), record)
        elif isinstance(record, ItemDone):
            self.done.add((record.scenario, record.item_id))
        elif isinstance(record, CallTrace):
            self.traces.append(record)
        elif isinstance(record, RunEnd):
            self.ends.append(record)
        elif isinstance(record, RunResumed):
            self.resumes.append(record)

    def judged(self, scenario: str | None) -> set[tuple[str, str]]:
        """(test, item id) pairs of a scenario that already have a verdict."""
        return {(test, item) for (label, test, item) in self.verdicts if label == scenario}

    @property
    def completed(self) -> bool:
        """Whether the last session ended with every item judged."""
        return bool(self.ends) and (not self.resumes or self.resumes[-1].at <= self.ends[-1].finished)


def _repair_torn_tail(path: Path) -> None:
    """Cut off a partial last line left by a killed process, so appended records start on a line of their own."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    tail = data[cut:]
    try:
        complete = isinstance(json.loads(tail), dict)
    except ValueError:
        complete = False
    if not complete:
        with path.open("r+b") as handle:
            handle.truncate(cut)
        return
    with path.open("ab") as handle:  # a complete record whose newline was lost: keep it
        handle.write(b"\n")


def read_state(run_dir: Path) -> RunState:
    """Everything records.jsonl holds, or a one-line ConfigurationError saying why it cannot be read."""
    path = run_dir / RECORDS_FILE
    if not path.is_file():
        raise ConfigurationError(f"{run_dir} is not a run directory (no {RECORDS_FILE}); pass one written by audit")
    state: RunState | None = None
    count = 0
    try:
        for record in read_records(path):
            count += 1
            if isinstance(record, RunHeader):
                state = state or RunState(header=record)  # a resumed run keeps its first header
            elif state is not None:
                state.add(record)
            else:
                break
    except (ValueError, ValidationError) as exc:
        detail = str(exc).splitlines()[0]
        raise ConfigurationError(f"{path}: record {count + 1} is not a faithcheck run record ({detail})") from None
    if state is None:
        raise ConfigurationError(f"{path} does not start with a run header; it was not written by faithcheck audit")
    return state


class RunDirectory:
    """A run directory being written: records.jsonl (appended), summary.json, report.html."""

    def __init__(self, path: Path, writer: ScrubbingWriter, state: RunState, *, was_complete: bool = False) -> None:
        self.path = path
        self.writer = writer
        self.state = state
        self.was_complete = was_complete
        """A reopened run that had already finished (nothing left to do)."""

    @property
    def records_path(self) -> Path:
        """records.jsonl."""
        return self.path / RECORDS_FILE

    @property
    def summary_path(self) -> Path:
        """summary.json."""
        return self.path / SUMMARY_FILE

    @property
    def report_path(self) -> Path:
        """report.html."""
        return self.path / REPORT_FILE

    @classmethod
    def create(cls, path: Path, header: RunHeader, masker: SecretMasker) -> RunDirectory:
        """A new run directory with its header written. Refuses a directory that already holds a run."""
        if (path / RECORDS_FILE).exists():
            raise ConfigurationError(
                f"{path} already holds a run: continue it with --resume {path}, or choose another --out"
            )
        if path.exists() and not path.is_dir():
            raise ConfigurationError(f"--out {path} is a file; give a directory for the run")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the run directory {path}: {exc.strerror}") from None
        writer = ScrubbingWriter(path / RECORDS_FILE, masker)
        writer.write(header)
        return cls(path, writer, RunState(header=header))

    @classmethod
    def reopen(
        cls,
        path: Path,
        check: Callable[[RunHeader], None],
        masker: SecretMasker,
        command: list[str],
    ) -> RunDirectory:
        """Reopen a run to continue it: repair a torn tail, read its state, `check` its header, append RunResumed."""
        records = path / RECORDS_FILE
        if not records.is_file():
            raise ConfigurationError(f"cannot resume {path}: it is not a run directory (no {RECORDS_FILE})")
        _repair_torn_tail(records)
        state = read_state(path)
        check(state.header)
        was_complete = state.completed
        writer = ScrubbingWriter(records, masker)
        resumed = RunResumed(command=command)
        writer.write(resumed)
        state.add(resumed)
        return cls(path, writer, state, was_complete=was_complete)

    def write(self, record: BaseModel) -> None:
        """Append a record and take it into the state."""
        self.writer.write(record)
        self.state.add(record)

    def write_summary(self, summary: RunSummary) -> None:
        """Replace summary.json atomically (a reader never sees half a file)."""
        staging = self.summary_path.with_suffix(".json.tmp")
        staging.write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
        staging.replace(self.summary_path)

    def close(self) -> None:
        """Stop writing records."""
        self.writer.close()


def header_mismatch(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """The first key whose value differs between two flat descriptions, as 'key (run: a, now: b)', or None."""
    for key in sorted(set(recorded) | set(current)):
        if recorded.get(key) != current.get(key):
            return f"{key} (run: {_short(recorded.get(key))}, now: {_short(current.get(key))})"
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
