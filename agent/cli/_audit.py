"""`faithcheck audit`: run a scenario's faithfulness tests on a model into a run directory, or count them (--dry-run).

Exit status: 0 when the run completed (whatever the rates), 1 when a `--fail-under` gate failed, 2 for bad input
or configuration, 130 when interrupted (records are kept; the message says how to resume).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml
from rich import box
from rich.console import Console
from rich.table import Table

from agent._sync import run_sync
from agent.cli._app import build_cache, build_model, main, model_options, parse_key_values, prompts_dir_option
from agent.errors import ConfigurationError
from agent.models import Model, UsageStats
from agent.paradigms import paradigm_names
from agent.run import (
    DEFAULT_RUNS_DIR,
    RECORDS_FILE,
    AuditResult,
    AuditSettings,
    AuditStopped,
    DryRunEstimate,
    RichProgress,
    SecretMasker,
    check_gate_tests,
    dry_run,
    gate_failures,
    new_run_id,
    parse_gates,
    plan_audit,
    read_state,
    recorded_settings,
    run_audit,
)
from agent.visible_text import SafeConsole
from evaluators import ROLES, TestSummary

_ROLE_HELP = {
    role: f"Model that {does} (default: the audited model)."
    for role, does in {
        "editor": "edits inputs or rationales: reconstructions, mistakes, paraphrases",
        "judge": "judges, e.g. whether an explanation mentions a word (with --judge-mentions)",
        "generator": "writes related counterfactual questions (simulatability)",
        "simulator": "predicts the audited model's answers from its explanation (simulatability)",
    }.items()
}


def parse_budgets(pairs: tuple[str, ...]) -> dict[str, int]:
    """`("cot=160",)` -> {"cot": 160}, checked against the paradigms that exist."""
    budgets: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in paradigm_names() or not value.isdigit() or int(value) < 1:
            raise ConfigurationError(
                f"--max-tokens expects PARADIGM=N with N a positive whole number and PARADIGM one of "
                f"{', '.join(paradigm_names())}; got '{pair}'"
            )
        budgets[name] = int(value)
    return budgets


def parse_test_params(pairs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`("counterfactual.k=5",)` -> {"counterfactual": {"k": 5}} (values parsed as YAML scalars)."""
    params: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        test, dot, name = key.strip().partition(".")
        if not sep or not dot or not test or not name:
            raise ConfigurationError(f"--test-param expects TEST.KEY=VALUE, got '{pair}'")
        try:
            parsed = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            parsed = value
        params.setdefault(test, {})[name] = parsed
    return params


