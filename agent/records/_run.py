"""Reading a run directory back: the one reader of records.jsonl, used by the audit's summary, resume and report.

One policy for a record that repeats a key: **the last one counts**. A verdict's key is (scenario, test, item id),
a call's is its id. faithcheck writes a second verdict for a pair only when the first was an `error` (a model call
failed for good, e.g. its retries ran out) and a resumed run judged the pair again, so the verdict that counts is
the retry's, in the summary, in the next resume and in the report alike. The earlier verdict stays in the file
(records are only ever appended), as do the calls behind it, which count in the run's usage.

An item is done when an `ItemDone` marks it and none of its verdicts that count is an `error`: a resume skips done
items, and judges again exactly the pairs whose verdict is missing or an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from agent.errors import ConfigurationError
from agent.records._files import RECORDS_FILE, SUMMARY_FILE, read_records
from agent.records._types import ItemDone, RunEnd, RunHeader, RunResumed, RunSummary
from agent.structured import CallTrace
from evaluators._verdict import Verdict

VerdictKey = tuple[str | None, str, str]
"""(scenario part, test, item id): what one verdict judges."""


@dataclass
class RunRecords:
    """What a run's records.jsonl says has happened, read with the policy in this module's docstring."""

    run_dir: Path
    """The directory the records belong to."""
    header: RunHeader
    """The run's first header (a resumed run does not write another)."""
    verdicts: dict[VerdictKey, Verdict] = field(default_factory=dict)
    """The verdict that counts for each pair: the last one written."""
    calls: dict[str, CallTrace] = field(default_factory=dict)
    """Call id -> the model call, in record order."""
    marked_done: set[tuple[str | None, str]] = field(default_factory=set)
    """(scenario, item id) pairs with an ItemDone marker."""
    ends: list[RunEnd] = field(default_factory=list)
    resumes: list[RunResumed] = field(default_factory=list)

    def add(self, record: BaseModel) -> None:
        """Take one more record into account."""
        if isinstance(record, Verdict):
            key = (record.scenario, record.test, record.item_id)
            self.verdicts.pop(key, None)  # the last one counts, and sits where it was written
            self.verdicts[key] = record
        elif isinstance(record, CallTrace):
            self.calls.pop(record.id, None)
            self.calls[record.id] = record
        elif isinstance(record, ItemDone):
            self.marked_done.add((record.scenario, record.item_id))
        elif isinstance(record, RunEnd):
            self.ends.append(record)
        elif isinstance(record, RunResumed):
            self.resumes.append(record)

    @property
    def errors(self) -> list[Verdict]:
        """The verdicts that count and are `error`s: what a resume judges again."""
        return [verdict for verdict in self.verdicts.values() if verdict.outcome == "error"]

    @property
    def done(self) -> set[tuple[str | None, str]]:
        """(scenario, item id) pairs that are finished: marked done, with no error among their verdicts."""
        failed = {(verdict.scenario, verdict.item_id) for verdict in self.errors}
        return self.marked_done - failed

    def judged(self, scenario: str | None) -> set[tuple[str, str]]:
        """(test, item id) pairs of a scenario part whose verdict stands (exists and is not an error)."""
        return {
            (test, item)
            for (label, test, item), verdict in self.verdicts.items()
            if label == scenario and verdict.outcome != "error"
        }

    @property
    def completed(self) -> bool:
        """Whether the last session ran to its end (it may have left error verdicts; see `errors`)."""
        return bool(self.ends) and (not self.resumes or self.resumes[-1].at <= self.ends[-1].finished)

    @property
    def total_items(self) -> int:
        """Items over every scenario part of the run."""
        return sum(len(ref.item_ids) for ref in self.header.scenarios)

    @property
    def model_name(self) -> str:
        """The model under test."""
        return str(self.header.model.get("name", ""))


def read_run(run_dir: Path) -> RunRecords:
    """Everything a run directory's records.jsonl holds, or a one-line ConfigurationError saying why it cannot be read.

    A torn last line (a killed process) is skipped; any other line that is not a faithcheck record is an error.
    """
    path = Path(run_dir) / RECORDS_FILE
    if not path.is_file():
        raise ConfigurationError(
            f"{run_dir} is not a run directory (no {RECORDS_FILE}): pass a directory written by `faithcheck audit`"
        )
    records: RunRecords | None = None
    count = 0
    try:
        for record in read_records(path):
            count += 1
            if records is not None:
                records.add(record)  # a resumed run writes no second header; add() ignores one anyway
            elif isinstance(record, RunHeader):
                records = RunRecords(Path(run_dir), record)
            else:
                break
    except (ValueError, ValidationError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if isinstance(exc, UnicodeDecodeError):
            raise ConfigurationError(f"{path} is not UTF-8 text: it is not a faithcheck records file") from None
        detail = str(exc).splitlines()[0]
        raise ConfigurationError(
            f"{path}: record {count + 1} is not a faithcheck record ({detail}); "
            "the file was edited or written by another version"
        ) from None
    if records is None:
        raise ConfigurationError(f"{path} has no run header first: it was not written by `faithcheck audit`")
    return records


def read_summary(run_dir: Path) -> RunSummary | None:
    """summary.json of a run directory, or None when there is none (the run was stopped before writing it)."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        return RunSummary.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigurationError(
            f"{path} is damaged ({first_line}): delete it to report from records.jsonl alone"
        ) from None
