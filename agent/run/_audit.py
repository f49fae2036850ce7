"""An audit from start to end: resolve what to run (a resume merges the recorded choices), plan it once, check the
gates against the plan, judge into a run directory, summarise, render the report, and apply the gates.

    from agent import get_model
    from agent.run import AuditModels, AuditSettings, parse_gates, prepare_audit, run_audit_sync

    result = run_audit_sync(get_model("smollm2"), AuditSettings(scenario="demo"), gates=parse_gates(["0.6"]))
    print(result.run_dir, result.gate_failures, result.errors)

    audit = prepare_audit(AuditModels(), resume=result.run_dir)    # every choice as the run recorded it
    result = audit.run_sync()                                      # judges again what ended in error

`prepare_audit` takes models by name (as the CLI does) and owns the models it builds; `run_audit` takes `Model`
objects the caller keeps. Both return an `Audit` before anything is written, or a one-line ConfigurationError.

Resuming: settings and models left unchosen take the run's recorded values (`AuditSettings.over`,
`AuditModels.over`); the session's header must then describe the same audit (model, helper models, scenario
hashes, sampled items, tests and their parameters, seed, prompts, budgets), else a one-line ConfigurationError says
what differs. Items that are done are skipped; an item interrupted halfway keeps the verdicts it has and only its
missing tests run; an `error` verdict is judged again (see agent.records for why the retry is the one that counts).
Repeated model calls are answered by the response cache.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent._sync import run_sync
from agent.errors import ConfigurationError, FaithcheckError
from agent.models import MemoryCache, Model, ResponseCache, UsageStats
from agent.models.batch import bind_run_directory  # batch mode (issue 17)
from agent.prompts import PromptLibrary
from agent.records import RunEnd, RunRecords, RunSummary, read_run, read_summary, summarise_run
from agent.run._directory import RunDirectory
from agent.run._estimate import DryRunEstimate, estimate_audit
from agent.run._gates import Gate, check_gate_tests, gate_failures
from agent.run._header import audit_difference, build_header
from agent.run._judge import AuditStopped, Judging, build_explainers, judge_plan
from agent.run._models import AuditModels
from agent.run._plan import AuditPlan, AuditSettings, plan_audit
from agent.run._progress import AuditObserver, SilentObserver
from agent.run._provenance import SecretMasker, new_run_id
from agent.structured import CallTrace
from evaluators import ROLES

log = logging.getLogger("faithcheck.audit")

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
    gate_failures: list[str] = field(default_factory=list)
    """One line per failed gate and scenario part (see agent.run._gates); empty when every gate passed."""

    @property
    def completed(self) -> bool:
        """Whether every item was judged (some verdicts may be errors: see `errors`)."""
        return self.summary.completed

    @property
    def errors(self) -> int:
        """(item, test) pairs whose verdict is an `error`: a call failed for good. A resume judges them again."""
        return sum(summary.n_error for summary in self.summary.summaries)


@dataclass
class Audit:
    """An audit ready to run: settings resolved, models built, plan made, gates checked. Nothing is written yet."""

    subject: Model
    roles: dict[str, Model]
    settings: AuditSettings
    plan: AuditPlan
    run_dir: Path
    """Where the run is written (a resumed run's own directory)."""
    recorded: RunRecords | None = None
    """The records of the run being resumed; None for a new run."""
    gates: list[Gate] = field(default_factory=list)
    masker: SecretMasker = field(default_factory=SecretMasker)
    header_options: dict[str, Any] = field(default_factory=dict)
    """JSON-ready facts added to the header's options (e.g. masked provider options)."""
    run_id: str | None = None
    owns_models: bool = False
    """Whether the audit built its models, and so closes them when it ends."""

    @property
    def models(self) -> list[Model]:
        """Every distinct model of the audit, the model under test first."""
        models = [self.subject]
        for model in self.roles.values():
            if all(model is not m for m in models):
                models.append(model)
        return models

    @functools.cached_property
    def prompts(self) -> PromptLibrary:
        """The templates, with the settings' directory searched first."""
        return PromptLibrary([self.settings.prompts_dir] if self.settings.prompts_dir else [])

    async def run(
        self, observer: AuditObserver | None = None, *, command: Sequence[str] = (), report: bool = True
    ) -> AuditResult:
        """Judge every pending pair into the run directory, summarise, render the report, apply the gates.

        `command` is stored in the header after masking. Interrupting (Ctrl-C, task cancellation) leaves
        records.jsonl complete up to the last finished record and a summary.json marked incomplete.
        """
        observer = observer or SilentObserver()
        started = time.perf_counter()
        interrupted = False
        try:
            run_dir = await self._open(self.masker.mask_argv(list(command)))
            bind_run_directory(self.models, run_dir.path)  # batch mode (issue 17): the ledger, for --resume
            summary, already_complete = await self._judge_into(run_dir, observer, started)
        except asyncio.CancelledError:  # Ctrl-C: records and summary are written by now
            interrupted = True
            raise
        except AuditStopped as exc:
            resume = f"faithcheck audit --resume {self.run_dir}"
            raise AuditStopped(f"{exc}; fix that, then continue with: {resume}") from None
        finally:
            # Closing a local model waits for its batch in progress (minutes on a busy CPU); an interrupted run
            # exits without that wait, and the worker thread ends with the process.
            if self.owns_models and not interrupted:
                await self.aclose()
        report_path, note = render_run_report(run_dir.path, run_dir.report_path) if report else (None, None)
        return AuditResult(
            run_dir=run_dir.path,
            summary=summary,
            plan=self.plan,
            report=report_path,
            report_note=note,
            resumed=self.recorded is not None,
            already_complete=already_complete,
            gate_failures=gate_failures(self.gates, summary.summaries),
        )

    def run_sync(self, observer: AuditObserver | None = None, **kwargs: Any) -> AuditResult:
        """Blocking `run`."""
        return run_sync(self.run(observer, **kwargs))

    async def dry_run(self, observer: AuditObserver | None = None) -> DryRunEstimate:
        """Count the calls and tokens the audit would take, against stand-ins that send nothing; writes nothing."""
        try:
            return await estimate_audit(
                self.plan, self.settings, self.models, self.roles, prompts=self.prompts, observer=observer
            )
        finally:
            if self.owns_models:
                await self.aclose()

    def dry_run_sync(self, observer: AuditObserver | None = None) -> DryRunEstimate:
        """Blocking `dry_run`."""
        return run_sync(self.dry_run(observer))

    async def aclose(self) -> None:
        """Release the models' resources."""
        for model in self.models:
            await model.aclose()

    async def _open(self, command: list[str]) -> RunDirectory:
        """Create the run directory, or reopen the recorded one after checking that it is the same audit."""
        # describe() may locate (and on first use convert) a local model: keep it off the event loop.
        fresh = await asyncio.to_thread(
            build_header,
            self.plan,
            self.settings,
            self.subject,
            self.roles,
            self.prompts,
            command=command,
            options=self.header_options,
            run_id=self.run_id,
        )
        if self.recorded is None:
            return RunDirectory.create(self.run_dir, fresh, self.masker)
        difference = audit_difference(self.recorded.header, fresh)
        if difference:
            raise ConfigurationError(
                f"cannot resume {self.run_dir}: the {difference} differs from the run's; start a new run instead"
            )
        return RunDirectory.reopen(self.recorded, self.masker, command)

    async def _judge_into(
        self, run_dir: RunDirectory, observer: AuditObserver, started: float
    ) -> tuple[RunSummary, bool]:
        """Judge what is pending, always leaving a summary.json; the summary, and whether nothing was pending."""
        previous_time = _previous_wall_time(run_dir) if self.recorded is not None else 0.0
        nothing_left = run_dir.had_ended and not run_dir.records.errors
        completed = False
        try:
            if not nothing_left:
                await self._judge(run_dir, observer)
                run_dir.write(RunEnd(usage=self._session_usage(), wall_time_s=time.perf_counter() - started))
            completed = True
        finally:
            summary = summarise_run(
                run_dir.records,
                completed=completed,
                wall_time_s=previous_time + (time.perf_counter() - started),
                # a finished session's counters are in its RunEnd already
                session_usage=None if completed else self._session_usage(),
            )
            run_dir.write_summary(summary)
            run_dir.close()
        return summary, nothing_left

    async def _judge(self, run_dir: RunDirectory, observer: AuditObserver) -> None:
        """Judge every pending pair, recording each call and verdict as it happens."""
        answered: list[CallTrace] = []
        models = self.models

        def record_call(trace: CallTrace) -> None:
            if not answered:
                answered.append(trace)
            run_dir.write(trace)

        def nothing_worked() -> bool:
            # A call failed for good and none has been answered in this session, not even from the cache.
            return not answered and any(model.usage.errors for model in models)

        subject, roles = build_explainers(
            self.subject,
            self.roles,
            prompts=self.prompts,
            seed=self.settings.run_seed,
            on_trace=record_call,
            max_tokens=self.settings.max_tokens,
            system_prompt=self.settings.system_prompt,
        )
        labels = {part.label for part in self.plan.parts}
        observer.start(self.plan.total_items, sum(1 for key in run_dir.records.done if key[0] in labels), models)
        try:
            judging = Judging(self.settings, subject, roles, observer, run_dir.write, nothing_worked)
            await judge_plan(self.plan, run_dir.records, judging)
        finally:
            observer.stop()

    def _session_usage(self) -> dict[str, UsageStats]:
        usage: dict[str, UsageStats] = {}
        for model in self.models:
            name = model.name
            usage[name] = usage[name].merged(model.usage) if name in usage else model.usage.model_copy()
        return usage


def prepare_audit(
    models: AuditModels,
    settings: AuditSettings | None = None,
    *,
    out: Path | None = None,
    resume: Path | None = None,
    gates: Sequence[Gate] = (),
    cache: ResponseCache | Callable[[], ResponseCache] | None = None,
) -> Audit:
    """An audit of models given by name, ready to run (or to count with `dry_run`); it owns and closes its models.

    A new run goes to `out` (default ./runs/<run id>). With `resume`, the choices left at their defaults in
    `models` and `settings` take the run's recorded values. `cache` answers repeated requests: a cache, or a
    function that opens one, called only once everything is checked (so bad input creates no cache); None: none.
    """
    recorded = _read_for_resume(resume, out) if resume is not None else None
    if recorded is not None:
        models = models.over(AuditModels.from_header(recorded.header))
    subject, roles = models.build()
    masker = SecretMasker([models.api_key])
    audit = _prepare(
        subject,
        roles,
        settings,
        recorded=recorded,
        out=out,
        gates=gates,
        masker=masker,
        header_options={"model_options": masker.mask_options(models.options)},
        owns_models=True,
    )
    opened = cache() if callable(cache) else cache
    for model in audit.models:
        model.cache = opened
    audit.header_options["cache"] = "off" if opened is None or isinstance(opened, MemoryCache) else "on"
    return audit


async def run_audit(
    subject: Model,
    settings: AuditSettings | None = None,
    *,
    roles: Mapping[str, Model] | None = None,
    out: Path | None = None,
    resume: Path | None = None,
    gates: Sequence[Gate] = (),
    command: Sequence[str] = (),
    masker: SecretMasker | None = None,
    observer: AuditObserver | None = None,
    options: Mapping[str, Any] | None = None,
    report: bool = True,
    run_id: str | None = None,
) -> AuditResult:
    """Audit `subject` on `settings.scenario`, writing a run directory (new, or `resume`d), and apply `gates`.

    `roles` maps helper roles (editor, judge, generator, simulator) to other models. A new run goes to `out`
    (default ./runs/<run id>; `run_id` fixes the id). With `resume`, `settings` are choices over the recorded ones
    (None: all as recorded). `options` adds JSON-ready facts to the header's options. The models stay the
    caller's to close.
    """
    audit = _prepare(
        subject,
        dict(roles or {}),
        settings,
        recorded=_read_for_resume(resume, out) if resume is not None else None,
        out=out,
        gates=gates,
        masker=masker or SecretMasker(),
        header_options=dict(options or {}),
        run_id=run_id,
    )
    return await audit.run(observer, command=command, report=report)


def run_audit_sync(subject: Model, settings: AuditSettings | None = None, **kwargs: Any) -> AuditResult:
    """Blocking `run_audit`."""
    return run_sync(run_audit(subject, settings, **kwargs))


async def dry_run(
    subject: Model,
    settings: AuditSettings,
    *,
    roles: Mapping[str, Model] | None = None,
    observer: AuditObserver | None = None,
) -> DryRunEstimate:
    """Count the calls and tokens the audit would take, running it against stand-ins that send nothing."""
    return await _prepare(subject, dict(roles or {}), settings).dry_run(observer)


def dry_run_sync(subject: Model, settings: AuditSettings, **kwargs: Any) -> DryRunEstimate:
    """Blocking `dry_run`."""
    return run_sync(dry_run(subject, settings, **kwargs))


def _prepare(
    subject: Model,
    roles: dict[str, Model],
    settings: AuditSettings | None,
    *,
    recorded: RunRecords | None = None,
    out: Path | None = None,
    gates: Sequence[Gate] = (),
    masker: SecretMasker | None = None,
    header_options: dict[str, Any] | None = None,
    run_id: str | None = None,
    owns_models: bool = False,
) -> Audit:
    """Resolve the settings (over the recorded ones on a resume), plan once, check the gates, choose the directory."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ConfigurationError(f"unknown helper role '{unknown[0]}': use one of {', '.join(ROLES)}")
    settings = settings or AuditSettings()
    if recorded is not None:
        settings = settings.over(AuditSettings.from_options(recorded.header.options))
    plan = plan_audit(settings)
    check_gate_tests(gates, plan.tests)
    if recorded is not None:
        run_dir, run_id = recorded.run_dir, None
    else:
        run_id = run_id or new_run_id()
        run_dir = Path(out) if out else DEFAULT_RUNS_DIR / run_id
    return Audit(
        subject=subject,
        roles=roles,
        settings=settings,
        plan=plan,
        run_dir=run_dir,
        recorded=recorded,
        gates=list(gates),
        masker=masker or SecretMasker(),
        header_options=dict(header_options or {}),
        run_id=run_id,
        owns_models=owns_models,
    )


def _read_for_resume(resume: Path, out: Path | None) -> RunRecords:
    """The records of a run to resume, refusing an `out` elsewhere and a run that recorded no settings."""
    resume = Path(resume)
    if out is not None and Path(out).resolve() != resume.resolve():
        raise ConfigurationError("--resume writes to the run's own directory; leave out --out")
    records = read_run(resume)
    if "scenario" not in records.header.options:
        raise ConfigurationError(f"cannot resume {resume}: its header records no audit settings")
    return records


def _previous_wall_time(run_dir: RunDirectory) -> float:
    try:
        summary = read_summary(run_dir.path)
    except ConfigurationError:
        summary = None
    return summary.wall_time_s if summary is not None else sum(end.wall_time_s for end in run_dir.records.ends)


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
