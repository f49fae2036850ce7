"""`predict`: the answer alone. Scores every answer in one pass where the backend can; reads text otherwise."""

from __future__ import annotations

from agent.paradigms._answers import answer_space, parse_answer, softmax, spoken
from agent.paradigms._base import Paradigm, Session, register_paradigm
from agent.paradigms._types import ParadigmRequest, ParadigmResult, Prediction


@register_paradigm
class Predict(Paradigm):
    """Ask for the answer only."""

    name = "predict"
    summary = "the answer alone"

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        answers = answer_space(request)
        if session.use_scores and answers:
            return await self._by_scores(session, request, answers)
        prompt = session.render(self.name, request)
        asked = await session.asker.ask(
            prompt,
            lambda text: parse_answer(request, text),
            purpose=self.name,
            config=session.config(self.name),
            hint=session.hint(self.name, request),
            item_id=request.item.id,
            history=session.history(request),
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        answer, method = asked.value
        prediction = Prediction(
            answer=answer, method="json" if method == "json" else "text", raw=asked.reply
        )
        return self.result(request, session, output=prediction, traces=asked.traces)

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
