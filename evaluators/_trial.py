"""One test's run on one item: the asking, reading and bookkeeping every test's procedure needs, in one place.

A `Trial` asks the model under test and the helper roles, keeps every call for the verdict (in the order the calls
were made, so two runs record the same), ends the item with a parse failure when a reply the procedure needs cannot
be read (`need`), and builds the verdict. What remains in a test's `run_item` is the paper's procedure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from agent.items import Demonstration, Item
from agent.paradigms import ParadigmResult, Prediction
from agent.structured import Asked
from evaluators._base import UNUSABLE, ItemStopped, TestContext
from evaluators._degenerate import reply_problem
from evaluators._verdict import Outcome, Verdict

if TYPE_CHECKING:
    from evaluators._base import FaithfulnessTest

T = TypeVar("T")
Result = ParadigmResult | Asked[Any]


def failure_text(result: Result | None, limit: int = 120) -> str:
    """A failed call in one line: its error and the start of the raw reply."""
    failure = result.failure if result is not None else None
    return f"{failure.error} (raw: {failure.raw[:limit]!r})" if failure else "no output"


def answer_text(prediction: Prediction) -> str:
    """An answer as evidence shows it, with its distribution where the backend scored one."""
    if prediction.distribution is None:
        return prediction.answer
    shown = ", ".join(f"{a}={p:.2f}" for a, p in prediction.distribution.items())
    return f"{prediction.answer} ({shown})"


class Trial:
    """The calls of one (test, item) pair and the verdict they lead to."""

    def __init__(self, test: FaithfulnessTest, ctx: TestContext, item: Item) -> None:
        self.test = test
        self.ctx = ctx
        self.item = item
        self.results: list[Result | None] = []

    async def _record(self, call: Awaitable[T]) -> T:
        slot = len(self.results)
        self.results.append(None)  # the slot is taken when the call starts, so the order never depends on timing
        result = await call
        self.results[slot] = result  # type: ignore[call-overload]
        return result

    async def ask(
        self,
        paradigm: str,
        item: Item | None = None,
        *,
        demonstrations: Sequence[Demonstration] | None = None,
        **params: Any,
    ) -> ParadigmResult:
        """Run a paradigm for the model under test (memoised per request), by default on this item with its
        baseline demonstrations."""
        target = item or self.item
        shown = self.ctx.demonstrations(target, "baseline") if demonstrations is None else demonstrations
        return await self._record(self.ctx.subject.ask(paradigm, target, self.ctx.task, demonstrations=shown, **params))

    async def ask_role(
        self,
        role: str,
        template: str,
        variables: Mapping[str, Any],
        parse: Callable[[str], T],
        *,
        purpose: str,
        max_tokens: int = 256,
        item: Item | None = None,
    ) -> Asked[T]:
        """Ask a helper-role model to do a task described by a template in prompts/roles/."""
        call = self.ctx.ask_role(
            role, template, variables, parse, purpose=purpose, item=item or self.item, max_tokens=max_tokens
        )
        return await self._record(call)

    def keep(self, *results: Result | None) -> None:
        """Count calls made elsewhere (e.g. by a shared helper) toward this verdict."""
        self.results.extend(results)

    def need(self, value: T | None, result: Result | None, what: str) -> T:
        """`value`, or end the item as a parse failure of `result` when it is None."""
        if value is None:
            self.stop("parse_failure", f"{what}: {failure_text(result)}")
        return value

    def usable(self, result: ParadigmResult, item: Item | None = None) -> None:
        """End the item as not applicable (flagged unusable) when a reply is no answer to perturb: it echoes the
        option list or loops (`evaluators._degenerate`)."""
        problem = reply_problem(result, item or self.item)
        if problem is not None:
            self.stop("not_applicable", problem, figures={UNUSABLE: 1.0})

    def stop(self, outcome: Outcome, reason: str, **fields: Any) -> NoReturn:
        """End the item with a verdict that decides nothing (not applicable, parse failure), keeping the calls."""
        raise ItemStopped(outcome, reason, self.results, **fields)

    def verdict(self, outcome: Outcome, **fields: Any) -> Verdict:
        """The verdict, with every call made so far."""
        return self.test.verdict(self.ctx, self.item, outcome, results=self.results, **fields)

    def decide(self, faithful: bool, **fields: Any) -> Verdict:
        """A faithful or unfaithful verdict."""
        return self.verdict("faithful" if faithful else "unfaithful", **fields)
