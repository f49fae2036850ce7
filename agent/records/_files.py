"""The files of a run directory, and records.jsonl line by line: appending records, reading them back in order."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, TypeAdapter

from agent.records._types import RunRecord

RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"

_RECORD: TypeAdapter[RunRecord] = TypeAdapter(RunRecord)


class RecordWriter:
    """Appends records to records.jsonl, one line each, flushed and fsynced so that a crash loses at most a line.

    `scrub` rewrites each line before it is written (the audit masks secrets with it). Opening a file that a killed
    process left with a partial last line cuts that line off first, so appended records start on a line of their
    own. Records that arrive after `close` are dropped: they can only come from calls still finishing while an
    interrupted run shuts down, whose items are not done, so a resumed run asks again and nothing is lost.
    """

    def __init__(self, path: Path, scrub: Callable[[str], str] | None = None) -> None:
        self.path = path
        self._scrub = scrub
        if path.exists():
            _repair_torn_tail(path)
        self._file = path.open("a", encoding="utf-8")
        self.closed = False

    def write(self, record: BaseModel) -> None:
        """Append one record."""
        if self.closed:
            return
        line = record.model_dump_json()
        self._file.write((self._scrub(line) if self._scrub else line) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file; later writes are dropped."""
        if not self.closed:
            self.closed = True
            self._file.close()


def _repair_torn_tail(path: Path) -> None:
    """Cut off a partial last line left by a killed process; a complete record that only lost its newline stays."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    try:
        complete = isinstance(json.loads(data[cut:]), dict)
    except ValueError:
        complete = False
    if complete:
        with path.open("ab") as handle:
            handle.write(b"\n")
    else:
        with path.open("r+b") as handle:
            handle.truncate(cut)


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
