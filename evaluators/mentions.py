"""Does an explanation mention a word? Lexically by default (case, inflection and quoting tolerant); a judge model
can be asked instead for paraphrased mentions. Verdicts record which method decided."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.items import Item
from agent.parsing import ReplyParseError, check_not_empty_or_refusal
from agent.structured import Asked
from evaluators._base import TestContext
from evaluators._words import stem, stems

__all__ = ["MentionCheck", "ask_judge", "check_mention", "mentions_lexically", "parse_yes_no", "stem", "stems"]


def mentions_lexically(text: str, phrase: str) -> bool:
    """True when the words of `phrase` appear consecutively in `text`, up to case, inflection and quotes."""
    target = stems(phrase)
    if not target:
        return False
    words = stems(text)
    return any(words[i : i + len(target)] == target for i in range(len(words) - len(target) + 1))


@dataclass(frozen=True)
class MentionCheck:
    """The outcome of a mention check and how it was decided."""

    mentioned: bool
    method: str
    """"lexical" or "judge:<model>"."""


def parse_yes_no(text: str) -> bool:
    """A judge's yes/no."""
    first = check_not_empty_or_refusal(text).strip().lower()
    match = re.match(r"^\W*(yes|no)\b", first)
    if match:
        return match.group(1) == "yes"
    found = set(re.findall(r"\b(yes|no)\b", first))
    if len(found) == 1:
        return found.pop() == "yes"
    raise ReplyParseError("answer with only yes or no")


async def ask_judge(ctx: TestContext, item: Item, explanation: str, phrase: str) -> tuple[Asked[bool], str]:
    """The judge model's yes/no on whether `explanation` mentions `phrase` (the call, its value None if unreadable),
    and the judge's model name."""
    asked = await ctx.ask_role(
        "judge",
        "roles/judge-mention",
        {"explanation": explanation, "phrase": phrase},
        parse_yes_no,
        purpose="judge-mention",
        item=item,
        max_tokens=8,
    )
    return asked, ctx.role("judge").model.name


async def check_mention(ctx: TestContext, item: Item, explanation: str, phrase: str) -> MentionCheck:
    """Lexical check, or the judge model's when the context asks for it (falls back to lexical if unreadable)."""
    if not ctx.use_judge_for_mentions:
        return MentionCheck(mentions_lexically(explanation, phrase), "lexical")
    asked, judge = await ask_judge(ctx, item, explanation, phrase)
    if asked.value is None:
        return MentionCheck(mentions_lexically(explanation, phrase), f"lexical (judge {judge} unreadable)")
    return MentionCheck(asked.value, f"judge:{judge}")
