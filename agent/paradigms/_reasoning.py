"""Chains of thought, and the two moves the CoT tests make on them: force an answer after a (cut, corrupted or
replaced) rationale, and let the model continue a rationale from a given point (Lanham et al. 2023)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent.models import ChatMessage
from agent.paradigms._answers import answer_space, parse_answer, softmax, spoken
from agent.paradigms._base import Paradigm, Session, register_paradigm
from agent.paradigms._formats import (
    answer_line_regex,
    canonical_answer,
    canonical_steps,
    lark,
    quote,
    reasoning_then_answer,
)
from agent.paradigms._predict import AnswerOnly, text_prediction
from agent.paradigms._types import ChainOfThought, ParadigmRequest, ParadigmResult, Prediction
from agent.parsing import (
    ReplyParseError,
    check_not_empty_or_refusal,
    clean_reply,
    split_at_final_answer,
    split_steps,
    strip_chatter,
)
from agent.structured import Asked


def parse_chain_of_thought(request: ParadigmRequest, text: str) -> tuple[list[str], str | None, str]:
    """(steps, answer, method): the steps before the final answer's sentence, and the answer read from it.

    The final answer is the last sentence with an answer cue ("Answer: X", "the answer is (C)", "I would choose
    B", `\\boxed{}`), on its own line or ending a paragraph. A reply that reasons but gives no readable answer (it ran
    out of tokens, looped, or named an answer that is not on offer) gives its steps, cut before the first repeated
    step, with answer None and method "forced": the caller then asks for the answer after the reasoning, as Lanham
    et al. (2023) elicit every answer.
    """
    stripped = strip_chatter(check_not_empty_or_refusal(text))
    found = split_at_final_answer(stripped)
    if found:
        reasoning, answer_text = found
    else:
        lines = stripped.splitlines()
        reasoning, answer_text = "\n".join(lines[:-1]), lines[-1]
    try:
        answer, method = parse_answer(request, answer_text)
    except ReplyParseError as error:
        steps = until_repeated(split_steps(reasoning if found else stripped))
        if len(steps) < 2:
            raise ReplyParseError(f"end with a final line 'Answer: ...' ({error})", kind=error.kind) from error
        return steps, None, "forced"
    steps = split_steps(reasoning) if reasoning.strip() else []
    if not steps:
        raise ReplyParseError("think step by step: write the reasoning steps before the final 'Answer: ...' line")
    return steps, answer, method


def until_repeated(steps: list[str]) -> list[str]:
    """The steps before the first one that repeats an earlier step: a loop adds nothing after its first turn."""
    seen: set[str] = set()
    kept: list[str] = []
    for step in steps:
        key = " ".join(step.lower().split())
        if key in seen:
            break
        seen.add(key)
        kept.append(step)
    return kept


async def chain_of_thought_result(
    paradigm: Paradigm,
    session: Session,
    request: ParadigmRequest,
    asked: Asked[tuple[list[str], str | None, str]],
    prefix: Sequence[str] = (),
) -> ParadigmResult:
    """The typed result of a (continued) chain of thought; its answer forced after the steps when it gave none."""
    if asked.value is None:
        return paradigm.result(request, session, failure=asked.failure, traces=asked.traces)
    new_steps, answer, method = asked.value
    steps = [*prefix, *new_steps]
    reply = asked.reply
    traces = list(asked.traces)
    if answer is None:
        forced = await session.run(
            "answer-after-reasoning",
            request.model_copy(update={"params": {**request.params, "reasoning": reasoning_text(steps)}}),
        )
        traces += forced.traces
        if forced.prediction is None:
            return paradigm.result(request, session, failure=forced.failure, traces=traces)
        prediction = forced.prediction
    else:
        prediction = Prediction(answer=answer, method="json" if method == "json" else "text", raw=reply)
    output = ChainOfThought(
        steps=steps,
        prediction=prediction,
        answer_forced=answer is None,
        reasoning_trace=asked.reasoning,
        text=clean_reply(reply),
    )
    return paradigm.result(request, session, output=output, traces=traces)


def reasoning_text(steps: list[str]) -> str:
    """Steps as the model would see them written: one per line."""
    return "\n".join(steps)


@register_paradigm
class ChainOfThoughtParadigm(Paradigm):
    """Ask for step-by-step reasoning, then the answer; keep the steps as a list."""

    name = "cot"
    summary = "step-by-step reasoning, then the answer (steps kept as a list)"
    budget = 320
    uses = ("answer-after-reasoning",)

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        prompt = session.render(self.name, request)
        asked = await session.asker.ask(
            prompt,
            lambda text: parse_chain_of_thought(request, text),
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request),
            item_id=request.item.id,
            history=session.history(request),
            allow_loops=True,
        )
        return await chain_of_thought_result(self, session, request, asked)

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        steps = canonical_steps(request.item)
        numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
        return f"{numbered}\nAnswer: {canonical_answer(request)}"

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        # Free reasoning lines, then the answer line the prompt asks for; the CoT stays plain text (no JSON), since
        # the CoT tests cut, corrupt and paraphrase the model's own prose.
        return lark(reasoning_then_answer(request))

    def reply_ending(self, request: ParadigmRequest) -> str | None:
        return lark(answer_line_regex(request))


@register_paradigm
class AnswerAfterReasoning(AnswerOnly):
    """Show the model a rationale as its own earlier turn and ask for the final answer now.

    `params["reasoning"]` is the rationale (possibly truncated, corrupted, paraphrased or filler; empty means none).
    The answer is asked in a new user turn, the same way on every backend; where the backend can score, every answer
    is scored in that turn and the distribution kept.
    """

    name = "answer-after-reasoning"
    summary = "force an answer after a given (possibly perturbed) rationale"
    budget = 24
    scored = True

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        reasoning = str(request.params.get("reasoning", ""))
        history = [*session.history(request), *session.render("cot", request).messages]
        if reasoning.strip():
            history.append(ChatMessage(role="assistant", content=reasoning))
        prompt = session.render(self.name, request, has_reasoning=bool(reasoning.strip()))
        answers = answer_space(request)
        if session.use_scores and answers:
            logprobs, trace = await session.asker.score(
                prompt,
                [spoken(request, a) for a in answers],
                purpose=self.name,
                item_id=request.item.id,
                history=history,
            )
            distribution = dict(zip(answers, softmax(logprobs), strict=True))
            best = max(answers, key=lambda a: distribution[a])
            return self.result(
                request,
                session,
                output=Prediction(answer=best, method="score", distribution=distribution),
                traces=[trace],
            )
        asked = await session.asker.ask(
            prompt,
            lambda text: parse_answer(request, text),
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request, reasoning=reasoning),
            item_id=request.item.id,
            history=history,
        )
        if asked.value is None:
            return self.result(request, session, failure=asked.failure, traces=asked.traces)
        return self.result(request, session, output=text_prediction(request, asked), traces=asked.traces)


@register_paradigm
class ContinueReasoning(Paradigm):
    """Show the model the first steps of a rationale as its own and let it continue to a final answer.

    `params["prefix"]` is the list of steps to continue from (Lanham's "adding mistakes" inserts an error there).
    """

    name = "continue-reasoning"
    summary = "continue a given partial rationale to a final answer"
    budget_of = "cot"
    uses = ("answer-after-reasoning",)

    async def run(self, session: Session, request: ParadigmRequest) -> ParadigmResult:
        prefix = [str(step) for step in request.params.get("prefix", [])]
        history = [*session.history(request), *session.render("cot", request).messages]
        if prefix:
            history.append(ChatMessage(role="assistant", content=reasoning_text(prefix)))
        prompt = session.render(self.name, request, has_prefix=bool(prefix))

        def parse(text: str) -> tuple[list[str], str | None, str]:
            try:
                steps, answer, method = parse_chain_of_thought(request, text)
            except ReplyParseError:
                # Continuing may legitimately add no step: "Answer: (B)" alone reads as an answer after the prefix.
                answer, method = parse_answer(request, text)
                return [], answer, method
            return steps, answer, method  # answer None: forced below

        asked = await session.asker.ask(
            prompt,
            parse,
            purpose=self.name,
            config=session.config(self.name, request),
            hint=session.hint(self.name, request, prefix=prefix),
            item_id=request.item.id,
            history=history,
            allow_loops=True,
        )
        return await chain_of_thought_result(self, session, request, asked, prefix)

    def canonical_reply(self, request: ParadigmRequest, extra: Mapping[str, Any]) -> str:
        return f"So, for '{quote(request.item)}', the reasoning above settles it.\nAnswer: {canonical_answer(request)}"

    def reply_grammar(self, request: ParadigmRequest) -> str | None:
        return lark(reasoning_then_answer(request, min_lines=0))

    def reply_ending(self, request: ParadigmRequest) -> str | None:
        return lark(answer_line_regex(request))
