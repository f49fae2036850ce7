"""Load a run directory back into typed records: the header, the calls, the verdicts and the summaries."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from agent.errors import ConfigurationError
from agent.models import UsageStats
from agent.records import ItemDone, RunEnd, RunHeader, RunResumed, RunSummary, read_records
from agent.structured import CallTrace
from evaluators._verdict import TestSummary, Verdict, summarise_outcomes

RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass
class LoadedRun:
    """Everything one run directory holds, ready to report on."""

    run_dir: Path
    header: RunHeader
    verdicts: list[Verdict]
    """One per (test, scenario, item): when a resumed run judged a pair twice, the later verdict wins."""
    calls: dict[str, CallTrace]
    """Call id -> the model call, in record order."""
    summaries: list[TestSummary]
    """From summary.json, or recomputed from the verdicts when the run left none (it was stopped early)."""
    summary: RunSummary | None
    """summary.json as written, when there is one."""
    items_done: list[ItemDone] = field(default_factory=list)
    resumes: list[RunResumed] = field(default_factory=list)
    ends: list[RunEnd] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        """Whether the run finished: summary.json says so, or (without one) its last session ended."""
        if self.summary is not None:
            return self.summary.completed
        if not self.ends:
            return False
        return not self.resumes or self.resumes[-1].at <= self.ends[-1].finished

    @property
    def usage(self) -> dict[str, UsageStats]:
        """Model name -> usage over the whole run (summary.json, else the sum of the sessions' RunEnd records)."""
        if self.summary is not None and self.summary.usage:
            return self.summary.usage
        total: dict[str, UsageStats] = {}
        for end in self.ends:
            for name, stats in end.usage.items():
                total[name] = total[name].merged(stats) if name in total else stats
        return total

    @property
    def wall_time_s(self) -> float | None:
        """Wall time over every session, when known."""
        if self.summary is not None and self.summary.wall_time_s:
            return self.summary.wall_time_s
        return sum(end.wall_time_s for end in self.ends) if self.ends else None

    @property
    def model_name(self) -> str:
        """The model under test."""
        return str(self.header.model.get("name") or (self.summary.model if self.summary else "unknown model"))


def load_run(run_dir: Path) -> LoadedRun:
    """Read a run directory written by `faithcheck audit` (records.jsonl, and summary.json when the run finished).

    Raises ConfigurationError with a one-line message when the directory is not a run or a file is damaged.
    """
    run_dir = Path(run_dir)
    records_path = run_dir / RECORDS_FILE
    if not records_path.is_file():
        raise ConfigurationError(
            f"{run_dir} is not a run directory (no {RECORDS_FILE}): pass a directory written by `faithcheck audit`"
        )
    header: RunHeader | None = None
    calls: dict[str, CallTrace] = {}
    verdicts: dict[tuple[str, str | None, str], Verdict] = {}
    items_done: list[ItemDone] = []
    resumes: list[RunResumed] = []
    ends: list[RunEnd] = []
    count = 0
    try:
        for record in read_records(records_path):
            count += 1
            if isinstance(record, RunHeader):
                header = header or record  # a resumed run keeps its first header
            elif isinstance(record, CallTrace):
                calls[record.id] = record
            elif isinstance(record, Verdict):
                verdicts.pop((record.test, record.scenario, record.item_id), None)
                verdicts[(record.test, record.scenario, record.item_id)] = record
            elif isinstance(record, ItemDone):
                items_done.append(record)
            elif isinstance(record, RunResumed):
                resumes.append(record)
            elif isinstance(record, RunEnd):
                ends.append(record)
    except (json.JSONDecodeError, ValidationError) as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigurationError(
            f"{records_path}: record {count + 1} is not a faithcheck record ({first_line}); "
            "the file was edited or written by another version"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{records_path} is not UTF-8 text: it is not a faithcheck records file") from exc
    if header is None:
        raise ConfigurationError(f"{records_path} has no run header: it was not written by `faithcheck audit`")
    judged = list(verdicts.values())
    summary = _read_summary(run_dir / SUMMARY_FILE)
    return LoadedRun(
        run_dir=run_dir,
        header=header,
        verdicts=judged,
        calls=calls,
        summaries=summary.summaries if summary else _recompute_summaries(header, judged),
        summary=summary,
        items_done=items_done,
        resumes=resumes,
        ends=ends,
    )


def _read_summary(path: Path) -> RunSummary | None:
    if not path.is_file():
        return None
    try:
        return RunSummary.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigurationError(
            f"{path} is damaged ({first_line}): delete it to report from records.jsonl alone"
        ) from exc


def _recompute_summaries(header: RunHeader, verdicts: list[Verdict]) -> list[TestSummary]:
    """Summaries of a run that stopped before writing summary.json, with each test's own figures when it is known."""
    from evaluators import test_classes

    known = test_classes()
    groups: dict[tuple[str, str, str | None], list[Verdict]] = {}
    for verdict in verdicts:
        groups.setdefault((verdict.test, verdict.model, verdict.scenario), []).append(verdict)
    order = {name: i for i, name in enumerate(header.tests)}
    summaries = []
    for (test, model, scenario), group in sorted(
        groups.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][0], kv[0][2] or "")
    ):
        instance = None
        # Parameters from another version: the counts still stand, only the test's own figures are lost.
        with contextlib.suppress(ConfigurationError):
            instance = known[test](header.test_params.get(test)) if test in known else None
        if instance is not None:
            summaries.append(instance.summarise(group, model, scenario))
        else:
            summaries.append(summarise_outcomes(test, model, group, scenario))
    return summaries
