"""The audit: judge every (item, test) pair of a scenario for one model, recording everything as it happens.

    from agent import get_model
    from agent.run import AuditSettings, run_audit_sync
    result = run_audit_sync(get_model("smollm2"), AuditSettings(scenario="demo"))
    print(result.run_dir, [(s.test, s.faithful_rate) for s in result.summary.summaries])

How the work is shared and ordered:
- one `Explainer` per model (and per helper role) for the whole run, so every test of an item reuses one base
  answer and one set of explanations (the Explainer memoises paradigm results), across scenario parts too;
- `evaluators.runner.run_tests` judges `concurrency` items of a part at once, every test of an item at once;
  parts run one after another;
- every model call is appended to records.jsonl as soon as it returns (the explainers' `on_trace`), every verdict
  as soon as it exists, and an `ItemDone` once all of an item's tests have verdicts.

A scenario's `paradigms` list is not elicited on its own: each test asks for the paradigms it needs (through the
shared Explainer), and asking for more would cost calls that no verdict uses.

Resuming (`resume=RUN_DIR`): the header must describe the same audit (model, helper models, scenario hashes,
sampled items, tests and their parameters, seed), else a one-line ConfigurationError says what differs. Items
marked done are skipped; an item interrupted halfway keeps the verdicts it has and only its missing tests run, so
no verdict is written twice. Repeated model calls are answered by the response cache.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import __version__
from agent._sync import run_sync
from agent.errors import ConfigurationError, FaithcheckError
from agent.explainer import Explainer
from agent.models import MemoryCache, Model, UsageStats
from agent.models.batch import audit_concurrency, bind_run_directory  # batch mode (issue 17)
from agent.prompts import PromptLibrary
from agent.records import ItemDone, RunEnd, RunHeader, RunSummary
from agent.run._directory import RunDirectory, header_mismatch, read_state
from agent.run._dry import DryAPI, DryAsker, DryCounts, DryStats
from agent.run._plan import AuditPlan, AuditSettings, PlannedPart, plan_audit
from agent.run._progress import AuditObserver, SilentObserver
from agent.run._provenance import SecretMasker, new_run_id, package_versions, prompt_hashes
from agent.run._summary import summarise_run
from agent.structured import CallTrace, TraceSink
from evaluators import ROLES, Verdict
from evaluators.runner import run_tests

log = logging.getLogger("faithcheck.audit")


class AuditStopped(FaithcheckError):
    """The audit stopped early because the model could not answer at all (unreachable, refused the key, ...)."""


DEFAULT_RUNS_DIR = Path("runs")
"""Where run directories go when no --out is given: ./runs/<run id>."""


@dataclass
class AuditResult:
    """What an audit produced."""

    run_dir: Path
    summary: RunSummary
    plan: AuditPlan
    report: Path | None = None
    """report.html, when the report module could write it."""
    report_note: str | None = None
    """Why there is no report, when there is none."""
    resumed: bool = False
    already_complete: bool = False
    """A resumed run that had nothing left to do."""

    @property
    def completed(self) -> bool:
        """Whether every item was judged."""
        return self.summary.completed


@dataclass
class DryRunEstimate:
    """What an audit would send, counted by running it against stand-ins (see agent.run._dry)."""

    plan: AuditPlan
    models: dict[str, DryCounts]
    """Model name -> calls and token estimates."""
    stats: DryStats = field(default_factory=DryStats)

    @property
    def calls(self) -> int:
        """Calls over every model."""
        return sum(c.calls for c in self.models.values())

    @property
    def generate_calls(self) -> int:
        """Generated replies over every model (the calls a re-ask could repeat)."""
        return sum(c.generate_calls for c in self.models.values())

    @property
    def prompt_tokens(self) -> int:
        """Estimated prompt tokens over every model."""
        return sum(c.prompt_tokens for c in self.models.values())

    @property
    def max_completion_tokens(self) -> int:
        """The most the replies could cost, over every model."""
        return sum(c.max_completion_tokens for c in self.models.values())

    @property
    def reask_bound(self) -> int:
        """How many more calls re-asks could add if every reply were unreadable."""
        return self.stats.reasks * self.generate_calls

    def lines(self) -> list[str]:
        """The estimate in words, one line per model, then the assumption it rests on."""
        plan = self.plan
        out = [
            f"dry run of scenario '{plan.scenario.name}': {plan.total_items} items, {plan.total_pairs} "
            f"(item, test) pairs, tests: {', '.join(plan.tests)}"
        ]
        for name, counts in self.models.items():
            out.append(
                f"  {name}: {counts.calls} model calls ({counts.generate_calls} generate, {counts.score_calls} score),"
                f" ~{counts.prompt_tokens:,} prompt tokens, at most {counts.max_completion_tokens:,} completion tokens"
            )
        out.append(
            f"total: {self.calls} model calls, ~{self.prompt_tokens:,} prompt tokens (characters / 4), at most "
            f"{self.max_completion_tokens:,} completion tokens; nothing was sent"
        )
        out.append(
            "assumes a clean cache and that every reply parses the first time; "
            f"re-asks after unreadable replies could add up to {self.reask_bound} more calls"
        )
        if self.stats.unreadable:
            out.append(
                f"note: {self.stats.unreadable} requests had no canonical reply their parser accepts; "
                "the count follows the path of an unreadable reply there"
            )
        return out


def _distinct_models(subject: Model, roles: Mapping[str, Model]) -> list[Model]:
    models = [subject]
    for model in roles.values():
        if all(model is not m for m in models):
            models.append(model)
    return models


def _check_roles(roles: Mapping[str, Model]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ConfigurationError(f"unknown helper role '{unknown[0]}': use one of {', '.join(ROLES)}")


def build_explainers(
    subject: Model,
    roles: Mapping[str, Model],
    *,
    prompts: PromptLibrary,
    seed: int,
    on_trace: TraceSink | None,
    max_tokens: Mapping[str, int] | None = None,
    dry_stats: DryStats | None = None,
) -> tuple[Explainer, dict[str, Explainer]]:
    """One Explainer for the model under test and one per helper role (the model under test where none is given).

    With `dry_stats`, every explainer asks through a `DryAsker` (one call per request, no re-asks).
    """

    def make(model: Model, role: str) -> Explainer:
        explainer = Explainer(
            model,
            prompts=prompts,
            seed=seed,
            on_trace=on_trace,
            role=role,
            reasks=0 if dry_stats else 2,
            max_tokens=max_tokens,
        )
        if dry_stats is not None:
            explainer.asker = DryAsker(model, prompts, role=role, reasks=0, on_trace=on_trace, stats=dry_stats)
        return explainer

    return make(subject, "subject"), {role: make(roles.get(role, subject), role) for role in ROLES}


async def _judge(
    plan: AuditPlan,
    settings: AuditSettings,
    subject: Explainer,
    roles: Mapping[str, Explainer],
    observer: AuditObserver,
    *,
    done: set[tuple[str | None, str]],
    judged: Callable[[str], set[tuple[str, str]]],
    write: Callable[[Verdict | ItemDone], None],
    nothing_worked: Callable[[], bool] = lambda: False,
) -> None:
    """Run every part's pending (item, test) pairs, writing verdicts and ItemDone markers through `write`.

    An `error` verdict while `nothing_worked()` (every model call so far failed) stops the audit with AuditStopped
    instead of being written: a server that is down or a key that is refused would otherwise turn every item into
    an error after slow retries, and the written errors would count as done when the run is resumed.
    """
    for part in plan.parts:
        await _judge_part(
            part,
            settings,
            subject,
            roles,
            observer,
            done=done,
            judged=judged(part.label),
            write=write,
            nothing_worked=nothing_worked,
        )


async def _judge_part(
    part: PlannedPart,
    settings: AuditSettings,
    subject: Explainer,
    roles: Mapping[str, Explainer],
    observer: AuditObserver,
    *,
    done: set[tuple[str | None, str]],
    judged: set[tuple[str, str]],
    write: Callable[[Verdict | ItemDone], None],
    nothing_worked: Callable[[], bool],
) -> None:
    expected = set(part.test_names)
    have: dict[str, set[str]] = {}
    for test, item_id in judged:
        have.setdefault(item_id, set()).add(test)

    def finish(item_id: str) -> None:
        write(ItemDone(scenario=part.label, item_id=item_id, tests=part.test_names))
        observer.item_done()

    pending = []
    for item in part.items:
        if (part.label, item.id) in done:
            continue
        if expected <= have.get(item.id, set()):
            finish(item.id)  # every verdict was written before the run stopped, but not the marker
        else:
            pending.append(item)
    if not pending:
        return
    observer.part(part.label, len(pending))

    def on_verdict(verdict: Verdict) -> None:
        if verdict.outcome == "error" and nothing_worked():
            raise AuditStopped(f"stopped before recording anything for this item: {verdict.reason}")
        write(verdict)
        tests = have.setdefault(verdict.item_id, set())
        tests.add(verdict.test)
        if tests >= expected:
            finish(verdict.item_id)

    await run_tests(
        subject,
        part.task,
        pending,
        part.tests,
        roles=roles,
        demonstrations=part.data.demonstrations,
        seed=settings.run_seed,
        scenario=part.label,
        # batch mode (issue 17): every item's independent calls join the same round
        concurrency=audit_concurrency(settings.concurrency, [subject.model, *(e.model for e in roles.values())]),
        use_judge_for_mentions=settings.use_judge_for_mentions,
        skip=judged,
        on_verdict=on_verdict,
    )


def _prompts(settings: AuditSettings) -> PromptLibrary:
    return PromptLibrary([settings.prompts_dir] if settings.prompts_dir else [])


def _header(
    plan: AuditPlan,
    settings: AuditSettings,
    subject: Model,
    roles: Mapping[str, Model],
    prompts: PromptLibrary,
    command: list[str],
    options: Mapping[str, Any],
    run_id: str | None = None,
) -> RunHeader:
    tests = {t.name: t for part in plan.parts for t in part.tests}
    return RunHeader(
        run_id=run_id or new_run_id(),
        faithcheck_version=__version__,
        command=command,
        model=subject.describe(),
        roles={role: model.describe() for role, model in roles.items()},
        scenarios=[part.ref for part in plan.parts],
        tests=plan.tests,
        test_params={name: test.params.model_dump(mode="json") for name, test in tests.items()},
        seed=settings.run_seed,
        packages=package_versions(),
        prompt_hashes=prompt_hashes(prompts),
        python=sys.version.split()[0],
        platform=platform.platform(),
        options={
            **settings.to_options(),
            "model_name": subject.name,
            "role_models": {role: model.name for role, model in roles.items()},
            "scenario_hash": plan.scenario_hash,
            "part_tests": {part.label: part.test_names for part in plan.parts},
            "unavailable_tests": plan.unavailable,
            **options,
        },
    )


def _same_audit(recorded: RunHeader, fresh: RunHeader) -> str | None:
    """What differs between a recorded header and this session's, in words, or None when it is the same audit."""
    if recorded.model != fresh.model:
        return "model " + (header_mismatch(recorded.model, fresh.model) or "")
    if recorded.roles != fresh.roles:
        return "helper models " + (header_mismatch(recorded.roles, fresh.roles) or "")
    if recorded.options.get("scenario_hash") != fresh.options.get("scenario_hash"):
        return "scenario (its file or data changed since the run started)"
    old_names = [ref.name for ref in recorded.scenarios]
    new_names = [ref.name for ref in fresh.scenarios]
    if old_names != new_names:
        return f"scenario parts (run: {', '.join(old_names)}; now: {', '.join(new_names)})"
    for old, new in zip(recorded.scenarios, fresh.scenarios, strict=True):
        if old.hash != new.hash:
            return f"scenario {old.name} (its file or data changed since the run started)"
        if old.seed != new.seed:
            return f"sampling seed of {old.name} (run: {old.seed}, now: {new.seed})"
        if old.limit != new.limit:
            return f"item limit of {old.name} (run: {old.limit}, now: {new.limit})"
        if old.item_ids != new.item_ids:
            return f"sampled items of {old.name}"
    if recorded.options.get("part_tests") != fresh.options.get("part_tests"):
        return f"tests (run: {recorded.options.get('part_tests')}, now: {fresh.options.get('part_tests')})"
    if recorded.test_params != fresh.test_params:
        return "test parameters " + (header_mismatch(recorded.test_params, fresh.test_params) or "")
    if recorded.seed != fresh.seed:
        return f"seed (run: {recorded.seed}, now: {fresh.seed})"
    if recorded.prompt_hashes != fresh.prompt_hashes:
        return "prompt templates " + (header_mismatch(recorded.prompt_hashes, fresh.prompt_hashes) or "")
    old_budgets, new_budgets = recorded.options.get("max_tokens") or {}, fresh.options.get("max_tokens") or {}
    if old_budgets != new_budgets:
        return "generation budgets " + (header_mismatch(old_budgets, new_budgets) or "")
    return None


