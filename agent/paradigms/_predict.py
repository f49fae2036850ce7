"""`predict`: the answer alone. Scores every answer in one pass where the backend can; reads text otherwise (with
the answer's probabilities from the top log-probabilities where an API returns them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from agent.paradigms._answers import answer_space, distribution_from_logprobs, parse_answer, softmax, spoken
from agent.paradigms._base import Paradigm, Session, register_paradigm
from agent.paradigms._formats import answer_regex, answer_type, canonical_answer, lark, literal, reply_model
from agent.paradigms._types import ParadigmRequest, ParadigmResult, Prediction
from agent.structured import Asked


def answer_schema(request: ParadigmRequest) -> type[BaseModel]:
    """`{"answer": <one of the answers>}`."""
    return reply_model("Answer", answer=(answer_type(request), ...))


def answer_only_grammar(request: ParadigmRequest) -> str:
    """The answer alone, as `_answer_only.j2` asks for it (an "Answer: " label before it is allowed)."""
    return lark(f"({literal('Answer: ')})?" + answer_regex(request))


def text_prediction(request: ParadigmRequest, asked: Asked[tuple[str, str]]) -> Prediction:
    """The prediction read from a reply, with the answer distribution its top log-probabilities give, if any."""
    assert asked.value is not None
    answer, method = asked.value
    choice = asked.completion.choices[0] if asked.completion and asked.completion.choices else None
    distribution = distribution_from_logprobs(request, choice.logprobs if choice else None, answer)
    return Prediction(
        answer=answer, method="json" if method == "json" else "text", raw=asked.reply, distribution=distribution
    )


class AnswerOnly(Paradigm):
    """The reply formats of a paradigm whose reply is the answer alone (`predict`, `answer-after-reasoning`)."""

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        return f"Answer: {canonical_answer(request)}"

    def reply_schema(self, request: ParadigmRequest) -> type[BaseModel] | None:
        return answer_schema(request)

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        return answer_only_grammar(request)


@register_paradigm
class Predict(AnswerOnly):
    """Ask for the answer only."""

    name = "predict"
    summary = "the answer alone"
    budget = 24
    scored = True

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        answers = answer_space(request)
        if session.use_scores and answers:
            return await self._by_scores(session, request, answers)
        prompt = session.render(self.name, request)
        asked = await session.asker.ask(
            prompt,
            lambda text: parse_answer(request, text),
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request),
            item_id=request.item.id,
            history=session.history(request),
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        return self.result(request, session, output=text_prediction(request, asked), traces=asked.traces)

    async def _by_scores(self, session: Session, request: ParadigmRequest, answers: list[str]) -> ParadigmResult:
        # The plain-text wording: the continuation scored is exactly how the prompt asks the answer to be written.
        prompt = session.render(self.name, request, json_mode=False)
        logprobs, trace = await session.asker.score(
            prompt,
            [spoken(request, a) for a in answers],
            purpose=self.name,
            item_id=request.item.id,
            history=session.history(request),
        )
        distribution = dict(zip(answers, softmax(logprobs), strict=True))
        best = max(answers, key=lambda a: distribution[a])
        prediction = Prediction(answer=best, method="score", distribution=distribution)
        return self.result(request, session, output=prediction, traces=[trace])
