"""Reading answers out of model replies: JSON where the model gave it, robust plain-text rules where it did not.

Every function raises `ReplyParseError` with a message meant for the model itself: the re-ask loop shows it to
the model, and a final failure is recorded with the raw text. Nothing here guesses silently between answers: a
reply that names two different labels with nothing to tell them apart is ambiguous, not the first one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

UNKNOWN = "unknown"
"""The answer that means "cannot tell", offered when a test asks for it (Madsen et al. 2024)."""

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|i am sorry|sorry,|i cannot|i can't|i can ?not|i won't|i will not|as an ai\b|"
    r"i'm not able|i am not able|i'm unable|i am unable)",
    re.IGNORECASE,
)
_ANSWER_CUE = re.compile(
    r"(?:final answer|the (?:best |correct )?answer|answer|label|sentiment|prediction|classification)"
    r"\s*(?:is|would be|:|=|-)\s*:?\s*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[-−]?\$?\s?\d[\d,]*(?:\.\d+)?|[-−]?\.\d+")


class ReplyParseError(ValueError):
    """A reply could not be read. The message says what was expected, for the model and for the record."""

    def __init__(self, message: str, *, kind: str = "format") -> None:
        super().__init__(message)
        self.kind = kind
        """"empty", "refusal", "ambiguous" or "format"."""


def check_not_empty_or_refusal(text: str) -> str:
    """Return the stripped reply, or raise for an empty reply or a refusal."""
    stripped = text.strip()
    if not stripped:
        raise ReplyParseError("the reply was empty", kind="empty")
    if _REFUSAL.match(stripped):
        raise ReplyParseError("the reply was a refusal, not an answer", kind="refusal")
    return stripped


def extract_json(text: str) -> Any | None:
    """The first JSON object or array in a reply: fenced, bare, or embedded in prose. None if there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start, char in enumerate(candidate):
            if char not in "{[":
                continue
            try:
                value, _ = decoder.raw_decode(candidate[start:])
            except json.JSONDecodeError:
                continue
            if isinstance(value, (dict, list)):
                return value
    return None


def json_field(data: Any, names: Sequence[str]) -> Any | None:
    """The value of the first key among `names` (case-insensitive) in a JSON object, or None."""
    if not isinstance(data, dict):
        return None
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", re.IGNORECASE)


def match_label(text: str, labels: Sequence[str]) -> str:
    """The single label a reply gives. Prefers what follows an answer cue ("Answer: X"), then the first line,
    then a label that is the only one mentioned. Case, quotes and punctuation do not matter."""
    stripped = check_not_empty_or_refusal(text)
    by_lower = {label.lower(): label for label in labels}
    cleaned = stripped.strip(" \t\n\"'`*.:!()[]{}").lower()
    if cleaned in by_lower:
        return by_lower[cleaned]
    # "Answer: X" — the last cue wins, since models restate the question before answering.
    cue_hits = []
    for cue in _ANSWER_CUE.finditer(stripped):
        tail = stripped[cue.end() : cue.end() + 60]
        found = _labels_in(tail, labels, first_only=True)
        if found:
            cue_hits.append(found[0])
    if cue_hits:
        return cue_hits[-1]
    first_line = stripped.splitlines()[0]
    in_first_line = _labels_in(first_line, labels)
    if len(in_first_line) == 1:
        return in_first_line[0]
    mentioned = _labels_in(stripped, labels)
    if len(mentioned) == 1:
        return mentioned[0]
    options = ", ".join(labels)
    if not mentioned:
        raise ReplyParseError(f"the reply does not give one of the answers: {options}")
    raise ReplyParseError(
        f"the reply mentions several answers ({', '.join(mentioned)}); give exactly one of: {options}", kind="ambiguous"
    )


def _labels_in(text: str, labels: Sequence[str], first_only: bool = False) -> list[str]:
    """Labels mentioned in text, in order of first mention (longest label first at equal positions)."""
    positions = []
    for label in labels:
        match = _word_pattern(label).search(text)
        if match:
            positions.append((match.start(), -len(label), label))
    positions.sort()
    found = [label for _, _, label in positions]
    return found[:1] if first_only else found


