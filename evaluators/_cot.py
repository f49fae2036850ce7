"""What the chain-of-thought tests share: parameters for how an item is posed (few-shot demonstrations, option
order), the reference answer in parsed form, and the choice of step positions to perturb."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from agent.errors import ConfigurationError
from agent.items import Demonstration, Item
from agent.paradigms import ParadigmRequest, normalise_gold
from evaluators._base import TestContext, TestParams


class CotParams(TestParams):
    """Parameters every CoT test takes."""

    few_shot: bool = False
    """Show the scenario's baseline few-shot demonstrations (BBH: Turpin's CoT exemplars) before the item."""
    max_demonstrations: int | None = Field(default=None, ge=0)
    """Show at most this many demonstrations (None: all), to fit small models' contexts and budgets."""
    shuffle_options: int | None = None
    """Seed for permuting multiple-choice options before asking (Bentham et al. 2024); None keeps the order."""


def demonstrations(ctx: TestContext, item: Item, variant: str, limit: int | None) -> list[Demonstration] | None:
    """The item's demonstrations of a variant ("baseline", "all_a"), capped; None when the scenario has none."""
    try:
        shown = ctx.demonstrations(item, variant)
    except ConfigurationError:
        return None
    if not shown:
        return None
    return shown[:limit] if limit is not None else shown


def gold_answer(ctx: TestContext, item: Item) -> str | None:
    """The item's reference answer in the form parsed answers take (None when the item has no gold)."""
    return normalise_gold(ParadigmRequest(item=item, task=ctx.task))


def correct(answer: str | None, gold: str | None) -> float | None:
    """1.0 / 0.0 when both exist, else None (an item figure)."""
    if answer is None or gold is None:
        return None
    return 1.0 if answer == gold else 0.0


def spread(positions: Sequence[int], limit: int | None) -> list[int]:
    """At most `limit` positions, evenly spread and always including the first and the last."""
    chosen = list(positions)
    if limit is None or len(chosen) <= limit:
        return chosen
    if limit <= 1:
        return chosen[-1:]
    picks = {round(i * (len(chosen) - 1) / (limit - 1)) for i in range(limit)}
    return [chosen[i] for i in sorted(picks)]
