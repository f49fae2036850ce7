"""Audits: run faithfulness tests over a scenario for a model, into a run directory that can be resumed.

    from agent import get_model
    from agent.run import AuditSettings, run_audit_sync
    result = run_audit_sync(get_model("smollm2"), AuditSettings(scenario="demo"))

A run directory holds records.jsonl (header, model calls, verdicts, item markers; see agent.records),
summary.json and report.html. `dry_run` counts what an audit would send without sending anything.
"""

from agent.run._audit import (
    DEFAULT_RUNS_DIR,
    AuditResult,
    AuditStopped,
    DryRunEstimate,
    build_explainers,
    dry_run,
    dry_run_sync,
    recorded_settings,
    render_run_report,
    run_audit,
    run_audit_sync,
)
from agent.run._directory import RECORDS_FILE, REPORT_FILE, SUMMARY_FILE, RunDirectory, RunState, read_state
from agent.run._dry import DryAPI, DryAsker, DryCounts, DryStats, canonical_reply, estimate_tokens
from agent.run._gates import Gate, check_gate_tests, gate_failures, parse_gates
from agent.run._plan import DEFAULT_CONCURRENCY, AuditPlan, AuditSettings, PlannedPart, plan_audit
from agent.run._progress import AuditObserver, RichProgress, SilentObserver
from agent.run._provenance import SecretMasker, is_secret_name, new_run_id, package_versions, prompt_hashes
from agent.run._summary import run_usage, summarise_run, test_summaries, usage_from_traces

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RUNS_DIR",
    "RECORDS_FILE",
    "REPORT_FILE",
    "SUMMARY_FILE",
    "AuditObserver",
    "AuditPlan",
    "AuditResult",
    "AuditSettings",
    "AuditStopped",
    "DryAPI",
    "DryAsker",
    "DryCounts",
    "DryRunEstimate",
    "DryStats",
    "Gate",
    "PlannedPart",
    "RichProgress",
    "RunDirectory",
    "RunState",
    "SecretMasker",
    "SilentObserver",
    "build_explainers",
    "canonical_reply",
    "check_gate_tests",
    "dry_run",
    "dry_run_sync",
    "estimate_tokens",
    "gate_failures",
    "is_secret_name",
    "new_run_id",
    "package_versions",
    "parse_gates",
    "plan_audit",
    "prompt_hashes",
    "read_state",
    "recorded_settings",
    "render_run_report",
    "run_audit",
    "run_audit_sync",
    "run_usage",
    "summarise_run",
    "test_summaries",
    "usage_from_traces",
]
