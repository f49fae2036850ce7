"""Shared moves of the input-perturbation tests: ask the model under test (through the memoising Explainer), read
answer distributions, and measure edits."""

from __future__ import annotations

from typing import Any

from agent.items import Item
from agent.paradigms import ParadigmResult, Prediction
from evaluators._base import TestContext
from evaluators._metrics import total_variation


async def ask_subject(
    ctx: TestContext, paradigm: str, item: Item, *, allow_unknown: bool, **params: Any
) -> ParadigmResult:
    """Run a paradigm for the model under test with the item's baseline demonstrations (memoised per request)."""
    return await ctx.subject.ask(
        paradigm,
        item,
        ctx.task,
        demonstrations=ctx.demonstrations(item, "baseline"),
        allow_unknown=allow_unknown,
        **params,
    )


def distribution_shift(before: Prediction, after: Prediction) -> float | None:
    """Total variation distance between two answer distributions (None unless both exist)."""
    if before.distribution is None or after.distribution is None:
        return None
    return total_variation(before.distribution, after.distribution)


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two texts counted in whitespace-separated words."""
    x, y = a.split(), b.split()
    previous = list(range(len(y) + 1))
    for i, word in enumerate(x, start=1):
        current = [i]
        for j, other in enumerate(y, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]
