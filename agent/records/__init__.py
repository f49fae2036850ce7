"""Run directories: what an audit writes, typed with pydantic, and the one way to read it back.

A run directory holds:
- `records.jsonl`: one JSON object per line, appended and flushed as work completes: a `RunHeader` first, then
  `CallTrace`s (kind "call") and `Verdict`s (kind "verdict") as they happen, an `ItemDone` once every test of an
  item has a verdict other than `error`, and a `RunEnd` when a session finishes (a resumed run appends a
  `RunResumed` and continues the same file);
- `summary.json`: a `RunSummary`, computed from the records by `summarise_run`;
- `report.html`.

`read_run(run_dir)` is the only reader of records.jsonl: the audit's summary, `--resume` and the report all use it,
with one policy for a repeated record (the last one counts; see `agent.records._run`). Secrets never appear here:
the header stores base URLs without credentials and a command line with keys masked.

    from agent.records import read_run
    records = read_run(Path("runs/2024-05-01-smollm2"))
    print(len(records.verdicts), [v.item_id for v in records.errors])
"""

from agent.records._files import RECORDS_FILE, REPORT_FILE, SUMMARY_FILE, RecordWriter, read_records
from agent.records._run import RunRecords, VerdictKey, read_run, read_summary
from agent.records._summary import (
    recorded_or_recomputed,
    run_usage,
    summarise_run,
    summarise_verdicts,
    usage_from_traces,
)
from agent.records._types import ItemDone, RunEnd, RunHeader, RunRecord, RunResumed, RunSummary, ScenarioRef

__all__ = [
    "RECORDS_FILE",
    "REPORT_FILE",
    "SUMMARY_FILE",
    "ItemDone",
    "RecordWriter",
    "RunEnd",
    "RunHeader",
    "RunRecord",
    "RunRecords",
    "RunResumed",
    "RunSummary",
    "ScenarioRef",
    "VerdictKey",
    "read_records",
    "read_run",
    "read_summary",
    "recorded_or_recomputed",
    "run_usage",
    "summarise_run",
    "summarise_verdicts",
    "usage_from_traces",
]
