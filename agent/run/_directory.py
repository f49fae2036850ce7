"""The run directory being written: creating one, or reopening one to resume it.

records.jsonl is the single source of truth. A resumed run reads it with `agent.records.read_run` (the reader the
summary and the report use too), checks that the header describes the same audit, appends a `RunResumed`, and
continues the same file. summary.json is always recomputed from the records.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from agent.errors import ConfigurationError
from agent.records import (
    RECORDS_FILE,
    REPORT_FILE,
    SUMMARY_FILE,
    RecordWriter,
    RunHeader,
    RunRecords,
    RunResumed,
    RunSummary,
)
from agent.run._provenance import SecretMasker


class RunDirectory:
    """A run directory being written: records.jsonl (appended, secrets masked), summary.json, report.html."""

    def __init__(self, path: Path, writer: RecordWriter, records: RunRecords, *, had_ended: bool = False) -> None:
        self.path = path
        self.writer = writer
        self.records = records
        """What the file holds so far, kept up to date by `write`."""
        self.had_ended = had_ended
        """A reopened run whose last session had run to its end."""

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
        writer = RecordWriter(path / RECORDS_FILE, scrub=masker.scrub)
        writer.write(header)
        return cls(path, writer, RunRecords(path, header))

    @classmethod
    def reopen(cls, records: RunRecords, masker: SecretMasker, command: list[str]) -> RunDirectory:
        """Reopen a run read with `agent.records.read_run` to continue it: append RunResumed (a torn tail is cut)."""
        path = records.run_dir
        writer = RecordWriter(path / RECORDS_FILE, scrub=masker.scrub)
        directory = cls(path, writer, records, had_ended=records.completed)
        directory.write(RunResumed(command=command))
        return directory

    def write(self, record: BaseModel) -> None:
        """Append a record and take it into the records (nothing, once closed)."""
        if self.writer.closed:
            return
        self.writer.write(record)
        self.records.add(record)

    def write_summary(self, summary: RunSummary) -> None:
        """Replace summary.json atomically (a reader never sees half a file)."""
        staging = self.summary_path.with_suffix(".json.tmp")
        staging.write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
        staging.replace(self.summary_path)

    def close(self) -> None:
        """Stop writing records."""
        self.writer.close()
