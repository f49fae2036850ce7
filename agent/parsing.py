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

import json_repair

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


_THINK_OPEN = re.compile(r"<(think|thinking|reasoning|thought)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning|thought)>", re.IGNORECASE)
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|no problem|okay|ok|alright)\s*(?:[!.,]|\s(?=here|below|i can))\s*"
    r"(?:i can (?:help|do)[^\n.!]*[.!]\s*|i'?d be (?:happy|glad)[^\n.!]*[.!]\s*)?)?"
    r"(?:(?:here(?:'s| is| are| you go)|below is|the following is)\b[^\n]{0,80}?:\s*)?",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"(?:^|(?<=[.!?])\s+|\n)\s*(?:let me know\b|i hope (?:this|that|it) helps|hope (?:this|that|it) helps|"
    r"feel free\b|if you (?:have|need|want)\b[^\n]*(?:question|help|further|more)|is there anything else\b|"
    r"happy to help\b|good luck\b)[^\n]*$",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^\s*(?:#{1,6}\s+\S.*|(?:\*\*|__)[^*_\n]{1,60}(?:\*\*|__)\s*:?\s*|[^\n]{1,40}:\s*|[-*_]{3,})$")
_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")


class ReplyParseError(ValueError):
    """A reply could not be read. The message says what was expected, for the model and for the record."""

    def __init__(self, message: str, kind: str = "format") -> None:
        super().__init__(message)
        self.kind = kind
        """"empty", "refusal", "ambiguous", "degenerate" or "format"."""


def split_reasoning(text: str) -> tuple[str, str | None]:
    """(visible reply, inline reasoning trace): `<think>…</think>` blocks taken out of the text.

    An unterminated block (cut by the token limit) holds everything after its opening tag; a closing tag with no
    opening one (servers whose chat template opens the block in the prompt) ends a block that began the reply.
    """
    traces: list[str] = []
    visible: list[str] = []
    rest = text
    first_close = _THINK_CLOSE.search(rest)
    first_open = _THINK_OPEN.search(rest)
    if first_close and (first_open is None or first_close.start() < first_open.start()):
        traces.append(rest[: first_close.start()])
        rest = rest[first_close.end() :]
    while True:
        opening = _THINK_OPEN.search(rest)
        if opening is None:
            visible.append(rest)
            break
        visible.append(rest[: opening.start()])
        closing = _THINK_CLOSE.search(rest, opening.end())
        if closing is None:
            traces.append(rest[opening.end() :])
            break
        traces.append(rest[opening.end() : closing.start()])
        rest = rest[closing.end() :]
    trace = "\n\n".join(t.strip() for t in traces if t.strip())
    if not traces:
        return text, None
    return "".join(visible).strip(), trace or None


def strip_chatter(text: str, source: str = "") -> str:
    """The reply without a chatty opening ("Sure! Here is the edited review:") or sign-off ("Let me know if…").

    Nothing that also occurs in `source` (the input a rewrite starts from) is taken for chatter.
    """
    value = text.strip()
    lowered_source = " ".join(source.lower().split())
    for _ in range(3):  # a sign-off may follow another ("Hope this helps! Let me know if…")
        match = _SIGN_OFF.search(value)
        if match is None or " ".join(match.group(0).lower().split()) in lowered_source:
            break
        value = value[: match.start()].strip()
    opening = _PREAMBLE.match(value)
    if (
        opening
        and opening.group(0).strip()
        and value[opening.end() :].strip()
        and " ".join(opening.group(0).lower().split()) not in lowered_source
    ):
        value = value[opening.end() :].strip()
    return value or text.strip()


def plain_markdown(text: str) -> str:
    """Emphasis markers, heading marks and `\\boxed{}` unwrapped, so the words under them can be read."""
    value = _BOXED.sub(lambda m: m.group(1), text)
    value = _EMPHASIS.sub(lambda m: m.group(2), value)
    value = re.sub(r"(?m)^\s*#{1,6}\s+", "", value)
    return value.replace("**", "")


def boxed(text: str) -> str | None:
    """The content of the last `\\boxed{…}` in a reply (the convention of math-trained models), if any."""
    found = _BOXED.findall(text)
    return found[-1].strip() if found else None


def is_heading(line: str) -> bool:
    """A line that only labels what follows ("### Reasoning", "**Steps:**", "---"), not content itself."""
    return bool(_HEADING.match(line)) and len(line.split()) <= 6


def clean_reply(text: str) -> str:
    """A reply as a reader would quote it: without a chatty opening or sign-off, heading lines and emphasis marks."""
    lines = [line for line in strip_chatter(text).splitlines() if not is_heading(line)]
    return plain_markdown("\n".join(lines)).strip()


def is_degenerate(text: str) -> bool:
    """A loop: the same line or sentence three times or more, or a tail that keeps repeating itself."""
    pieces = [" ".join(p.lower().split()) for p in re.split(r"\n+|(?<=[.!?])\s+", text) if p.strip()]
    counts: dict[str, int] = {}
    for piece in pieces:
        if len(piece) >= 3:
            counts[piece] = counts.get(piece, 0) + 1
    if counts and max(counts.values()) >= 3:
        return True
    tail = " ".join(text.split())[-40:]
    return len(tail) >= 20 and " ".join(text.split()).count(tail[: len(tail) // 2]) >= 4


def check_not_empty_or_refusal(text: str) -> str:
    """Return the stripped reply, or raise for an empty reply or a refusal."""
    stripped = text.strip()
    if not stripped:
        raise ReplyParseError("the reply was empty", kind="empty")
    if _REFUSAL.match(stripped):
        raise ReplyParseError("the reply was a refusal, not an answer", kind="refusal")
    return stripped


_JSON_START = re.compile(r"[{\[]\s*(?:[\"'{\[]|$)")
_OPEN_FENCE = re.compile(r"```(?:json|JSON)?\s*")


def extract_json(text: str) -> Any | None:
    """The first JSON object or array in a reply: fenced, bare, or embedded in prose. None if there is none.

    Broken JSON (a trailing comma, single quotes, a reply cut by the token limit) is repaired by json-repair; a
    value the cut left unfinished is dropped rather than read as if whole (`{"words": ["plot", "wood` gives
    `{"words": ["plot"]}`).
    """
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
    return _repaired_json(text)


def _repaired_json(text: str) -> Any | None:
    start = _JSON_START.search(text)
    if start is None:
        return None
    candidate = _OPEN_FENCE.sub("", text[start.start() :]).rstrip().removesuffix("```").rstrip()
    try:
        value = json_repair.loads(candidate)
    except Exception:  # json-repair gives up on some inputs by raising; that is "no JSON here"
        return None
    if not isinstance(value, (dict, list)) or not value:
        return None
    if not candidate.endswith(("}", "]", '"')):
        value = _without_cut_tail(value)
    return value or None


def _without_cut_tail(value: Any) -> Any:
    """Drop the last (unfinished) string of a JSON value the token limit cut."""
    if isinstance(value, list) and value:
        if isinstance(value[-1], str):
            return value[:-1]
        return [*value[:-1], _without_cut_tail(value[-1])]
    if isinstance(value, dict) and value:
        last = list(value)[-1]
        if isinstance(value[last], str):
            return {k: v for k, v in value.items() if k != last}
        return {**value, last: _without_cut_tail(value[last])}
    return value


def looks_like_json(text: str) -> bool:
    """Whether a reply is (a piece of) JSON rather than prose: it opens, fenced or not, with `{` or `[` followed by
    a quote, another bracket or nothing (`[REDACTED] food…` is prose)."""
    stripped = _OPEN_FENCE.sub("", text.strip(), count=1).lstrip() if text.strip().startswith("```") else text.strip()
    return bool(_JSON_START.match(stripped))


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
    inside_box = boxed(stripped)
    if inside_box is not None and inside_box != stripped:
        try:
            return match_label(inside_box, labels)
        except ReplyParseError:
            pass  # a box holding something else: read the whole reply
    stripped = plain_markdown(stripped)
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
# Prose that names a letter without "answer": "I would choose B.", "I'd go with (C)", "B is correct". The letter
# must be a capital here: "I would pick a date" names no option.
_PROSE_LETTER = re.compile(
    r"(?i:\b(?:choose|pick|select|go with|opt for|settle on|goes? to)\s+(?:option\s+|choice\s+|answer\s+)?)"
    r"\(?([A-Z])\)?(?![\w'])"
    r"|(?<![\w(])\(?([A-Z])\)?\s+(?i:is (?:the )?(?:correct|right|best|most (?:likely|plausible))\b)"
)


def match_letter(text: str, letters: Sequence[str], options: Sequence[str] = ()) -> str:
    """The option letter a reply gives: "(B)", "B)", "Answer: B", "the answer is (B)", "I would choose B",
    `\\boxed{B}`, or the exact option text. An echoed list of the options is not an answer."""
    stripped = check_not_empty_or_refusal(text)
    valid = {letter.upper() for letter in letters}
    inside_box = boxed(stripped)
    if inside_box is not None and inside_box != stripped:
        try:
            return match_letter(inside_box, letters, options)
        except ReplyParseError:
            pass  # a box holding something else: read the whole reply
    stripped = _without_echoed_options(plain_markdown(stripped), letters, options)
    if not stripped.strip(" \t\n.,;:"):
        raise ReplyParseError("the reply only repeats the answer choices; give the letter of one, like (A)")
    cleaned = stripped.strip(" \t\n\"'`*.:!()[]").upper()
    if cleaned in valid:
        return cleaned
    cue_pattern, line_pattern, paren_pattern = _LETTER_PATTERNS
    cue_hits = [m.group(1).upper() for m in cue_pattern.finditer(stripped) if m.group(1).upper() in valid]
    if cue_hits:
        return cue_hits[-1]
    prose_hits = [(m.group(1) or m.group(2)) for m in _PROSE_LETTER.finditer(stripped)]
    prose_hits = [letter for letter in prose_hits if letter in valid]
    if prose_hits:
        return prose_hits[-1]
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


def _without_echoed_options(text: str, letters: Sequence[str], options: Sequence[str]) -> str:
    """The reply minus the answer choices it repeats ("(A) 07/11/2017 … (F) 06/11/2017"), when it repeats two or
    more: a restated option list names every letter and answers nothing."""
    spans: list[tuple[int, int]] = []
    for letter, option in zip(letters, options, strict=False):
        if not option.strip():
            continue
        pattern = re.compile(r"\(?" + re.escape(letter) + r"\)[ \t:.-]*" + re.escape(option.strip()), re.IGNORECASE)
        spans.extend(m.span() for m in pattern.finditer(text))
    if len({text[a:b][:3] for a, b in spans}) < 2:
        return text
    kept, position = [], 0
    for start, end in sorted(spans):
        if start >= position:
            kept.append(text[position:start])
            position = end
    kept.append(text[position:])
    return " ".join(kept)


_FINAL_CUE = re.compile(
    r"final answer|\b(?:the )?(?:best |correct |right |most likely |final )?answer (?:is|would be|must be|should be)\b|"
    r"\banswer\s*[:=]|\bso the answer\b|####|\\boxed|"
    r"\bi(?: would|'d| will)? (?:choose|pick|go with|select|opt for)\b|"
    r"\b(?:the )?(?:correct |right |best )(?:option|choice) is\b",
    re.IGNORECASE,
)


def split_at_final_answer(text: str) -> tuple[str, str] | None:
    """(what comes before, the final answer's sentence) at the last answer cue, or None when there is none.

    The answer's sentence starts at the line or sentence where the cue is: "… so it is blue. Therefore, the answer
    is (C)." gives the reasoning "… so it is blue." and "Therefore, the answer is (C).", in one paragraph or not.
    """
    cues = list(_FINAL_CUE.finditer(text))
    if not cues:
        return None
    cue = cues[-1].start()
    boundaries = [m.end() for m in re.finditer(r"\n|(?<=[.!?])\s+(?=\S)", text[:cue])]
    start = boundaries[-1] if boundaries else 0
    return text[:start], text[start:]


def normalise_number(text: str) -> str:
    """The final numeric answer of a reply, normalised: "$1,234.50" -> "1234.5", "18 dollars" -> "18".

    math-verify reads it first (LaTeX such as `\\frac{3}{4}`, `\\boxed{1{,}234}`, `10^3`, "1 200": 15 of 15 on our
    sample against 11 of 15 for the rules below, which read what it gives up on).
    """
    stripped = check_not_empty_or_refusal(text)
    verified = _math_verify_number(stripped)
    if verified is not None:
        return verified
    inside_box = boxed(stripped)
    if inside_box is not None:
        numbers = _NUMBER.findall(inside_box.replace("\\,", ","))
        if numbers:
            return _canonical_number(numbers[-1])
    stripped = plain_markdown(stripped)
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


def _math_verify_number(text: str) -> str | None:
    """The number math-verify reads as the reply's final answer, canonical, or None."""
    from math_verify import parse  # imported on the first numeric reply: it loads sympy (~1 s)

    try:
        values = parse(text, parsing_timeout=None)  # no signal-based timeout: we may be off the main thread
    except Exception:  # math-verify gives up by raising on some inputs; our own rules then read the reply
        return None
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number == number and abs(number) != float("inf"):
            return _canonical_number(repr(number))
    return None


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
    """Reasoning text as a list of steps: numbered or bulleted lines, else non-empty lines, else sentences.

    Headings ("### Reasoning", "**Steps:**"), a chatty opening and a sign-off are not steps, and markdown
    emphasis is dropped, so the steps the CoT tests cut, paraphrase and corrupt are the reasoning itself.
    """
    text = strip_chatter(text)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip() and not is_heading(line)]
    numbered = re.compile(r"^(?:\**step\s*\d+\**\s*[.):]?\**\s*|\d+[.):]\s*|[-*•]\s+)", re.IGNORECASE)
    if len(lines) > 1:
        steps = [plain_markdown(numbered.sub("", line).strip() or line).strip() for line in lines]
        return [step for step in steps if step]
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(\"“'])", " ".join(lines))
    return [plain_markdown(s).strip() for s in sentences if s.strip()]


def strip_wrapping(text: str, prefixes: Sequence[str] = (), source: str = "") -> str:
    """Remove fences, quotes, a chatty opening or sign-off and a leading label such as "Edited review:" from a
    rewritten text (nothing that also occurs in `source`, the text being rewritten)."""
    value = strip_chatter(text, source)
    fenced = _FENCE.search(value)
    if fenced:
        value = fenced.group(1).strip()
    for prefix in prefixes:
        match = re.match(
            r"^\s*(?:\*\*|__)?" + re.escape(prefix) + r"(?:\*\*|__)?\s*:(?:\*\*|__)?\s*", value, re.IGNORECASE
        )
        if match:
            value = value[match.end() :]
            break
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'“`":
        value = value[1:-1].strip()
    if value.startswith("“") and value.endswith("”"):
        value = value[1:-1].strip()
    return value
