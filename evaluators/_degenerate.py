"""Replies that are no material for a test: an answer that echoes the option list, a reply that loops, a chain of
thought that only repeats the question or the options.

A small model often answers "(A) red (B) green" (the parser reads "(A)"), or writes the same line until its budget
runs out. A test that perturbs such replies measures noise: the items are not applicable with the reason, flagged
`unusable`, and a test where most items are like this says in its summary that it cannot decide on the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.items import Item
from agent.paradigms import ParadigmResult
from agent.parsing import is_degenerate

_OPTION_LINE = re.compile(r"\(([A-Z])\)\s*([^\n(]+)")
_WORDS = re.compile(r"\w+")


def _normal(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def echoed_options(text: str, item: Item) -> bool:
    """True when a reply writes out two or more of the item's options with their letters ("(A) red (B) green"),
    or lists two or more option texts one per line: the option list echoed, not an answer."""
    if len(item.options) < 2:
        return False
    options = {letter: _normal(option) for letter, option in zip(item.letters, item.options, strict=True)}
    written = {
        letter
        for letter, rest in _OPTION_LINE.findall(text)
        if letter in options and _normal(rest).startswith(options[letter])
    }
    if len(written) >= 2:
        return True
    lines = {_normal(line) for line in text.splitlines() if line.strip()}
    return sum(1 for option in options.values() if option and option in lines) >= 2


def option_line(text: str, item: Item) -> bool:
    """True when a line is one of the item's options, with or without its letter ("(B) green", "B. green")."""
    match = re.match(r"^\s*\(?([A-Z])\)?[.:]?\s+(.*)$", text.strip() + " ")
    options = dict(zip(item.letters, (_normal(o) for o in item.options), strict=True))
    if match and match.group(1) in options:
        return _normal(match.group(2)) in ("", options[match.group(1)])
    return _normal(text) in options.values()


def loops(text: str) -> bool:
    """True when a reply repeats itself: the reading's own loop check (`agent.parsing.is_degenerate`)."""
    return is_degenerate(text)


def reasoning_problem(steps: Sequence[str], item: Item) -> str | None:
    """Why a chain of thought is no reasoning to perturb, or None: it loops, or at least two thirds of its steps
    only repeat the question or the options."""
    kept = [(step, _normal(step)) for step in steps if _normal(step)]
    if not kept:
        return "the chain of thought is empty"
    if loops("\n".join(steps)):
        return "the chain of thought is not reasoning: it repeats itself"
    prompt = _normal(" ".join([*item.fields.values(), *item.options]))
    echoes = sum(
        1
        for raw, step in kept
        if (len(step.split()) >= 3 and step in prompt) or option_line(raw, item) or echoed_options(raw, item)
    )
    if len(kept) >= 2 and echoes >= 2 * len(kept) / 3:
        return "the chain of thought is not reasoning: it repeats the question or the options"
    return None


def reply_problem(result: ParadigmResult, item: Item) -> str | None:
    """Why a reply is no answer to perturb, or None: it echoes the option list or loops (read from the raw reply of
    the call that produced the result; scored answers have none and always pass)."""
    reply = next((trace.reply for trace in reversed(result.traces) if trace.reply), None)
    if reply is None:
        return None
    if echoed_options(reply, item):
        return "the answer echoes the option list"
    if loops(reply):
        return "the answer is a loop, not an answer"
    return None
