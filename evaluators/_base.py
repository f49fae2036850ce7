"""The faithfulness-test protocol: registered objects with fixed names, typed parameters and typed verdicts."""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.errors import ConfigurationError, FaithcheckError
from agent.explainer import Explainer
from agent.items import Demonstration, Item, Task, TaskKind
from agent.models import Model
from agent.paradigms import ParadigmResult
from agent.prompts import RenderedPrompt
from agent.structured import Asked
from evaluators._verdict import (
    EXCESS,
    Evidence,
    Figure,
    Outcome,
    TestSummary,
    Verdict,
    summarise_outcomes,
)

T = TypeVar("T")

ROLES = ("editor", "judge", "generator", "simulator")
"""Helper roles a test may give to another model (default: the model under test)."""

UNUSABLE = "unusable"
"""Item figure set to 1.0 on a verdict whose model reply was no usable material for the test (a chain of thought
that is not reasoning, an echoed option list): such items are not applicable, and count toward `cannot_decide`."""
CANNOT_DECIDE_SHARE = 0.5
"""A test cannot decide on a model when at least this share of its items had unreadable or unusable replies."""


def role_explainer(subject: Explainer, role: str, model: Model | Explainer | None = None) -> Explainer:
    """The explainer for a helper role: every setting of the subject's (prompts, re-asks, generation budgets, seed,
    trace sink), recording calls under `role`. Another model keeps its own declared capabilities (scores, JSON mode);
    the model under test keeps the subject's choices. An Explainer given as `model` is used as it is."""
    if isinstance(model, Explainer):
        return model
    same = model is None or model is subject.model
    return Explainer(
        subject.model if model is None else model,
        prompts=subject.prompts,
        reasks=subject.asker.reasks,
        use_scores=subject.use_scores if same else None,
        json_mode=subject.json_mode if same else None,
        max_tokens=subject.max_tokens,
        seed=subject.seed,
        on_trace=subject.asker.on_trace,
        role=role,
    )


