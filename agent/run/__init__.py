"""Audits: run faithfulness tests over a scenario for a model, into a run directory that can be resumed.

    from agent import get_model
    from agent.run import AuditModels, AuditSettings, parse_gates, prepare_audit, run_audit_sync

    result = run_audit_sync(get_model("smollm2"), AuditSettings(scenario="demo"), gates=parse_gates(["0.6"]))
    result.gate_failures, result.errors            # failed gates; (item, test) pairs that ended in error

    audit = prepare_audit(AuditModels(), resume=result.run_dir)   # everything as recorded
    audit.run_sync()                                               # judges again what ended in error

`faithcheck audit` is `prepare_audit(...)` then `.run()` or `.dry_run()` (which counts what an audit would send
without sending anything). A run directory holds records.jsonl, summary.json and report.html (see agent.records).
"""

from agent.run._audit import (
    DEFAULT_RUNS_DIR,
    Audit,
    AuditResult,
    dry_run,
    dry_run_sync,
    prepare_audit,
    render_run_report,
    run_audit,
    run_audit_sync,
)
from agent.run._directory import RunDirectory
from agent.run._dry import DryAPI, DryAsker, DryCounts, DryStats, canonical_reply, estimate_tokens
from agent.run._estimate import DryRunEstimate
from agent.run._gates import Gate, check_gate_tests, gate_failures, parse_gates
from agent.run._judge import AuditStopped, build_explainers
from agent.run._models import AuditModels, build_model
from agent.run._plan import DEFAULT_CONCURRENCY, AuditPlan, AuditSettings, PlannedPart, plan_audit
from agent.run._progress import AuditObserver, RichProgress, SilentObserver
from agent.run._provenance import SecretMasker, is_secret_name, new_run_id, package_versions, prompt_hashes

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RUNS_DIR",
    "Audit",
    "AuditModels",
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
    "SecretMasker",
    "SilentObserver",
    "build_explainers",
    "build_model",
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
    "prepare_audit",
    "prompt_hashes",
    "render_run_report",
    "run_audit",
    "run_audit_sync",
]