def _session_usage(models: Sequence[Model]) -> dict[str, UsageStats]:
    usage: dict[str, UsageStats] = {}
    for model in models:
        usage[model.name] = usage[model.name].merged(model.usage) if model.name in usage else model.usage.model_copy()
    return usage


def _previous_wall_time(run_dir: RunDirectory) -> float:
    try:
        return RunSummary.model_validate_json(run_dir.summary_path.read_bytes()).wall_time_s
    except (OSError, ValueError):
        return sum(end.wall_time_s for end in run_dir.state.ends)


def render_run_report(run_dir: Path, out: Path) -> tuple[Path | None, str | None]:
    """Write report.html with `agent.report.render_report` when it exists: (path, None) or (None, why not)."""
    try:
        from agent.report import render_report
    except ImportError as exc:
        return None, f"report.html not written: the HTML report is not available in this installation ({exc})"
    try:
        return render_report([run_dir], out), None
    except FaithcheckError as exc:
        return None, f"report.html not written: {exc}"
    except Exception as exc:  # a report bug must not cost the user the audit's result and exit status
        log.debug("report rendering failed", exc_info=True)
        return None, f"report.html not written: {type(exc).__name__}: {exc}"


async def run_audit(
    subject: Model,
    settings: AuditSettings,
    *,
    roles: Mapping[str, Model] | None = None,
    out: Path | None = None,
    resume: Path | None = None,
    command: Sequence[str] = (),
    masker: SecretMasker | None = None,
    observer: AuditObserver | None = None,
    options: Mapping[str, Any] | None = None,
    report: bool = True,
    run_id: str | None = None,
) -> AuditResult:
    """Audit `subject` on `settings.scenario`, writing a run directory (new, or `resume`d).

    `roles` maps helper roles (editor, judge, generator, simulator) to other models. A new run goes to `out`
    (default ./runs/<run id>; `run_id` fixes the id, e.g. to name `out` before starting). `command` is stored in the
    header after masking; `options` adds JSON-ready facts to the header's options (e.g. masked model options).
    Interrupting (Ctrl-C, task cancellation) leaves records.jsonl complete up to the last finished record and a
    summary.json marked incomplete; `resume` continues from there.
    """
    roles = dict(roles or {})
    _check_roles(roles)
    masker = masker or SecretMasker()
    observer = observer or SilentObserver()
    masked_command = masker.mask_argv(list(command))
    plan = plan_audit(settings)
    prompts = _prompts(settings)
    # describe() may locate (and on first use convert) a local model: keep it off the event loop.
    fresh = await asyncio.to_thread(
        _header, plan, settings, subject, roles, prompts, masked_command, dict(options or {}), run_id
    )
    if resume is not None:

        def check(recorded: RunHeader) -> None:
            difference = _same_audit(recorded, fresh)
            if difference:
                raise ConfigurationError(
                    f"cannot resume {resume}: the {difference} differs from the run's; start a new run instead"
                )

        run_dir = RunDirectory.reopen(Path(resume), check, masker, masked_command)
    else:
        run_dir = RunDirectory.create(Path(out) if out else DEFAULT_RUNS_DIR / fresh.run_id, fresh, masker)
    models = _distinct_models(subject, roles)
    bind_run_directory(models, run_dir.path)  # batch mode (issue 17): the ledger of batches sent, for --resume
    started = time.perf_counter()
    previous_time = _previous_wall_time(run_dir) if resume is not None else 0.0
    completed = False
    already_complete = run_dir.was_complete
    try:
        if not already_complete:
            answered: list[CallTrace] = []

            def record_call(trace: CallTrace) -> None:
                if not answered:
                    answered.append(trace)
                run_dir.write(trace)

            def nothing_worked() -> bool:
                # A call failed for good and none has been answered in this session, not even from the cache.
                return not answered and any(model.usage.errors for model in models)

            subject_explainer, role_explainers = build_explainers(
                subject,
                roles,
                prompts=prompts,
                seed=settings.run_seed,
                on_trace=record_call,
                max_tokens=settings.max_tokens,
            )
            done = run_dir.state.done
            observer.start(plan.total_items, sum(1 for key in done if key[0] in {p.label for p in plan.parts}), models)
            try:
                await _judge(
                    plan,
                    settings,
                    subject_explainer,
                    role_explainers,
                    observer,
                    done=set(done),
                    judged=run_dir.state.judged,
                    write=run_dir.write,
                    nothing_worked=nothing_worked,
                )
            finally:
                observer.stop()
            run_dir.write(RunEnd(usage=_session_usage(models), wall_time_s=time.perf_counter() - started))
        completed = True
    finally:
        summary = summarise_run(
            run_dir.state,
            completed=completed,
            wall_time_s=previous_time + (time.perf_counter() - started),
            # a finished session's counters are in its RunEnd already
            session_usage=None if completed else _session_usage(models),
        )
        run_dir.write_summary(summary)
        run_dir.close()
    report_path, note = render_run_report(run_dir.path, run_dir.report_path) if report else (None, None)
    return AuditResult(
        run_dir=run_dir.path,
        summary=summary,
        plan=plan,
        report=report_path,
        report_note=note,
        resumed=resume is not None,
        already_complete=already_complete,
    )