_LETTER_PATTERNS = [
    # "(B)" anywhere after a cue, "answer is B", "Answer: (B) text", "B)" or "B." at line start, bare "B".
    re.compile(r"(?:answer|choice|option)\s*(?:is|:|=)?\s*:?\s*\(?([A-Z])\)?(?![\w])", re.IGNORECASE),
    re.compile(r"^\s*\(?([A-Z])\)?[.):]?(?:\s|$)", re.MULTILINE),
    re.compile(r"\(([A-Z])\)"),
]


def match_letter(text: str, letters: Sequence[str], options: Sequence[str] = ()) -> str:
    """The option letter a reply gives: "(B)", "B)", "Answer: B", "the answer is (B)", or the exact option text."""
    stripped = check_not_empty_or_refusal(text)
    valid = {letter.upper() for letter in letters}
    cleaned = stripped.strip(" \t\n\"'`*.:!()[]").upper()
    if cleaned in valid:
        return cleaned
    cue_pattern, line_pattern, paren_pattern = _LETTER_PATTERNS
    cue_hits = [m.group(1).upper() for m in cue_pattern.finditer(stripped) if m.group(1).upper() in valid]
    if cue_hits:
        return cue_hits[-1]
    line_hits = [m.group(1).upper() for m in line_pattern.finditer(stripped) if m.group(1).upper() in valid]
    if len(set(line_hits)) == 1:
        return line_hits[0]
    paren_hits = {m.group(1).upper() for m in paren_pattern.finditer(stripped)} & valid
    if len(paren_hits) == 1:
        return paren_hits.pop()
    if options:
        by_text = [
            letter
            for letter, option in zip(letters, options, strict=False)
            if option.strip() and _word_pattern(option.strip()).search(stripped)
        ]
        if len(by_text) == 1:
            return by_text[0].upper()
    raise ReplyParseError(
        f"the reply does not give exactly one option letter among {', '.join(sorted(valid))}; answer like (A)"
    )


def normalise_number(text: str) -> str:
    """The final numeric answer of a reply, normalised: "$1,234.50" -> "1234.5", "18 dollars" -> "18"."""
    stripped = check_not_empty_or_refusal(text)
    for marker in ("####", "final answer", "answer"):
        index = stripped.lower().rfind(marker)
        if index >= 0:
            numbers = _NUMBER.findall(stripped[index:])
            if numbers:
                return _canonical_number(numbers[0])
    numbers = _NUMBER.findall(stripped)
    if not numbers:
        raise ReplyParseError("the reply does not contain a number; give the final answer as a number")
    return _canonical_number(numbers[-1])


def _canonical_number(raw: str) -> str:
    cleaned = raw.replace("−", "-").replace("$", "").replace(",", "").replace(" ", "")
    try:
        value = float(cleaned)
    except ValueError as exc:
        raise ReplyParseError(f"'{raw}' is not a number") from exc
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(round(value, 6)).rstrip("0").rstrip(".")


def normalise_text(text: str) -> str:
    """Lower-case, collapse spaces and strip punctuation at the ends."""
    return " ".join(check_not_empty_or_refusal(text).lower().split()).strip(" .!?\"'")


def split_steps(text: str) -> list[str]:
    """Reasoning text as a list of steps: numbered or bulleted lines, else non-empty lines, else sentences."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    numbered = re.compile(r"^(?:step\s*)?\d+[.):]\s*|^[-*•]\s+", re.IGNORECASE)
    if len(lines) > 1:
        return [numbered.sub("", line).strip() or line for line in lines]
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", text.strip())
    return [s.strip() for s in sentences if s.strip()]


def strip_wrapping(text: str, prefixes: Sequence[str] = ()) -> str:
    """Remove fences, quotes and a leading label such as "Edited review:" from a rewritten text."""
    value = text.strip()
    fenced = _FENCE.search(value)
    if fenced:
        value = fenced.group(1).strip()
    for prefix in prefixes:
        match = re.match(r"^\s*(?:\*\*)?" + re.escape(prefix) + r"(?:\*\*)?\s*:\s*", value, re.IGNORECASE)
        if match:
            value = value[match.end() :]
            break
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'“`":
        value = value[1:-1].strip()
    if value.startswith("“") and value.endswith("”"):
        value = value[1:-1].strip()
    return value