class TestParams(BaseModel):
    """Base for a test's typed parameters (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class TestContext:
    """Everything a test needs to judge items of one scenario for one model."""

    subject: Explainer
    """The model under test."""
    task: Task
    role_explainers: dict[str, Explainer] = field(default_factory=dict)
    """Models in helper roles; a role not given here is played by the model under test."""
    seed: int = 0
    scenario: str | None = None
    demonstrations: Callable[[Item, str], list[Demonstration]] = field(default=lambda item, variant: [])
    """Few-shot demonstrations for an item: variant "baseline" or a biased one (e.g. Turpin's "all_a")."""
    use_judge_for_mentions: bool = False
    """Check mentions with the judge model (paraphrase-tolerant) instead of lexically."""
    pool: Sequence[Item] = ()
    """Every item of the scenario part, in sampled order (not only those still to judge, so that a resumed run draws
    the same): controls that need another item's explanation draw it from here."""

    def role(self, name: str) -> Explainer:
        """The explainer for a helper role (created on first use, recording calls under that role)."""
        if name not in self.role_explainers:
            self.role_explainers[name] = role_explainer(self.subject, name)
        return self.role_explainers[name]

    def others(self, test: str, item: Item, *, same: str | None = None) -> list[Item]:
        """The pool's other items in a seeded order fixed by (run seed, test, item); those sharing `item.meta[same]`
        (e.g. BBH's task) first."""
        others = [other for other in self.pool if other.id != item.id]
        self.rng(test, item, "others").shuffle(others)
        if same is not None and same in item.meta:
            others.sort(key=lambda other: other.meta.get(same) != item.meta[same])
        return others

    def rng(self, test: str, item: Item, salt: str = "") -> random.Random:
        """A random generator seeded by (run seed, test, item): reruns and resumed runs draw the same."""
        digest = hashlib.sha256(f"{self.seed}|{test}|{item.id}|{salt}".encode()).hexdigest()
        return random.Random(int(digest[:16], 16))

    async def ask_role(
        self,
        role: str,
        template: str,
        variables: Mapping[str, Any],
        parse: Callable[[str], T],
        *,
        purpose: str,
        item: Item,
        max_tokens: int = 256,
    ) -> Asked[T]:
        """Ask a helper-role model to do a task described by a template in prompts/roles/."""
        explainer = self.role(role)
        prompt: RenderedPrompt = explainer.prompts.render(template, {"task": self.task, **variables})
        config = explainer.config(purpose, requested=max_tokens).model_copy(update={"json_mode": False})
        hint = {"paradigm": f"role:{purpose}", "role": role, "item": item.model_dump(mode="json"), **variables}
        return await explainer.asker.ask(prompt, parse, purpose=purpose, config=config, hint=hint, item_id=item.id)


class FaithfulnessTest(ABC):
    """A faithfulness test. Subclasses set the class attributes and implement `run_item`."""

    name: ClassVar[str]
    """Fixed registry name, part of the interface (CLI, scenario files, records)."""
    summary: ClassVar[str] = ""
    """One line: what the test checks."""
    reference: ClassVar[str] = ""
    """The paper that defines it."""
    kinds: ClassVar[frozenset[TaskKind]] = frozenset({"classification", "multiple_choice", "free_form"})
    """Task framings it applies to."""
    requires: ClassVar[frozenset[str]] = frozenset()
    """Capabilities the model under test must declare (e.g. {"score"})."""
    roles: ClassVar[tuple[str, ...]] = ()
    """Helper roles it uses."""
    Params: ClassVar[type[TestParams]] = TestParams
    control: ClassVar[str | None] = None
    """The item figure of the test's matched control, for tests that have one: their headline is then the "excess"
    figure (their rate minus the control's, from `figures`), else the faithful rate."""

    def __init__(self, params: Mapping[str, Any] | TestParams | None = None, **overrides: Any) -> None:
        if isinstance(params, TestParams):
            params = params.model_dump()
        try:
            self.params = self.Params.model_validate({**(params or {}), **overrides})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigurationError(f"test '{self.name}': parameter '{where}': {first['msg']}") from None

    def not_applicable_reason(self, ctx: TestContext, item: Item) -> str | None:
        """Why this test cannot judge this item for this model, or None when it can."""
        if ctx.task.kind not in self.kinds:
            return f"{self.name} does not apply to {ctx.task.kind.replace('_', '-')} tasks"
        missing = [c for c in sorted(self.requires) if not getattr(ctx.subject.model.capabilities, c, False)]
        if missing:
            return f"{ctx.subject.model.name} cannot {' or '.join(missing)} (needed by {self.name})"
        return None

    async def evaluate(self, ctx: TestContext, item: Item) -> Verdict:
        """Judge one item: applicability first, then `run_item`; a failed model call becomes an `error` verdict, an
        `ItemStopped` the verdict it carries."""
        reason = self.not_applicable_reason(ctx, item)
        if reason is not None:
            return self.verdict(ctx, item, "not_applicable", reason=reason)
        try:
            return await self.run_item(ctx, item)
        except ItemStopped as stop:
            return self.verdict(ctx, item, stop.outcome, reason=stop.reason, results=stop.results, **stop.fields)
        except FaithcheckError as exc:
            return self.verdict(ctx, item, "error", reason=str(exc))

    @abstractmethod
    async def run_item(self, ctx: TestContext, item: Item) -> Verdict:
        """Judge one item (applicability already checked)."""

    def figures(self, verdicts: Sequence[Verdict]) -> dict[str, Figure]:
        """Test-specific aggregate figures; the default has none."""
        return {}

    def summarise(self, verdicts: Sequence[Verdict], model: str, scenario: str | None = None) -> TestSummary:
        """Counts, faithful rate with Wilson 95% interval, the test's own figures, its headline, and whether it
        could decide at all."""
        summary = summarise_outcomes(self.name, model, list(verdicts), scenario)
        summary.figures = self.figures(verdicts)
        summary.cannot_decide = self.cannot_decide(verdicts)
        # Without a control on any item (records from before controls, or a control turned off), the faithful
        # rate stays the headline: a missing control is not a zero excess. A control tried on every item but
        # unreadable on most of them is another matter: the excess would rest on the few items left.
        tried = [v for v in verdicts if v.decided and self.control is not None and self.control in v.figures]
        if tried and EXCESS in summary.figures:
            summary.headline_name, summary.headline = EXCESS, summary.figures[EXCESS]
            measured = sum(1 for v in tried if v.figures[self.control or ""] is not None)
            if measured < CANNOT_DECIDE_SHARE * len(tried) and summary.cannot_decide is None:
                summary.cannot_decide = f"the matched control could be read on only {measured} of {len(tried)} items"
        return summary

    def cannot_decide(self, verdicts: Sequence[Verdict]) -> str | None:
        """Why this test cannot decide on the model behind these verdicts, or None: at least `CANNOT_DECIDE_SHARE` of
        the items had replies that could not be read or were no usable material (see `UNUSABLE`)."""
        unreadable = sum(1 for v in verdicts if v.outcome == "parse_failure")
        unusable = [v for v in verdicts if v.figures.get(UNUSABLE)]
        if not verdicts or unreadable + len(unusable) < CANNOT_DECIDE_SHARE * len(verdicts):
            return None
        parts = [f"{unreadable} of {len(verdicts)} items had replies that could not be read"] if unreadable else []
        if unusable:
            reasons: dict[str, int] = {}
            for verdict in unusable:
                reasons[verdict.reason or "unusable reply"] = reasons.get(verdict.reason or "unusable reply", 0) + 1
            common = max(reasons, key=lambda r: reasons[r])
            parts.append(f"{len(unusable)} of {len(verdicts)} gave no usable material (most often: {common})")
        return "; ".join(parts)

    def role_names(self, ctx: TestContext) -> dict[str, str]:
        """Role -> model name, for the roles this test uses."""
        return {"subject": ctx.subject.model.name, **{r: ctx.role(r).model.name for r in self.roles}}

    def verdict(
        self,
        ctx: TestContext,
        item: Item,
        outcome: Outcome,
        *,
        results: Sequence[ParadigmResult | Asked[Any] | None] = (),
        **fields: Any,
    ) -> Verdict:
        """A verdict for this test and item, collecting the ids of the calls behind `results`."""
        call_ids: list[str] = list(fields.pop("call_ids", []))
        for result in results:
            if result is None:
                continue
            for trace in result.traces:
                if trace.id not in call_ids:
                    call_ids.append(trace.id)
        return Verdict(
            test=self.name,
            model=ctx.subject.model.name,
            item_id=item.id,
            scenario=ctx.scenario,
            outcome=outcome,
            input=dict(item.fields),
            roles=self.role_names(ctx),
            params=self.params.model_dump(),
            call_ids=call_ids,
            **fields,
        )

    def parse_failure(self, ctx: TestContext, item: Item, result: ParadigmResult | Asked[Any], what: str) -> Verdict:
        """The verdict when a reply the test needed could not be read."""
        failure = result.failure
        detail = f"{failure.error} (raw: {failure.raw[:120]!r})" if failure else "no output"
        return self.verdict(ctx, item, "parse_failure", reason=f"{what}: {detail}", results=[result])


class ItemStopped(Exception):
    """Raised inside `run_item` to end an item early with a verdict that decides nothing (a parse failure, not
    applicable): the test's procedure then reads straight down, as the paper writes it, and `evaluate` turns the
    stop into the verdict, keeping every call made so far."""

    def __init__(
        self,
        outcome: Outcome,
        reason: str,
        results: Sequence[ParadigmResult | Asked[Any] | None] = (),
        **fields: Any,
    ) -> None:
        super().__init__(reason)
        self.outcome: Outcome = outcome
        self.reason = reason
        self.results = list(results)
        self.fields = fields


_TESTS: dict[str, type[FaithfulnessTest]] = {}
_DISCOVERED = False


def register_test(cls: type[FaithfulnessTest]) -> type[FaithfulnessTest]:
    """Class decorator: make a test available by its name."""
    _TESTS[cls.name] = cls
    return cls


def _discover() -> None:
    """Import every public module of the evaluators package once, so their tests register themselves."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import evaluators

    for module in pkgutil.iter_modules(evaluators.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"evaluators.{module.name}")


def test_classes() -> dict[str, type[FaithfulnessTest]]:
    """Every registered test class by name."""
    _discover()
    return dict(_TESTS)


def test_names() -> list[str]:
    """Every registered test name."""
    return list(test_classes())


def get_test(name: str, params: Mapping[str, Any] | None = None) -> FaithfulnessTest:
    """An instance of the named test with its parameters validated."""
    classes = test_classes()
    if name not in classes:
        raise ConfigurationError(f"unknown faithfulness test '{name}': use one of {', '.join(sorted(classes))}")
    return classes[name](params)


__all__ = [
    "EXCESS",
    "ROLES",
    "Evidence",
    "FaithfulnessTest",
    "Figure",
    "ItemStopped",
    "TestContext",
    "TestParams",
    "get_test",
    "register_test",
    "role_explainer",
    "test_classes",
    "test_names",
]
