"""`faithcheck audit`: run a scenario's faithfulness tests on a model into a run directory, or count them (--dry-run).

The command parses its flags into `AuditModels`, `AuditSettings` and gates, hands them to `agent.run.prepare_audit`
(which merges a resumed run's recorded choices, plans once and checks the gates), runs the audit, and prints.

Exit status:
- 0: the run completed, every gate passed, and no verdict is an error;
- 1: a `--fail-under` gate failed;
- 2: bad input or configuration (nothing is written), or the model could not answer at all;
- 3: the run completed but some (item, test) pairs ended in error (a model call failed for good, e.g. its retries
  ran out): their rates leave them out, and `faithcheck audit --resume RUN_DIR` judges exactly those again. This
  wins over 1, since the gates were applied to an incomplete measurement;
- 130: interrupted (records are kept; the message says how to resume).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent._sync import run_sync
from agent.cli._app import ModelFlags, main, model_options, prompts_dir_option
from agent.errors import ConfigurationError

if TYPE_CHECKING:
    from agent.run import Audit

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
    from agent.paradigms import paradigm_names

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
    import yaml

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


def read_system_prompt(path: Path | None) -> str | None:
    """The text of a --system-prompt file (None without one), exactly as deployed: only an empty file is refused."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"--system-prompt {path}: cannot read it as UTF-8 text ({exc})") from exc
    if not text.strip():
        raise ConfigurationError(f"--system-prompt {path} is empty: give the file with the deployed system prompt")
    return text


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
@click.option(
    "--system-prompt",
    "system_prompt_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File with the system prompt the audited model is deployed with: sent first in every call to it, "
    "never to helper roles; its sha256 goes in the run header.",
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
    system_prompt_file: Path | None,
    as_json: bool,
    model_flags: ModelFlags,
) -> None:
    """Run every faithfulness test of a scenario on a model and write a run directory with a report.

    The run directory holds records.jsonl (every model call and verdict, appended as they happen), summary.json
    and report.html. Helper-role models (--editor, --judge, ...) get --base-url and --api-key but not -O options.
    With --resume, every option not given takes the run's recorded value.
    Exit status: 0 completed, 1 a --fail-under gate failed, 2 bad input, 3 some pairs ended in error (--resume
    judges them again), 130 interrupted (resume with --resume).
    """
    from agent.cli._audit_output import print_estimate
    from agent.run import AuditModels, AuditSettings, parse_gates, prepare_audit
    from evaluators import ROLES

    if resume_dir is not None and count_only:
        raise ConfigurationError("--dry-run counts a new audit; it cannot be combined with --resume")
    models = AuditModels(
        model=model_name or "",
        roles={role: name for role, name in zip(ROLES, (editor, judge, generator, simulator), strict=True) if name},
        options=model_flags.options,
        base_url=model_flags.base_url,
        api_key=model_flags.api_key,
    )
    settings = AuditSettings(
        scenario=scenario or "",
        tests=_split_tests(tests),
        limit=limit,
        seed=seed,
        concurrency=concurrency,
        test_params=parse_test_params(test_param),
        use_judge_for_mentions=judge_mentions,
        prompts_dir=prompts_dir,
        max_tokens=parse_budgets(max_tokens),
        system_prompt=read_system_prompt(system_prompt_file),
    )
    gates = parse_gates(fail_under)
    # A dry run answers from stand-ins with a cache of their own: the real cache is not even opened.
    cache = None if count_only else model_flags.open_cache
    audit = prepare_audit(models, settings, out=out, resume=resume_dir, gates=gates, cache=cache)
    if count_only:
        print_estimate(run_sync(audit.dry_run()), as_json)
        return
    status = _run(audit, _command_line(click.get_current_context()), as_json)
    if status:
        sys.exit(status)


def _run(audit: Audit, command: list[str], as_json: bool) -> int:
    """Run the audit with a progress display, print its outcome; the exit status."""
    from agent.cli._audit_output import audit_console, exit_interrupted, print_outcome, report_interrupt
    from agent.run import RichProgress

    err = audit_console(stderr=True)
    announce = "" if as_json else f"auditing {audit.subject.name} on {audit.settings.scenario} → {audit.run_dir}"
    progress = RichProgress(err, announce=announce)
    try:
        result = run_sync(audit.run(progress, command=command))
    except KeyboardInterrupt:
        progress.stop()
        report_interrupt(audit.run_dir, err)
        exit_interrupted()
    return print_outcome(result, as_json, out=audit_console(stderr=as_json), err=err)
