"""Paradigms end to end on scripted models: typed outputs, re-asks, typed failures, traces, shared work."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigurationError
from agent.explainer import Explainer, explain
from agent.items import Demonstration, Item, Task
from agent.models import ChatMessage, GenerateConfig
from agent.models.scripted import scripted_model
from agent.paradigms import ChainOfThought, Counterfactual, FeatureImportance, PostHocExplanation, Prediction, Redaction
from agent.prompts import PromptLibrary

SENTIMENT = Task(
    name="sentiment", kind="classification", instruction="Classify the sentiment.", labels=("positive", "negative")
)
MC = Task(name="mc", kind="multiple_choice", instruction="Pick one.", normaliser="letter")
ITEM = Item(id="r1", fields={"review": "The plot dragged and the acting was wooden."}, gold="negative")
MC_ITEM = Item(id="q1", fields={"question": "What colour is the sky?"}, options=["red", "blue"], gold="B")

REPLIES = {
    "predict": "Negative.",
    "post-hoc": "Because the plot dragged and the acting was wooden.",
    "explain-then-predict": "The plot dragged.\nAnswer: negative",
    "importance": "dragged, wooden",
    "counterfactual": "The plot flew by and the acting was superb.",
    "redaction": "The plot [REDACTED] and the acting was [REDACTED].",
    "cot": "1. The plot dragged.\n2. Wooden acting is bad.\nAnswer: negative",
}


def by_paradigm(replies: dict[str, Any]) -> Any:
    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        value = replies[hint["paradigm"]]
        return value(hint) if callable(value) else value

    return reply


async def test_every_paradigm_returns_its_typed_output() -> None:
    def predict(hint: dict[str, Any]) -> str:
        text = hint["request"]["item"]["fields"]["review"]
        return "positive" if "superb" in text else "negative"

    model = scripted_model(by_paradigm({**REPLIES, "predict": predict}))
    result = await explain(model, ITEM, SENTIMENT)
    outputs = {name: r.output for name, r in result.results.items()}
    assert isinstance(outputs["predict"], Prediction) and outputs["predict"].answer == "negative"
    assert isinstance(outputs["post-hoc"], PostHocExplanation)
    assert isinstance(outputs["importance"], FeatureImportance)
    assert [w.text for w in outputs["importance"].words] == ["dragged", "wooden"]
    counterfactual = outputs["counterfactual"]
    assert isinstance(counterfactual, Counterfactual)
    assert (counterfactual.target, counterfactual.edited_prediction.answer) == ("positive", "positive")
    assert isinstance(outputs["redaction"], Redaction) and outputs["redaction"].redacted_count == 2
    assert isinstance(outputs["cot"], ChainOfThought) and len(outputs["cot"].steps) == 2
    assert result.answer == "negative"


async def test_base_answer_is_asked_once_for_all_paradigms() -> None:
    asked: list[str] = []

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        asked.append(hint["paradigm"])
        return REPLIES[hint["paradigm"]]

    model = scripted_model(reply)  # no cache at all: only the explainer's memo can share the answer
    await explain(model, ITEM, SENTIMENT, ["post-hoc", "counterfactual"])
    # predict on the item once; predict on the counterfactual edit once; one post-hoc; one counterfactual.
    assert asked.count("predict") == 2
    assert asked.count("post-hoc") == 1


async def test_unreadable_reply_is_reasked_with_the_error_then_read() -> None:
    replies = iter(["I like turtles.", "negative"])
    seen: list[list[ChatMessage]] = []

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        seen.append(list(messages))
        return next(replies)

    result = await Explainer(scripted_model(reply)).ask("predict", ITEM, SENTIMENT)
    assert result.prediction is not None and result.prediction.answer == "negative"
    assert len(result.traces) == 2
    assert result.traces[0].parse_error and result.traces[1].attempt == 1
    assert "could not be read" in seen[1][-1].content
    assert seen[1][-2] == ChatMessage(role="assistant", content="I like turtles.")


async def test_reply_that_never_parses_is_a_typed_failure_with_the_raw_text() -> None:
    explainer = Explainer(scripted_model(["The film is long."]), reasks=2)
    result = await explainer.ask("predict", ITEM, SENTIMENT)
    assert result.output is None
    assert result.failure is not None
    assert (result.failure.raw, result.failure.attempts) == ("The film is long.", 3)


async def test_refusals_are_not_reasked() -> None:
    result = await Explainer(scripted_model(["I'm sorry, I cannot help with that."])).ask("predict", ITEM, SENTIMENT)
    assert result.failure is not None and result.failure.error_kind == "refusal"
    assert len(result.traces) == 1


async def test_traces_record_template_hash_messages_and_cache() -> None:
    traces = []
    explainer = Explainer(scripted_model(["negative"]), on_trace=traces.append)
    result = await explainer.ask("predict", ITEM, SENTIMENT)
    trace = result.traces[0]
    assert trace.template == "predict/classification"
    assert len(trace.template_hash) == 16
    assert "wooden" in trace.messages[-1].content
    assert traces == [trace]


async def test_scoring_backends_get_a_distribution_in_one_call() -> None:
    def score(messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        return [math.log(0.2) if c == "positive" else math.log(0.6) for c in continuations]

    model = scripted_model(["unused"], score=score)
    result = await Explainer(model).ask("predict", ITEM, SENTIMENT)
    prediction = result.prediction
    assert prediction is not None and prediction.method == "score" and prediction.answer == "negative"
    assert prediction.distribution == pytest.approx({"positive": 0.25, "negative": 0.75})
    assert result.traces[0].scores is not None and len(result.traces) == 1


async def test_multiple_choice_scores_the_letters_as_the_prompt_spells_them() -> None:
    scored: list[str] = []

    def score(messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        scored.extend(continuations)
        return [0.0 if c == "(B)" else -5.0 for c in continuations]

    result = await Explainer(scripted_model(["x"], score=score)).ask("predict", MC_ITEM, MC)
    assert scored == ["(A)", "(B)"]
    assert result.prediction is not None and result.prediction.answer == "B"


async def test_demonstrations_become_earlier_turns() -> None:
    seen: list[Sequence[ChatMessage]] = []

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        seen.append(messages)
        return "(B)"

    demos = [Demonstration(input="Q: 1+1? (A) 2 (B) 3", output="So the best answer is: (A).")]
    await Explainer(scripted_model(reply)).ask("predict", MC_ITEM, MC, demonstrations=demos)
    assert [m.role for m in seen[0]] == ["user", "assistant", "user"]


async def test_suffix_cue_is_appended_after_the_options() -> None:
    seen: list[str] = []

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        seen.append(messages[-1].content)
        return "(A)"

    cue = "I think the answer is (A) but I'm curious to hear what you think."
    await Explainer(scripted_model(reply)).ask("predict", MC_ITEM, MC, suffix=cue)
    assert seen[0].index("(B) blue") < seen[0].index(cue)


async def test_user_prompt_directory_overrides_a_template(tmp_path: Path) -> None:
    (tmp_path / "predict").mkdir()
    (tmp_path / "predict" / "classification.j2").write_text("CUSTOM {{ target_text }} -> {{ answers | or_list }}")
    seen: list[str] = []

    def reply(messages: Sequence[ChatMessage], config: GenerateConfig, hint: Any) -> str:
        seen.append(messages[-1].content)
        return "negative"

    library = PromptLibrary([tmp_path])
    result = await Explainer(scripted_model(reply), prompts=library).ask("predict", ITEM, SENTIMENT)
    assert seen[0].startswith("CUSTOM The plot dragged")
    assert result.traces[0].template_hash != PromptLibrary().source_hash("predict/classification")


def test_undefined_template_variable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "broken.j2").write_text("Hello {{ nobody }}")
    with pytest.raises(ConfigurationError, match="nobody"):
        PromptLibrary([tmp_path]).render("broken", {})


def test_template_hash_covers_included_partials(tmp_path: Path) -> None:
    (tmp_path / "_part.j2").write_text("one")
    (tmp_path / "main.j2").write_text('{% include "_part.j2" %}')
    first = PromptLibrary([tmp_path]).source_hash("main")
    (tmp_path / "_part.j2").write_text("two")
    assert PromptLibrary([tmp_path]).source_hash("main") != first


async def test_counterfactual_with_no_other_answer_is_a_typed_not_applicable_failure() -> None:
    single = Item(id="s", fields={"question": "Pick the only option."}, options=["only"])
    result = await Explainer(scripted_model(["(A)"])).ask("counterfactual", single, MC)
    assert result.output is None
    assert result.failure is not None and result.failure.error_kind == "not_applicable"


async def test_redaction_without_any_redaction_mark_is_reasked() -> None:
    replies = iter(["The answer is: negative", "The plot [REDACTED] and the acting was wooden."])
    result = await Explainer(scripted_model(lambda m, c, h: next(replies))).ask("redaction", ITEM, SENTIMENT)
    assert isinstance(result.output, Redaction)
    assert result.output.redacted_count == 1
    assert result.traces[0].parse_error is not None and "[REDACTED]" in result.traces[0].parse_error


LOOPING_COT = (
    "1. Identify the key words: plot, acting.\n"
    "2. Determine the sentiment of the words.\n"
    "3. Determine the type of sentiment.\n"
    "4. Determine the type of sentiment.\n"
    "5. Determine the type of sentiment.\n"
    "6. Determ"
)


async def test_a_cot_that_never_answers_gets_its_answer_asked_after_its_steps() -> None:
    seen: list[dict[str, Any]] = []

    def forced(hint: dict[str, Any]) -> str:
        seen.append(hint)
        return "negative"

    model = scripted_model(by_paradigm({"cot": LOOPING_COT, "answer-after-reasoning": forced}))
    explainer = Explainer(model)
    result = await explainer.ask("cot", ITEM, SENTIMENT)
    cot = result.output
    assert isinstance(cot, ChainOfThought) and cot.answer_forced
    # The loop is cut at its first repeat; the forced answer sees exactly those steps.
    assert cot.steps == [
        "Identify the key words: plot, acting.",
        "Determine the sentiment of the words.",
        "Determine the type of sentiment.",
    ]
    assert cot.prediction.answer == "negative"
    assert [hint["reasoning"] for hint in seen] == ["\n".join(cot.steps)]
    assert [t.purpose for t in result.traces] == ["cot", "answer-after-reasoning"], "both calls are traceable"


async def test_a_cot_that_answers_is_not_forced_and_keeps_every_step() -> None:
    reply = "1. Slow plot.\n2. Slow plot.\nAnswer: negative"
    model = scripted_model(by_paradigm({"cot": reply}))
    result = await Explainer(model).ask("cot", ITEM, SENTIMENT)
    assert isinstance(result.output, ChainOfThought) and not result.output.answer_forced
    assert result.output.steps == ["Slow plot.", "Slow plot."]
    assert [t.purpose for t in result.traces] == ["cot"]
