"""What a paradigm's reply looks like, in the three forms the backends need: a JSON reply schema (structured
outputs), a Lark grammar of the plain-text format (constrained decoding on local models), and a canonical reply
(the dry run's stand-in answer). Each paradigm composes its own from these pieces.

Grammars are single regular expressions wrapped as `start: /…/`: llguidance's lexer treats a rule of separate
free-text terminals ("a line", then "Answer: X") as ambiguous and never accepts, while one regular expression over
the whole reply is matched exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from agent.items import Item
from agent.paradigms._answers import answer_space, spoken
from agent.paradigms._types import ParadigmRequest

MAX_STEPS = 12
"""The most reasoning lines a chain-of-thought grammar allows before the answer line."""
_LINE = r"[^\n]{1,400}"
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_CANONICAL_STEPS = (
    "First, read the input: {quote}",
    "Next, check each possible answer against it.",
    "Finally, keep the answer that fits best.",
)


# --- reply schemas ------------------------------------------------------------------------------------------------


def answer_type(request: ParadigmRequest) -> Any:
    """The type of the `answer` field: one of the spoken answers (an enum), or a string for free-form tasks."""
    answers = [spoken(request, a) for a in answer_space(request)]
    return Literal[tuple(answers)] if answers else str


def reply_model(name: str, **fields: Any) -> type[BaseModel]:
    """A closed pydantic model (no other keys) of a reply: `reply_model("Answer", answer=(str, ...))`."""
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def words_type(k: int, with_scores: bool) -> Any:
    """A list of 1..k words, or of {word, score} objects."""
    if with_scores:
        item = reply_model("ScoredWord", word=(str, ...), score=(float, Field(ge=0, le=1)))
        return (list[item], Field(min_length=1, max_length=k))  # type: ignore[valid-type]
    return (list[str], Field(min_length=1, max_length=k))


def json_schema_text(model: type[BaseModel]) -> str:
    """The JSON schema of a reply model, as compact JSON text (hashable, cache-friendly)."""
    return json.dumps(model.model_json_schema(), sort_keys=True, separators=(",", ":"))


# --- grammars -----------------------------------------------------------------------------------------------------


def literal(text: str) -> str:
    """`text` as a regular expression matching exactly it (every ASCII punctuation mark escaped)."""
    return "".join("\\" + c if c.isascii() and not c.isalnum() and c not in " _" else c for c in text)


def one_of(texts: Sequence[str]) -> str:
    """A regular expression matching exactly one of `texts` (longest first, so none hides another)."""
    return "(" + "|".join(literal(t) for t in sorted(set(texts), key=len, reverse=True)) + ")"


def lark(regex: str) -> str:
    """A one-rule Lark grammar whose whole reply matches `regex`."""
    return "start: /" + re.sub(r"(?<!\\)/", r"\/", regex) + "/"


def answer_regex(request: ParadigmRequest) -> str:
    """The answer as the prompt spells it: one spoken answer, a number, or a short line (free form)."""
    answers = answer_space(request)
    if answers:
        return one_of([spoken(request, a) for a in answers])
    if request.task.normaliser == "number":
        return r"-?[0-9][0-9,]*(\.[0-9]+)?"
    return r"[^\n]{1,100}"


def answer_line_regex(request: ParadigmRequest) -> str:
    """The final answer line `_answer_line.j2` asks for."""
    if request.task.kind == "multiple_choice":
        return literal("The best answer is: ") + answer_regex(request)
    return literal("Answer: ") + answer_regex(request)


def reasoning_then_answer(request: ParadigmRequest, min_lines: int = 1) -> str:
    """Reasoning lines, then the final answer line (chains of thought, explanations before the answer)."""
    return f"({_LINE}\\n){{{min_lines},{MAX_STEPS}}}" + answer_line_regex(request)


def words_regex(source: str, k: int) -> str:
    """1..k distinct-looking words of the input, separated by commas (the importance reply)."""
    words = sorted({w for w in re.findall(r"[\w'’-]+", source) if any(c.isalnum() for c in w)})
    word = one_of(words) if words else r"[^\n,]{1,40}"
    return f"{word}(, {word}){{0,{max(0, k - 1)}}}"


def edit_regex(text: str) -> str:
    """The input word by word, each word kept, or replaced by one or two other words (a minimal edit by
    construction: no answer, no comment; a changed word may bring one inserted word, "good" -> "not good")."""
    other = r"[^\s]{1,30}"
    return " ".join(f"({literal(word)}|{other}( {other})?)" for word in text.split())


def redaction_regex(text: str, token: str) -> str:
    """The input word by word, each word kept or replaced by the redaction token (punctuation kept)."""
    pieces = re.findall(r"\S+", text)
    out = []
    for piece in pieces:
        core = re.match(r"^(\W*)(.*?)(\W*)$", piece)
        assert core is not None
        lead, word, trail = core.groups()
        if word:
            out.append(literal(lead) + "(" + literal(word) + "|" + literal(token) + ")" + literal(trail))
        else:
            out.append(literal(piece))
    return " ".join(out)


# --- canonical replies (dry runs) -----------------------------------------------------------------------------------


def canonical_answer(request: ParadigmRequest) -> str:
    """The reference answer as the prompt spells it when it is on offer, else the first answer (free form: the gold
    or 42)."""
    answers = answer_space(request)
    gold = request.item.gold
    if not answers:
        return gold or "42"
    return spoken(request, gold if gold in answers else answers[0])


def quote(item: Item, words: int = 6) -> str:
    """The start and end of the item's text (items of one dataset often share a long opening), so that replies
    built from it differ between items as real replies would."""
    tokens = " ".join(item.fields.values()).split()
    if len(tokens) <= 2 * words:
        return " ".join(tokens)
    return " ".join(tokens[:words]) + " … " + " ".join(tokens[-words:])


def because(item: Item) -> str:
    """A canonical one-sentence explanation quoting the item."""
    return f"The words '{quote(item)}' point to this answer."


def important_words(item: Item, k: int) -> list[str]:
    """The first k distinct words (three letters or more) of the item's text."""
    words: list[str] = []
    for word in _WORD.findall(item.target_text):
        if word.lower() not in {w.lower() for w in words}:
            words.append(word)
        if len(words) == k:
            break
    return words or [item.target_text.split()[0] if item.target_text.split() else "text"]


def redacted_first_word(text: str, token: str) -> str:
    """The text with its first word redacted."""
    words = text.split()
    if not words:
        return token
    return " ".join([token, *words[1:]])


def canonical_steps(item: Item) -> list[str]:
    """Three reasoning steps, the first quoting the item."""
    return [step.format(quote=quote(item)) for step in _CANONICAL_STEPS]
