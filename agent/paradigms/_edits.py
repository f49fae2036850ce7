"""Edits of the input proposed by the model itself: counterfactuals and redactions (Madsen et al. 2024)."""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from agent.paradigms._answers import answer_space, spoken, unknown_answer
from agent.paradigms._base import Paradigm, Session, register_paradigm
from agent.paradigms._formats import edit_regex, lark, redacted_first_word, redaction_regex, reply_model
from agent.paradigms._types import Counterfactual, ParadigmRequest, ParadigmResult, Redaction
from agent.parsing import (
    ReplyParseError,
    check_not_empty_or_refusal,
    extract_json,
    json_field,
    looks_like_json,
    strip_wrapping,
)
from agent.structured import ParseFailure

REDACTION_TOKEN = "[REDACTED]"
_REDACTION_VARIANTS = re.compile(r"\[\s*redacted\s*\]|<\s*redacted\s*>|\bREDACTED\b", re.IGNORECASE)
EDIT_KEYS = ("edited", "edited_text", "text", "counterfactual", "redacted", "redacted_text", "output", "rewrite")
MAX_GROWTH = 4.0
"""An "edit" more than this many times longer than the original is a different text, not an edit."""
MIN_KEPT = 0.3
"""An edit keeps at least this share of the original's words (in order, by difflib's matching): less is a new text
(an answer, a comment), not a variant of the input."""
_WORDS = re.compile(r"[\w'’-]+")


def kept_share(original: str, rewritten: str) -> float:
    """The share of the original's words that the rewrite keeps in order (1.0 for an unchanged text)."""
    before = [w.lower() for w in _WORDS.findall(original)]
    after = [w.lower() for w in _WORDS.findall(rewritten)]
    if not before:
        return 1.0
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(before)


def parse_rewrite(text: str, original: str, field: str, min_kept: float = MIN_KEPT) -> str:
    """A rewritten version of the input from a reply: a JSON field, or the text minus chatter, labels, quotes and
    fences. What it reads must be a variant of the input: a JSON fragment, an answer or a comment is not."""
    stripped = check_not_empty_or_refusal(text)
    value = json_field(extract_json(stripped), (*EDIT_KEYS, field.lower()))
    if isinstance(value, str) and value.strip():
        rewritten = value.strip()
    elif looks_like_json(stripped):
        raise ReplyParseError(f'reply with a complete JSON object {{"edited": "..."}} holding the whole {field}')
    else:
        prefixes = [
            f"edited {field}",
            f"redacted {field}",
            "edited text",
            "redacted text",
            "edited",
            "redacted",
            "counterfactual",
            "new " + field,
            field,
            "text",
        ]
        rewritten = strip_wrapping(stripped, prefixes=prefixes, source=original)
        lines = [line for line in rewritten.splitlines() if line.strip()]
        if len(lines) > 1 and len(original.splitlines()) == 1:
            rewritten = lines[0].strip()  # a one-line input: further lines are commentary
            rewritten = strip_wrapping(rewritten, prefixes=prefixes, source=original)
    if not rewritten:
        raise ReplyParseError(f"reply with the rewritten {field} only")
    if len(rewritten) > MAX_GROWTH * len(original) + 40:
        raise ReplyParseError(f"reply with the edited {field} only, a short edit of the original, without comments")
    if kept_share(original, rewritten) < min_kept:
        raise ReplyParseError(f"reply with the {field} itself, edited: keep the words you do not need to change")
    return rewritten


def edit_budget(budget: int, request: ParadigmRequest | None) -> int:
    """An edit's budget: the paradigm's, raised to room for the whole input twice over (a rewrite is as long as the
    input, and tokens run about two to a word on small vocabularies)."""
    if request is None:
        return budget
    return max(budget, 2 * len(request.item.target_text.split()) + 32)


def default_target(request: ParadigmRequest, answer: str) -> str | None:
    """The answer a counterfactual aims for: the other label of a binary task, else a seeded pick among the others."""
    unknown = unknown_answer(request) if request.allow_unknown else None
    others = [a for a in answer_space(request) if a != answer and a != unknown]
    if not others:
        return None
    if len(others) == 1:
        return others[0]
    return random.Random(f"{request.item.id}|{answer}").choice(others)