def _split_tests(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise ConfigurationError("--tests expects comma-separated test names, e.g. --tests counterfactual,redaction")
    return names


def _command_line(ctx: click.Context) -> list[str]:
    """The command as parsed (flags given or taken from the environment), for the run header; masked later."""
    argv = ["faithcheck", "audit"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if value is None or value is False or value == ():
            continue
        flag = next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
        if value is True:
            argv.append(flag)
        elif isinstance(value, tuple):
            for entry in value:
                argv += [flag, str(entry)]
        else:
            argv += [flag, str(value)]
    return argv


def _rate(summary: TestSummary) -> str:
    if summary.faithful_rate is None:
        return "–"
    return f"{summary.faithful_rate:.2f}"


def _interval(summary: TestSummary) -> str:
    if summary.ci_low is None or summary.ci_high is None:
        return "–"
    return f"[{summary.ci_low:.2f}, {summary.ci_high:.2f}]"


def print_summary_table(summaries: list[TestSummary], console: Console, title: str) -> None:
    """The per-test results as a table."""
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("scenario", no_wrap=True)
    table.add_column("test", no_wrap=True)
    for heading in ("items", "faithful", "unfaithful", "n/a", "unreadable", "errors", "rate"):
        table.add_column(heading, justify="right")
    table.add_column("95% CI", justify="right", no_wrap=True)
    for s in summaries:
        table.add_row(
            s.scenario or "",
            s.test,
            str(s.n_items),
            str(s.n_faithful),
            str(s.n_unfaithful),
            str(s.n_not_applicable),
            str(s.n_parse_failure),
            str(s.n_error),
            _rate(s),
            _interval(s),
        )
    console.print(table)


def _usage_line(usage: dict[str, UsageStats]) -> str:
    parts = [
        f"{name}: {u.calls_sent} calls sent, {u.cache_hits + u.shared_in_flight} cache hits, "
        f"{u.prompt_tokens:,}+{u.completion_tokens:,} tokens" + (f", {u.errors} errors" if u.errors else "")
        for name, u in usage.items()
    ]
    return "; ".join(parts) or "no model calls"


def _print_result(result: AuditResult, console: Console, err: Console) -> None:
    summary = result.summary
    title = f"{summary.model} · {result.plan.scenario.name} · run {summary.run_id}"
    print_summary_table(summary.summaries, console, title)
    console.print(f"usage: {_usage_line(summary.usage)}  ·  {summary.wall_time_s:.1f} s")
    console.print(f"run directory: {result.run_dir}")
    if result.report is not None:
        console.print(f"report: {result.report}")
    elif result.report_note:
        err.print(f"[yellow]{result.report_note}[/yellow]")


def _print_estimate(estimate: DryRunEstimate, as_json: bool) -> None:
    if as_json:
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
        return
    for line in estimate.lines():
        click.echo(line)


@main.command("audit")
@click.option("-m", "--model", "model_name", envvar="FAITHCHECK_MODEL", default=None, help="provider/model to audit.")
@click.option("-s", "--scenario", default=None, help="Scenario name (see `faithcheck scenarios`) or a .yaml path.")
@click.option("--tests", "tests", default=None, metavar="A,B,...", help="Only these tests (default: the scenario's).")
@click.option("--limit", type=int, default=None, help="At most N items per scenario part.")
@click.option("--seed", type=int, default=None, help="Sampling and test seed (default: the scenario's seed).")
@click.option("--concurrency", type=int, default=None, help="Items judged at once [default: 8].")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The run directory to write [default: ./runs/<run id>].",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Continue an interrupted run in this directory (other options default to the run's).",
)
@click.option(
    "--dry-run", "count_only", is_flag=True, help="Count the model calls and tokens the audit would take; send none."
)
@click.option("--editor", default=None, metavar="MODEL", help=_ROLE_HELP["editor"])
@click.option("--judge", default=None, metavar="MODEL", help=_ROLE_HELP["judge"])
@click.option("--generator", default=None, metavar="MODEL", help=_ROLE_HELP["generator"])
@click.option("--simulator", default=None, metavar="MODEL", help=_ROLE_HELP["simulator"])
@click.option("--judge-mentions", is_flag=True, help="Check mentions with the judge model instead of lexically.")
@click.option(
    "--test-param", "test_param", multiple=True, metavar="TEST.KEY=VALUE", help="A test parameter (repeatable)."
)
@click.option(
    "--max-tokens",
    "max_tokens",
    multiple=True,
    metavar="PARADIGM=N",
    help="Generation budget of a paradigm, e.g. cot=160 (repeatable; default: faithcheck's per-paradigm budgets).",
)
@prompts_dir_option
@click.option(
    "--fail-under",
    "fail_under",
    multiple=True,
    metavar="[TEST=]RATE",
    help="Exit 1 when a test's faithful rate is below RATE (repeatable; without TEST, every test).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary (or the dry-run estimate) as JSON.")
@model_options
def audit_command(
    model_name: str | None,
    scenario: str | None,
    tests: str | None,
    limit: int | None,
    seed: int | None,
    concurrency: int | None,
    out: Path | None,
    resume_dir: Path | None,
    count_only: bool,
    editor: str | None,
    judge: str | None,
    generator: str | None,
    simulator: str | None,
    judge_mentions: bool,
    test_param: tuple[str, ...],
    max_tokens: tuple[str, ...],
    prompts_dir: Path | None,
    fail_under: tuple[str, ...],
    as_json: bool,
    base_url: str | None,
    api_key: str | None,
    model_option: tuple[str, ...],
    cache_dir: Path | None,
    no_cache: bool,
) -> None:
    """Run every faithfulness test of a scenario on a model and write a run directory with a report.

    The run directory holds records.jsonl (every model call and verdict, appended as they happen), summary.json
    and report.html. Helper-role models (--editor, --judge, ...) get --base-url and --api-key but not -O options.
    Exit status: 0 completed, 1 a --fail-under gate failed, 2 bad input, 130 interrupted (resume with --resume).
    """
    command = _command_line(click.get_current_context())
    masker = SecretMasker([api_key])
    role_names: dict[str, str] = {
        role: name
        for role, name in zip(ROLES, (editor, judge, generator, simulator), strict=True)
        if name  # only the roles given another model
    }
    settings_given = AuditSettings(
        scenario=scenario or "",
        tests=_split_tests(tests),
        limit=limit,
        seed=seed,
        test_params=parse_test_params(test_param),
        use_judge_for_mentions=judge_mentions,
        prompts_dir=prompts_dir,
        max_tokens=parse_budgets(max_tokens),
    )
    model_options_recorded: dict[str, Any] = {}
    if resume_dir is not None:
        if count_only:
            raise ConfigurationError("--dry-run counts a new audit; it cannot be combined with --resume")
        if out is not None and out.resolve() != resume_dir.resolve():
            raise ConfigurationError("--resume writes to the run's own directory; leave out --out")
        header, recorded = recorded_settings(resume_dir)
        model_name = model_name or str(header.options.get("model_name") or header.model.get("name") or "")
        for role, name in dict(header.options.get("role_models") or {}).items():
            role_names.setdefault(role, str(name))
        model_options_recorded = dict(header.options.get("model_options") or {})
        recorded_url = header.model.get("base_url")
        if base_url is None and isinstance(recorded_url, str):
            base_url = recorded_url  # as recorded (credentials in a URL are never stored: pass it again then)
        settings = AuditSettings(
            scenario=scenario or recorded.scenario,
            tests=settings_given.tests if settings_given.tests is not None else recorded.tests,
            limit=limit if limit is not None else recorded.limit,
            seed=seed if seed is not None else recorded.seed,
            concurrency=concurrency or recorded.concurrency,
            test_params=settings_given.test_params or recorded.test_params,
            use_judge_for_mentions=judge_mentions or recorded.use_judge_for_mentions,
            prompts_dir=prompts_dir or recorded.prompts_dir,
            max_tokens=settings_given.max_tokens or recorded.max_tokens,
        )
    else:
        if not model_name:
            raise ConfigurationError("audit needs --model (e.g. --model smollm2), or --resume RUN_DIR")
        if not scenario:
            raise ConfigurationError("audit needs --scenario (see `faithcheck scenarios`), or --resume RUN_DIR")
        settings = settings_given
        if concurrency is not None:
            settings.concurrency = concurrency
    gates = parse_gates(fail_under)
    options = parse_key_values(model_option, "--model-option") if model_option else {}
    if not model_option and model_options_recorded:
        if any(value == "***" for value in model_options_recorded.values()):
            raise ConfigurationError("the run was started with secret -O options: pass the same -O options again")
        model_option = tuple(f"{key}={value}" for key, value in model_options_recorded.items())
        options = dict(model_options_recorded)

    # A dry run answers from stand-ins with a cache of their own: the real cache is not even opened.
    cache = None if count_only else build_cache(cache_dir, no_cache)
    subject = build_model(model_name, base_url=base_url, api_key=api_key, model_option=model_option, cache=cache)
    roles: dict[str, Model] = {}
    for role, name in role_names.items():
        same = name == model_name
        roles[role] = subject if same else build_model(name, base_url=base_url, api_key=api_key, cache=cache)
    models = [subject, *[m for m in roles.values() if m is not subject]]
    out_console = _console(stderr=as_json)
    err = _console(stderr=True)

    async def close_models() -> None:
        for model in models:
            await model.aclose()

    if count_only:

        async def count() -> DryRunEstimate:
            try:
                return await dry_run(subject, settings, roles=roles)
            finally:
                await close_models()

        _print_estimate(run_sync(count()), as_json)
        return

    plan_tests = plan_audit(settings).tests  # validated before anything runs (also checks gates' test names)
    check_gate_tests(gates, plan_tests)
    run_id = None
    target = resume_dir
    if target is None:
        run_id = new_run_id()
        target = out or DEFAULT_RUNS_DIR / run_id
    progress = RichProgress(
        err, announce="" if as_json else f"auditing {subject.name} on {settings.scenario} → {target}"
    )

    async def go() -> AuditResult:
        interrupted = False
        try:
            return await run_audit(
                subject,
                settings,
                roles=roles,
                out=target if resume_dir is None else None,
                resume=resume_dir,
                command=command,
                masker=masker,
                observer=progress,
                options={"model_options": masker.mask_options(options), "cache": "off" if no_cache else "on"},
                run_id=run_id,
            )
        except asyncio.CancelledError:  # Ctrl-C: records and summary are written by now
            interrupted = True
            raise
        finally:
            # Closing a local model waits for its batch in progress (minutes on a busy CPU); an interrupted run
            # exits without that wait, and the worker thread ends with the process.
            if not interrupted:
                await close_models()

    try:
        result = run_sync(go())
    except KeyboardInterrupt:
        progress.stop()
        _report_interrupt(target, err)
        _exit_interrupted()
    except AuditStopped as exc:
        raise AuditStopped(f"{exc}; fix that, then continue with: faithcheck audit --resume {target}") from None
    if result.plan.unavailable:
        err.print(f"[yellow]skipped tests not available here: {', '.join(result.plan.unavailable)}[/yellow]")
    if result.already_complete:
        err.print(f"{result.run_dir} was already complete; summary and report rewritten")
    if as_json:
        click.echo(result.summary.model_dump_json(indent=2))
        if result.report is None and result.report_note:
            err.print(f"[yellow]{result.report_note}[/yellow]")
    else:
        _print_result(result, out_console, err)
    failures = gate_failures(gates, result.summary.summaries)
    if failures:
        for line in failures:
            err.print(f"[red]fail-under:[/red] {line}")
        sys.exit(1)


def _console(stderr: bool) -> Console:
    """A console; wide enough for the summary table when writing to a file or a CI log."""
    console = SafeConsole(stderr=stderr)
    return console if console.is_terminal else SafeConsole(stderr=stderr, width=max(console.width, 120))


def _exit_interrupted() -> NoReturn:
    """Exit with status 130. A local model's worker thread may still be inside torch (its batch is not waited for):
    finalising the interpreter around it aborts the process, so exit at once; every record is already on disk."""
    if threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(130)


def _report_interrupt(run_dir: Path, err: Console) -> None:
    """Say what was kept and how to go on."""
    if not (run_dir / RECORDS_FILE).is_file():
        err.print("interrupted before the run started; nothing was written")
        return
    try:
        state = read_state(run_dir)
        total = sum(len(ref.item_ids) for ref in state.header.scenarios)
        done = f"{len(state.done)} of {total} items done; "
    except ConfigurationError:
        done = ""
    err.print(f"interrupted: {done}records are saved in {run_dir}")
    err.print(f"resume with: faithcheck audit --resume {run_dir}")
