"""Run faithfulness tests over items from Python: concurrently, with shared work, and hooks for records and resume.

from agent import get_model
from agent.scenarios import load_scenario, load_data
from evaluators.runner import run_tests_sync
data = load_data(load_scenario("dynasent"), limit=20)
result = run_tests_sync(get_model("smollm2"), data.task, data.items, ["counterfactual", "redaction"])
for summary in result.summaries: print(summary.test, summary.headline_name, summary.headline, summary.faithful_rate)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent._sync import run_sync
from agent.explainer import Explainer
from agent.items import Demonstration, Item, Task
from agent.models import Model
from evaluators._base import FaithfulnessTest, TestContext, get_test, role_explainer
from evaluators._verdict import TestSummary, Verdict


@dataclass
class TestRun:
    """Verdicts and per-test summaries of one model on one set of items."""

    verdicts: list[Verdict] = field(default_factory=list)
    summaries: list[TestSummary] = field(default_factory=list)

    def summary(self, test: str) -> TestSummary:
        """The summary of one test."""
        return next(s for s in self.summaries if s.test == test)


def resolve_tests(
    tests: Sequence[str | FaithfulnessTest], params: Mapping[str, Mapping[str, Any]] | None = None
) -> list[FaithfulnessTest]:
    """Test names (or instances) to instances, with per-test parameters."""
    params = params or {}
    return [t if isinstance(t, FaithfulnessTest) else get_test(t, params.get(t)) for t in tests]


async def run_tests(
    subject: Model | Explainer,
    task: Task,
    items: Sequence[Item],
    tests: Sequence[str | FaithfulnessTest],
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    roles: Mapping[str, Model | Explainer] | None = None,
    demonstrations: Callable[[Item, str], list[Demonstration]] | None = None,
    seed: int = 0,
    scenario: str | None = None,
    concurrency: int = 4,
    use_judge_for_mentions: bool = False,
    skip: set[tuple[str, str]] | None = None,
    on_verdict: Callable[[Verdict], None] | None = None,
    pool: Sequence[Item] | None = None,
) -> TestRun:
    """Judge every (item, test) pair, `concurrency` items at a time; all tests of an item share one Explainer, so
    its base answer and explanations are asked once. `skip` holds (test, item id) pairs already done (resume);
    `on_verdict` sees each verdict as soon as it exists. `pool` is every item of the scenario part (default:
    `items`): controls that stand another item's explanation in for this one's draw from it, so a resumed run,
    which judges only the items left, must pass the whole part."""
    explainer = subject if isinstance(subject, Explainer) else Explainer(subject, seed=seed)
    # Role explainers keep every setting of the subject's (budgets, re-asks, prompts, seed, trace sink).
    role_explainers = {role: role_explainer(explainer, role, model) for role, model in (roles or {}).items()}
    ctx = TestContext(
        subject=explainer,
        task=task,
        role_explainers=role_explainers,
        seed=seed,
        scenario=scenario,
        demonstrations=demonstrations or (lambda item, variant: []),
        use_judge_for_mentions=use_judge_for_mentions,
        pool=list(items) if pool is None else list(pool),
    )
    instances = resolve_tests(tests, params)
    skip = skip or set()
    limiter = asyncio.Semaphore(max(1, concurrency))
    verdicts: list[Verdict] = []

    async def judge_item(item: Item) -> None:
        async with limiter:
            pending = [t for t in instances if (t.name, item.id) not in skip]
            for verdict in await asyncio.gather(*(t.evaluate(ctx, item) for t in pending)):
                verdicts.append(verdict)
                if on_verdict is not None:
                    on_verdict(verdict)

    await asyncio.gather(*(judge_item(item) for item in items))
    order = {item.id: i for i, item in enumerate(items)}
    verdicts.sort(key=lambda v: (v.test, order.get(v.item_id, 0)))
    summaries = [
        t.summarise([v for v in verdicts if v.test == t.name], explainer.model.name, scenario) for t in instances
    ]
    return TestRun(verdicts, summaries)


def run_tests_sync(*args: Any, **kwargs: Any) -> TestRun:
    """Blocking `run_tests`."""
    return run_sync(run_tests(*args, **kwargs))