@register_paradigm
class CounterfactualEdit(Paradigm):
    """Ask for the minimal edit that would make the answer a target, then ask for the answer on the edit."""

    name = "counterfactual"
    summary = "the minimal edit that would change the answer, and the answer on it"
    kinds = frozenset({"classification", "multiple_choice"})
    budget = 96
    uses = ("predict",)

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        base_request = request.model_copy(update={"params": {}})
        base = await session.run("predict", base_request)
        prediction = base.prediction
        if prediction is None:
            return self.result(request, session, failure=base.failure)
        target = request.params.get("target") or default_target(request, prediction.answer)
        if target is None:
            failure = ParseFailure(
                purpose=self.name,
                error="no other answer to aim a counterfactual at",
                error_kind="not_applicable",
                raw="",
                attempts=0,
            )
            return self.result(request, session, failure=failure)
        item = request.item
        prompt = session.render(self.name, request, target=target, spoken_target=spoken(request, target))
        asked = await session.asker.ask(
            prompt,
            lambda text: parse_rewrite(text, item.target_text, item.target_field),
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request, target=target, answer=prediction.answer),
            item_id=item.id,
            history=session.history(request),
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        edited_text = asked.value
        edited = await session.run(
            "predict", base_request.model_copy(update={"item": item.with_target_text(edited_text)})
        )
        output = Counterfactual(
            field=item.target_field,
            original_text=item.target_text,
            edited_text=edited_text,
            original_answer=prediction.answer,
            target=target,
            edited_prediction=edited.prediction,
            edited_failure=edited.failure,
            unchanged=" ".join(edited_text.split()) == " ".join(item.target_text.split()),
        )
        return self.result(request, session, output=output, traces=[*asked.traces, *edited.traces])

    def default_budget(self, request: ParadigmRequest | None) -> int:
        return edit_budget(self.budget, request)

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        return f"not {request.item.target_text}"

    def reply_schema(self, request: ParadigmRequest) -> type[BaseModel] | None:
        return reply_model("Edit", edited=(str, ...))

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        # The input word by word, each kept or changed: an edit by construction, never an answer or a comment.
        return lark(edit_regex(request.item.target_text))


def count_redactions(text: str) -> tuple[str, int]:
    """Normalise redaction marks to REDACTION_TOKEN and count them."""
    normalised, count = _REDACTION_VARIANTS.subn(REDACTION_TOKEN, text)
    normalised = normalised.replace("[" + REDACTION_TOKEN + "]", REDACTION_TOKEN)
    return normalised, count


@register_paradigm
class RedactionEdit(Paradigm):
    """Ask for the input with the words needed for the answer replaced by a redaction token."""

    name = "redaction"
    summary = "the input with the words needed for the answer redacted"
    kinds = frozenset({"classification", "multiple_choice", "free_form"})
    budget = 96

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        item = request.item

        def parse(text: str) -> tuple[str, int]:
            # Redacted words are gone, so only what is left must come from the input: the kept share is measured
            # over the words outside the redaction marks, and an unchanged copy is a redaction of nothing.
            rewritten = parse_rewrite(text, item.target_text, item.target_field, min_kept=0.0)
            redacted, count = count_redactions(rewritten)
            left = _REDACTION_VARIANTS.sub(" ", redacted.replace(REDACTION_TOKEN, " "))
            if count == 0 and " ".join(left.split()) != " ".join(item.target_text.split()):
                # An answer or a comment is not a redaction; say so, so the model can try again.
                raise ReplyParseError(
                    f"reply with the {item.target_field} itself, the important words replaced by {REDACTION_TOKEN}"
                )
            if left.split() and kept_share(left, item.target_text) < 1 - MIN_KEPT:
                raise ReplyParseError(
                    f"reply with the {item.target_field} itself, only the important words replaced by {REDACTION_TOKEN}"
                )
            return redacted, count

        prompt = session.render(self.name, request, token=REDACTION_TOKEN)
        asked = await session.asker.ask(
            prompt,
            parse,
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request, token=REDACTION_TOKEN),
            item_id=item.id,
            history=session.history(request),
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        redacted_text, count = asked.value
        output = Redaction(
            field=item.target_field,
            original_text=item.target_text,
            redacted_text=redacted_text,
            token=REDACTION_TOKEN,
            redacted_count=count,
        )
        return self.result(request, session, output=output, traces=asked.traces)

    def default_budget(self, request: ParadigmRequest | None) -> int:
        return edit_budget(self.budget, request)

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        return redacted_first_word(request.item.target_text, REDACTION_TOKEN)

    def reply_schema(self, request: ParadigmRequest) -> type[BaseModel] | None:
        return reply_model("Redaction", redacted=(str, ...))

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        # The input word by word, each kept or redacted: a redaction by construction, never an answer or a comment.
        return lark(redaction_regex(request.item.target_text, REDACTION_TOKEN))
