"""The answer space of a request, how each answer is spelled in a reply, and how a reply is read back."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from agent.models import TokenLogprob
from agent.paradigms._types import ParadigmRequest
from agent.parsing import (
    UNKNOWN,
    ReplyParseError,
    extract_json,
    json_field,
    match_label,
    match_letter,
    normalise_number,
    normalise_text,
)

ANSWER_KEYS = ("answer", "label", "final_answer", "choice", "prediction", "sentiment", "option")
_UNKNOWN_PHRASES = re.compile(
    r"^\W*(?:unknown|cannot (?:be )?(?:tell|determined?)|can ?not (?:be )?(?:tell|determined?)|"
    r"can't (?:tell|determine|be determined)|not (?:possible|enough information) to (?:tell|determine)|undetermined)\b",
    re.IGNORECASE,
)
_UNKNOWN_ANYWHERE = re.compile(
    r"\bunknown\b|cannot (?:be )?(?:tell|determined?)|can't (?:tell|be determined)|not enough information",
    re.IGNORECASE,
)


def answer_space(request: ParadigmRequest) -> list[str]:
    """Labels, option letters, or [] for free form; "unknown" appended when the request allows it."""
    answers = request.item.answer_space(request.task)
    if request.allow_unknown and answers:
        unknown = request.task.unknown_label or UNKNOWN
        if unknown not in answers:
            answers.append(unknown)
    return answers


def unknown_answer(request: ParadigmRequest) -> str:
    """What "cannot tell" is called in this request."""
    return request.task.unknown_label or UNKNOWN


def spoken(request: ParadigmRequest, answer: str) -> str:
    """How the prompt asks an answer to be written: a label as is, an option letter as "(A)"."""
    if request.task.kind == "multiple_choice" and answer in request.item.letters:
        return f"({answer})"
    return answer


def parse_answer(request: ParadigmRequest, text: str) -> tuple[str, str]:
    """Read the answer from a reply: (answer, "json" | "text"). Raises ReplyParseError."""
    data = extract_json(text)
    value = json_field(data, ANSWER_KEYS)
    if isinstance(value, (str, int, float)) and str(value).strip():
        return _read(request, str(value)), "json"
    return _read(request, text), "text"


def _read(request: ParadigmRequest, text: str) -> str:
    task, item = request.task, request.item
    if request.allow_unknown and _UNKNOWN_PHRASES.match(text.strip()):
        return unknown_answer(request)
    if task.kind in ("classification", "multiple_choice"):
        try:
            if task.kind == "classification":
                return match_label(text, answer_space(request))
            return match_letter(text, item.letters, item.options)
        except ReplyParseError:
            # "It cannot be determined." names no label but is a clear "unknown" when that answer is offered.
            if request.allow_unknown and _UNKNOWN_ANYWHERE.search(text):
                return unknown_answer(request)
            raise
    if task.normaliser == "number":
        return normalise_number(text)
    return normalise_text(text)


def normalise_gold(request: ParadigmRequest) -> str | None:
    """The item's reference answer in the same normal form as parsed answers."""
    gold = request.item.gold
    if gold is None:
        return None
    if request.task.kind == "free_form":
        return normalise_number(gold) if request.task.normaliser == "number" else normalise_text(gold)
    return gold


def softmax(logprobs: Sequence[float]) -> list[float]:
    """Normalise log-probabilities over a closed set of answers."""
    top = max(logprobs)
    weights = [math.exp(x - top) for x in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


TOP_LOGPROBS = 20
"""Alternatives asked per position when reading answer probabilities from an API (OpenAI's maximum)."""
_EDGE = " \t\n\"'`*([{<_"
_TAIL = " \t\n\"'`*)]}>_.,:;!?"


def _core(text: str) -> str:
    return text.strip(_EDGE).rstrip(_TAIL).strip(_EDGE).lower()


def distribution_from_logprobs(
    request: ParadigmRequest, logprobs: Sequence[TokenLogprob] | None, answer: str
) -> dict[str, float] | None:
    """Answer probabilities from the top log-probabilities at the answer's position in a generated reply.

    The answer's position is the first token (after any `</think>`) whose core (the token without spaces, quotes,
    brackets and markdown) starts the answer that was read: "negative" in "Answer: negative", "B" in "(B)". Each
    answer gets the probability of the alternatives there whose core starts its own spelling (" Negative",
    "negative" and "neg" all count for "negative"); an alternative that starts two answers cannot be split and is
    left out, and an answer none of whose tokens is among the top ones gets 0 (its true probability is below the
    smallest one listed). The masses are then normalised over the answers. None when there are no log-probabilities,
    the position is not found, or the read answer's own token is ambiguous.
    """
    answers = answer_space(request)
    if not logprobs or not answers or answer not in answers:
        return None
    spellings = {a: _core(spoken(request, a)) for a in answers}
    start = 0
    text = ""
    for index, entry in enumerate(logprobs):
        text += entry.token
        if re.search(r"</(?:think|thinking|reasoning)>\s*$", text, re.IGNORECASE):
            start = index + 1
    target = spellings[answer]
    cores = [_core(token.token) for token in logprobs]
    position = next((i for i in range(start, len(logprobs)) if cores[i] and target.startswith(cores[i])), None)
    if position is None:
        return None
    entry = logprobs[position]
    alternatives = dict(entry.top) if entry.top else {}
    alternatives.setdefault(entry.token, entry.logprob)
    mass = dict.fromkeys(answers, 0.0)
    for token, logprob in alternatives.items():
        core = _core(token)
        if not core:
            continue
        owners = [a for a, spelling in spellings.items() if spelling.startswith(core)]
        if len(owners) == 1:
            mass[owners[0]] += math.exp(logprob)
        elif len(owners) > 1 and token == entry.token:
            return None  # the generated token itself starts several answers: no reading of it is sound
    total = sum(mass.values())
    if total <= 0:
        return None
    return {a: m / total for a, m in mass.items()}
