"""The dry run: count the calls and tokens an audit would take by running it against stand-ins that send nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.models import MemoryCache, Model
from agent.prompts import PromptLibrary
from agent.run._dry import DryAPI, DryCounts, DryStats
from agent.run._judge import Judging, build_explainers, judge_plan
from agent.run._plan import AuditPlan, AuditSettings
from agent.run._progress import AuditObserver, SilentObserver


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


async def estimate_audit(
    plan: AuditPlan,
    settings: AuditSettings,
    models: list[Model],
    roles: Mapping[str, Model],
    *,
    prompts: PromptLibrary,
    observer: AuditObserver | None = None,
) -> DryRunEstimate:
    """Judge `plan` with stand-ins for `models` (the model under test first) that answer canonically and count."""
    stand_ins: dict[int, Model] = {}
    apis: list[DryAPI] = []
    for model in models:
        api = DryAPI(model.api)
        apis.append(api)
        stand_ins[id(model)] = Model(api, cache=MemoryCache())  # a clean cache, shared by the run
    stats = DryStats()
    subject, role_explainers = build_explainers(
        stand_ins[id(models[0])],
        {role: stand_ins[id(model)] for role, model in roles.items()},
        prompts=prompts,
        seed=settings.run_seed,
        on_trace=None,
        max_tokens=settings.max_tokens,
        dry_stats=stats,
        system_prompt=settings.system_prompt,
    )
    observer = observer or SilentObserver()
    observer.start(plan.total_items, 0, list(stand_ins.values()))
    try:
        await judge_plan(plan, None, Judging(settings, subject, role_explainers, observer, write=lambda record: None))
    finally:
        observer.stop()
    return DryRunEstimate(plan=plan, models={api.name: api.counts for api in apis}, stats=stats)
