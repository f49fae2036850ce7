"""Free-text self-explanations: post-hoc (answer, then why) and explain-then-predict (why, then the answer)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from agent.models import ChatMessage
from agent.paradigms._answers import parse_answer, spoken
from agent.paradigms._base import Paradigm, Session, register_paradigm
from agent.paradigms._formats import (
    answer_line_regex,
    answer_type,
    because,
    canonical_answer,
    lark,
    reasoning_then_answer,
    reply_model,
)
from agent.paradigms._types import ExplainThenPredict, ParadigmRequest, ParadigmResult, PostHocExplanation, Prediction
from agent.parsing import (
    ReplyParseError,
    check_not_empty_or_refusal,
    extract_json,
    is_heading,
    json_field,
    plain_markdown,
    split_at_final_answer,
    split_steps,
    strip_chatter,
    strip_wrapping,
)

EXPLANATION_KEYS = ("explanation", "reason", "reasoning", "rationale", "why")
_FINAL_ANSWER_LINE = re.compile(r"^\W*(?:final\s+)?answer\s*(?:is)?\s*[:=-]", re.IGNORECASE | re.MULTILINE)


def parse_explanation(text: str) -> str:
    """The explanation in a reply: a JSON field, or the text without a leading "Explanation:" label."""
    stripped = check_not_empty_or_refusal(text)
    value = json_field(extract_json(stripped), EXPLANATION_KEYS)
    if isinstance(value, str) and value.strip():
        return value.strip()
    explanation = strip_wrapping(stripped, prefixes=("explanation", "reason", "because"))
    if len(explanation.split()) < 2:
        raise ReplyParseError("the explanation is missing; explain in one or two full sentences")
    return explanation


@register_paradigm
class PostHoc(Paradigm):
    """Ask for the answer, then, in a second turn, why."""

    name = "post-hoc"
    summary = "answer, then a free-text explanation of it"
    budget = 96
    uses = ("predict",)

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        base = await session.run("predict", request)
        prediction = base.prediction
        if prediction is None:
            return self.result(request, session, failure=base.failure, traces=[])
        # The explanation turn follows the model's own answer, as it would have written it.
        by_score = prediction.method == "score"
        first_turn = session.render("predict", request, json_mode=session.json_mode and not by_score)
        answer_turn = spoken(request, prediction.answer) if by_score or prediction.raw is None else prediction.raw
        history = [
            *session.history(request),
            *first_turn.messages,
            ChatMessage(role="assistant", content=answer_turn),
        ]
        prompt = session.render(self.name, request, answer=spoken(request, prediction.answer))
        asked = await session.asker.ask(
            prompt,
            parse_explanation,
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request, answer=prediction.answer),
            item_id=request.item.id,
            history=history,
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        output = PostHocExplanation(prediction=prediction, explanation=asked.value)
        return self.result(request, session, output=output, traces=asked.traces)

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        return because(request.item)

    def reply_schema(self, request: ParadigmRequest) -> type[BaseModel] | None:
        return reply_model("Explanation", explanation=(str, ...))


def parse_explain_then_predict(request: ParadigmRequest, text: str) -> tuple[str, str, str]:
    """(explanation, answer, method) from a reply that explains first and ends with "Answer: X" (or states the
    answer in its last sentence)."""
    stripped = strip_chatter(check_not_empty_or_refusal(text))
    data = extract_json(stripped)
    explanation = json_field(data, EXPLANATION_KEYS)
    if isinstance(explanation, str) and explanation.strip():
        answer, method = parse_answer(request, stripped)
        return explanation.strip(), answer, method
    cues = list(_FINAL_ANSWER_LINE.finditer(stripped))
    found = (stripped[: cues[-1].start()], stripped[cues[-1].start() :]) if cues else split_at_final_answer(stripped)
    if found is None:
        return _explanation_then_answer_sentence(request, stripped)
    before, answer_text = found
    explanation_text = strip_wrapping(before, prefixes=("explanation", "reasoning"))
    explanation_text = "\n".join(line for line in explanation_text.splitlines() if not is_heading(line)).strip()
    if len(explanation_text.split()) < 2:
        raise ReplyParseError("write the explanation first, then the final line 'Answer: <your answer>'")
    answer, _ = parse_answer(request, answer_text)
    return plain_markdown(explanation_text), answer, "text"


def _explanation_then_answer_sentence(request: ParadigmRequest, text: str) -> tuple[str, str, str]:
    """A reply with no "Answer:" line: the last sentence is the answer if it names exactly one, the rest explains.

    Weak models write "... The answer is positive." in prose; a one-sentence reply is an answer without an
    explanation before it, which is not this paradigm, so it stays an error (and is re-asked).
    """
    sentences = split_steps(" ".join(text.split()))
    if len(sentences) < 2:
        raise ReplyParseError("end the reply with a final line 'Answer: <your answer>' after the explanation")
    try:
        answer, _ = parse_answer(request, sentences[-1])
    except ReplyParseError as error:
        raise ReplyParseError(
            f"end the reply with a final line 'Answer: <your answer>' after the explanation ({error})", kind=error.kind
        ) from error
    return " ".join(sentences[:-1]), answer, "text"


@register_paradigm
class ExplainFirst(Paradigm):
    """Ask for the explanation first and the answer after it, in one reply."""

    name = "explain-then-predict"
    summary = "a free-text explanation, then the answer"
    budget = 128

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        prompt = session.render(self.name, request)
        asked = await session.asker.ask(
            prompt,
            lambda text: parse_explain_then_predict(request, text),
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request),
            item_id=request.item.id,
            history=session.history(request),
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        explanation, answer, method = asked.value
        prediction = Prediction(answer=answer, method="json" if method == "json" else "text", raw=asked.reply)
        output = ExplainThenPredict(explanation=explanation, prediction=prediction)
        return self.result(request, session, output=output, traces=asked.traces)

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        return f"{because(request.item)}\nAnswer: {canonical_answer(request)}"

    def reply_schema(self, request: ParadigmRequest) -> type[BaseModel] | None:
        return reply_model("ExplanationThenAnswer", explanation=(str, ...), answer=(answer_type(request), ...))

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        return lark(reasoning_then_answer(request))

    def reply_ending(self, request: ParadigmRequest) -> str | None:
        return lark(answer_line_regex(request))
