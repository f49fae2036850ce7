"""A run directory as the report sees it: its records (read by agent.records, the one reader) and its summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.models import UsageStats
from agent.records import RunHeader, RunRecords, RunSummary, read_run, read_summary, recorded_or_recomputed
from agent.structured import CallTrace
from evaluators._verdict import TestSummary, Verdict


@dataclass
class LoadedRun:
    """Everything one run directory holds, ready to report on."""

    records: RunRecords
    summary: RunSummary
    """summary.json when it covers the records, else recomputed from them (see agent.records.recorded_or_recomputed)."""

    @property
    def run_dir(self) -> Path:
        """The run directory."""
        return self.records.run_dir

    @property
    def header(self) -> RunHeader:
        """The run's provenance."""
        return self.records.header

    @property
    def verdicts(self) -> list[Verdict]:
        """One per (scenario, test, item): the one that counts."""
        return list(self.records.verdicts.values())

    @property
    def calls(self) -> dict[str, CallTrace]:
        """Call id -> the model call, in record order."""
        return self.records.calls

    @property
    def summaries(self) -> list[TestSummary]:
        """Per scenario part and test."""
        return self.summary.summaries

    @property
    def completed(self) -> bool:
        """Whether the run finished."""
        return self.summary.completed

    @property
    def usage(self) -> dict[str, UsageStats]:
        """Model name -> usage over the whole run."""
        return self.summary.usage

    @property
    def wall_time_s(self) -> float | None:
        """Wall time over every session, when known."""
        return self.summary.wall_time_s or None

    @property
    def model_name(self) -> str:
        """The model under test."""
        return self.records.model_name or self.summary.model or "unknown model"


def load_run(run_dir: Path) -> LoadedRun:
    """Read a run directory written by `faithcheck audit`: records.jsonl, and summary.json when it is current.

    Raises ConfigurationError with a one-line message when the directory is not a run or a file is damaged.
    """
    run_dir = Path(run_dir)
    records = read_run(run_dir)
    return LoadedRun(records, recorded_or_recomputed(records, read_summary(run_dir)))