def run_audit_sync(subject: Model, settings: AuditSettings, **kwargs: Any) -> AuditResult:
    """Blocking `run_audit`."""
    return run_sync(run_audit(subject, settings, **kwargs))


def recorded_settings(run_dir: Path) -> tuple[RunHeader, AuditSettings]:
    """The header of a run and the settings it was started with (for `--resume` without repeating every flag)."""
    header = read_state(Path(run_dir)).header
    if "scenario" not in header.options:
        raise ConfigurationError(f"cannot resume {run_dir}: its header records no audit settings")
    return header, AuditSettings.from_options(header.options)


async def dry_run(
    subject: Model,
    settings: AuditSettings,
    *,
    roles: Mapping[str, Model] | None = None,
    observer: AuditObserver | None = None,
) -> DryRunEstimate:
    """Count the calls and tokens the audit would take, running it against stand-ins that send nothing."""
    roles = dict(roles or {})
    _check_roles(roles)
    plan = plan_audit(settings)
    stand_ins: dict[int, Model] = {}
    apis: list[DryAPI] = []
    for model in _distinct_models(subject, roles):
        api = DryAPI(model.api)
        apis.append(api)
        stand_ins[id(model)] = Model(api, cache=MemoryCache())  # a clean cache, shared by the run
    stats = DryStats()
    subject_explainer, role_explainers = build_explainers(
        stand_ins[id(subject)],
        {role: stand_ins[id(model)] for role, model in roles.items()},
        prompts=_prompts(settings),
        seed=settings.run_seed,
        on_trace=None,
        max_tokens=settings.max_tokens,
        dry_stats=stats,
    )
    observer = observer or SilentObserver()
    observer.start(plan.total_items, 0, list(stand_ins.values()))
    try:
        await _judge(
            plan,
            settings,
            subject_explainer,
            role_explainers,
            observer,
            done=set(),
            judged=lambda label: set(),
            write=lambda record: None,
        )
    finally:
        observer.stop()
    return DryRunEstimate(plan=plan, models={api.name: api.counts for api in apis}, stats=stats)


def dry_run_sync(subject: Model, settings: AuditSettings, **kwargs: Any) -> DryRunEstimate:
    """Blocking `dry_run`."""
    return run_sync(dry_run(subject, settings, **kwargs))
