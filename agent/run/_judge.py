"""The work of an audit: judge every pending (item, test) pair of a plan, part after part, through shared explainers.

One `Explainer` per model (and per helper role) serves the whole run, so every test of an item reuses one base
answer and one set of explanations (the Explainer memoises paradigm results), across scenario parts too.
`evaluators.runner.run_tests` judges `concurrency` items of a part at once, every test of an item at once.

What is pending comes from the run's records (agent.records): items marked done are skipped, and of the others
only the tests without a verdict that stands are judged, so no verdict is written twice except an `error`'s retry.
An `ItemDone` is written once every test of an item has a verdict other than `error`. The real audit and the dry
run share this loop; the dry run writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from agent.errors import FaithcheckError
from agent.explainer import Explainer
from agent.models import Model
from agent.models.batch import audit_concurrency  # batch mode (issue 17)
from agent.prompts import PromptLibrary
from agent.records import ItemDone, RunRecords
from agent.run._dry import DryAsker, DryStats
from agent.run._plan import AuditPlan, AuditSettings, PlannedPart
from agent.run._progress import AuditObserver
from agent.structured import TraceSink
from evaluators import ROLES, Verdict, role_explainer
from evaluators.runner import run_tests


class AuditStopped(FaithcheckError):
    """The audit stopped early because the model could not answer at all (unreachable, refused the key, ...)."""


def build_explainers(
    subject: Model,
    roles: Mapping[str, Model],
    *,
    prompts: PromptLibrary,
    seed: int,
    on_trace: TraceSink | None,
    max_tokens: Mapping[str, int] | None = None,
    dry_stats: DryStats | None = None,
    system_prompt: str | None = None,
) -> tuple[Explainer, dict[str, Explainer]]:
    """One Explainer for the model under test and one per helper role (the model under test where none is given).

    `system_prompt` (the one the audited model is deployed with) goes to the model under test's explainer only:
    a helper role asks with faithcheck's own prompts, even when it is the same model.

    With `dry_stats`, every explainer asks through a `DryAsker` (one call per request, no re-asks).
    """

    subject_explainer = Explainer(
        subject,
        prompts=prompts,
        seed=seed,
        on_trace=on_trace,
        reasks=0 if dry_stats else 2,
        max_tokens=max_tokens,
        system_prompt=system_prompt,
    )
    # Helper roles take every setting of the subject's (evaluators.role_explainer), on their own model if given.
    explainers = {"subject": subject_explainer}
    explainers.update({role: role_explainer(subject_explainer, role, roles.get(role)) for role in ROLES})
    if dry_stats is not None:
        for role, explainer in explainers.items():
            explainer.asker = DryAsker(
                explainer.model,
                prompts,
                role=role,
                reasks=0,
                on_trace=on_trace,
                system_prompt=explainer.asker.system_prompt,
                stats=dry_stats,
            )
    return subject_explainer, {role: explainers[role] for role in ROLES}


@dataclass
class Judging:
    """Who judges and where the results go: the explainers, the observer, and the sink for verdicts and markers."""

    settings: AuditSettings
    subject: Explainer
    roles: Mapping[str, Explainer]
    observer: AuditObserver
    write: Callable[[Verdict | ItemDone], None]
    nothing_worked: Callable[[], bool] = lambda: False
    """True while every model call of this session has failed: an error verdict then stops the audit."""
    failed: set[tuple[str, str]] = field(default_factory=set)
    """(scenario, item id) pairs that got an error verdict in this session (they are not marked done)."""


async def judge_plan(plan: AuditPlan, records: RunRecords | None, judging: Judging) -> None:
    """Judge every part's pending (item, test) pairs, writing verdicts and ItemDone markers through `judging.write`.

    `records` say what is already judged (None: nothing, as in a dry run).

    An `error` verdict while `nothing_worked()` (every model call so far failed) stops the audit with AuditStopped
    instead of being written: a server that is down or a key that is refused would otherwise turn every item into
    an error after slow retries.
    """
    for part in plan.parts:
        await _judge_part(part, records, judging)


async def _judge_part(part: PlannedPart, records: RunRecords | None, judging: Judging) -> None:
    expected = set(part.test_names)
    judged = records.judged(part.label) if records is not None else set()
    have: dict[str, set[str]] = {}
    for test, item_id in judged:
        have.setdefault(item_id, set()).add(test)

    def finish(item_id: str) -> None:
        if (part.label, item_id) not in judging.failed:
            judging.write(ItemDone(scenario=part.label, item_id=item_id, tests=part.test_names))
        judging.observer.item_done()

    done = records.done if records is not None else set()
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
    judging.observer.part(part.label, len(pending))

    def on_verdict(verdict: Verdict) -> None:
        if verdict.outcome == "error":
            if judging.nothing_worked():
                raise AuditStopped(f"stopped before recording anything for this item: {verdict.reason}")
            judging.failed.add((part.label, verdict.item_id))
        judging.write(verdict)
        tests = have.setdefault(verdict.item_id, set())
        tests.add(verdict.test)
        if tests >= expected:
            finish(verdict.item_id)

    settings = judging.settings
    await run_tests(
        judging.subject,
        part.task,
        pending,
        part.tests,
        roles=judging.roles,
        demonstrations=part.data.demonstrations,
        seed=settings.run_seed,
        scenario=part.label,
        # batch mode (issue 17): every item's independent calls join the same round
        concurrency=audit_concurrency(
            settings.items_at_once, [judging.subject.model, *(e.model for e in judging.roles.values())]
        ),
        use_judge_for_mentions=settings.use_judge_for_mentions,
        skip=judged,
        on_verdict=on_verdict,
        pool=part.items,
    )
