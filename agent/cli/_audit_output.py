"""What `faithcheck audit` prints: the summary table, usage, notes, the dry-run estimate, and interruptions."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import NoReturn

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.errors import ConfigurationError
from agent.models import UsageStats
from agent.records import RECORDS_FILE, read_run
from agent.run import AuditResult, DryRunEstimate
from agent.visible_text import SafeConsole
from evaluators import TestSummary

EXIT_GATE_FAILED = 1
EXIT_ERROR_VERDICTS = 3
EXIT_INTERRUPTED = 130


def audit_console(stderr: bool) -> Console:
    """A console; wide enough for the summary table when writing to a file or a CI log."""
    console = SafeConsole(stderr=stderr)
    return console if console.is_terminal else SafeConsole(stderr=stderr, width=max(console.width, 120))


def _rate(summary: TestSummary) -> str:
    if summary.faithful_rate is None:
        return "–"
    return f"{summary.faithful_rate:.2f}"


def _headline(summary: TestSummary) -> str:
    """The figure the test's verdict rests on: its excess over its control, or its faithful rate."""
    if summary.cannot_decide:
        return "cannot decide"
    value = summary.headline.value if summary.headline is not None else None
    name = "excess" if summary.headline_name == "excess" else "rate"
    return "–" if value is None else f"{name} {value:+.2f}" if name == "excess" else f"{name} {value:.2f}"


def _interval(summary: TestSummary) -> str:
    headline = summary.headline
    if summary.cannot_decide or headline is None or headline.low is None or headline.high is None:
        return "–"
    return f"[{headline.low:.2f}, {headline.high:.2f}]"


def print_summary_table(summaries: list[TestSummary], console: Console, title: str) -> None:
    """The per-test results as a table: the headline and its interval first, then the counts and the raw rate."""
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("scenario", no_wrap=True)
    table.add_column("test", no_wrap=True)
    table.add_column("headline", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    for heading in ("items", "faithful", "unfaithful", "n/a", "unreadable", "errors", "rate"):
        table.add_column(heading, justify="right")
    for s in summaries:
        table.add_row(
            s.scenario or "",
            s.test,
            _headline(s),
            _interval(s),
            str(s.n_items),
            str(s.n_faithful),
            str(s.n_unfaithful),
            str(s.n_not_applicable),
            str(s.n_parse_failure),
            str(s.n_error),
            _rate(s),
        )
    console.print(table)
    for s in summaries:
        if s.cannot_decide:
            console.print(
                f"[yellow]{s.test}{' on ' + s.scenario if s.scenario else ''}: cannot decide on this "
                f"model: {escape(s.cannot_decide)}[/yellow]"
            )
    if any(s.headline_name == "excess" for s in summaries):
        console.print("[dim]excess: the test's rate minus that of its matched control, paired over items[/dim]")


def _usage_line(usage: dict[str, UsageStats]) -> str:
    parts = [
        f"{name}: {u.calls_sent} calls sent, {u.cache_hits + u.shared_in_flight} cache hits, "
        f"{u.prompt_tokens:,}+{u.completion_tokens:,} tokens" + (f", {u.errors} errors" if u.errors else "")
        for name, u in usage.items()
    ]
    return "; ".join(parts) or "no model calls"


def print_outcome(result: AuditResult, as_json: bool, *, out: Console, err: Console) -> int:
    """Print a finished audit (the table, or the summary as JSON) and its notes; the exit status it calls for."""
    if result.plan.unavailable:
        err.print(f"[yellow]skipped tests not available here: {', '.join(result.plan.unavailable)}[/yellow]")
    if result.already_complete:
        err.print(f"{result.run_dir} was already complete; summary and report rewritten")
    summary = result.summary
    if as_json:
        click.echo(summary.model_dump_json(indent=2))
    else:
        title = f"{summary.model} · {result.plan.scenario.name} · run {summary.run_id}"
        print_summary_table(summary.summaries, out, title)
        out.print(f"usage: {_usage_line(summary.usage)}  ·  {summary.wall_time_s:.1f} s")
        out.print(f"run directory: {result.run_dir}")
        if result.report is not None:
            out.print(f"report: {result.report}")
    if result.report is None and result.report_note:
        err.print(f"[yellow]{result.report_note}[/yellow]")
    for line in result.gate_failures:
        err.print(f"[red]fail-under:[/red] {line}")
    if result.errors:
        err.print(
            f"[red]{result.errors} (item, test) pair(s) ended in error[/red] (a model call failed for good); "
            "the rates leave them out."
        )
        err.print(f"judge them again with: faithcheck audit --resume {result.run_dir}")
        return EXIT_ERROR_VERDICTS
    return EXIT_GATE_FAILED if result.gate_failures else 0


def print_estimate(estimate: DryRunEstimate, as_json: bool) -> None:
    """The dry-run estimate, in words or as JSON."""
    if not as_json:
        for line in estimate.lines():
            click.echo(line)
        return
    data = {
        "scenario": estimate.plan.scenario.name,
        "items": estimate.plan.total_items,
        "pairs": estimate.plan.total_pairs,
        "tests": estimate.plan.tests,
        "calls": estimate.calls,
        "prompt_tokens": estimate.prompt_tokens,
        "max_completion_tokens": estimate.max_completion_tokens,
        "reask_bound": estimate.reask_bound,
        "models": {
            name: {
                "calls": c.calls,
                "generate_calls": c.generate_calls,
                "score_calls": c.score_calls,
                "prompt_tokens": c.prompt_tokens,
                "max_completion_tokens": c.max_completion_tokens,
            }
            for name, c in estimate.models.items()
        },
        "assumption": "clean cache; every reply parses the first time",
    }
    click.echo(json.dumps(data, indent=2))


def report_interrupt(run_dir: Path, err: Console) -> None:
    """Say what an interrupted audit kept and how to go on."""
    if not (run_dir / RECORDS_FILE).is_file():
        err.print("interrupted before the run started; nothing was written")
        return
    try:
        records = read_run(run_dir)
        done = f"{len(records.done)} of {records.total_items} items done; "
    except ConfigurationError:
        done = ""
    err.print(f"interrupted: {done}records are saved in {run_dir}")
    err.print(f"resume with: faithcheck audit --resume {run_dir}")


def exit_interrupted() -> NoReturn:
    """Exit with status 130. A local model's worker thread may still be inside torch (its batch is not waited for):
    finalising the interpreter around it aborts the process, so exit at once; every record is already on disk."""
    if threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_INTERRUPTED)
