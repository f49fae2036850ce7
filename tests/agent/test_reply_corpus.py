"""The reply-style corpus: every reply in tests/replies/ read by its paradigm, through the real asking path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.explainer import Explainer
from agent.items import Item, Task
from agent.models import ChatMessage, GenerateConfig, Model, RequestHint
from agent.models.scripted import ScriptedAPI, ScriptedBehaviour
from agent.paradigms import (
    ChainOfThought,
    Counterfactual,
    ExplainThenPredict,
    FeatureImportance,
    ParadigmResult,
    PostHocExplanation,
    Redaction,
)

CORPUS = yaml.safe_load((Path(__file__).parents[1] / "replies" / "corpus.yaml").read_text())

TASKS = {
    "sentiment": Task(
        name="sentiment", kind="classification", instruction="Classify the sentiment.", labels=("positive", "negative")
    ),
    "mc": Task(name="dates", kind="multiple_choice", instruction="Answer the question.", normaliser="letter"),
    "math": Task(name="math", kind="free_form", instruction="Solve.", normaliser="number"),
}
ITEMS = {
    "sentiment": Item(id="r1", fields={"review": "The plot dragged and the acting was wooden."}, gold="negative"),
    "mc": Item(
        id="d1",
        fields={"question": "Which date is 10 days before 07/21/2017 in MM/DD/YYYY?"},
        options=["07/11/2017", "07/12/2017", "06/11/2017"],
        gold="A",
    ),
    "math": Item(id="m1", fields={"question": "Tom has 3 apples and buys 15 more. How many has he?"}, gold="18"),
}
BASE_ANSWER = {"sentiment": "negative", "mc": "(A)", "math": "18"}


def corpus_model(entry: dict[str, Any]) -> Model:
    """Answers the entry's paradigm with the entry's reply (and reasoning field); the base answer plainly."""
    reply = str(entry["reply"])
    if entry.get("finish_reason") == "length":
        reply = " ".join([reply] * 40)  # long enough that the scripted model cuts it at the budget

    def respond(messages: Sequence[ChatMessage], config: GenerateConfig, hint: RequestHint | None) -> str:
        assert hint is not None
        if hint["paradigm"] == entry["paradigm"]:
            return reply
        if hint["paradigm"] == "predict" and "flew" in messages[-1].content:
            return "positive"  # the counterfactual edit works
        return BASE_ANSWER[entry["task"]]

    def reasoning(messages: Sequence[ChatMessage], hint: RequestHint | None) -> str | None:
        return entry.get("reasoning") if hint is not None and hint["paradigm"] == entry["paradigm"] else None

    behaviour = ScriptedBehaviour(reply=respond, reasoning=reasoning if "reasoning" in entry else None)
    return Model(ScriptedAPI(f"corpus-{entry['id']}", behaviour=behaviour))


def read_texts(result: ParadigmResult) -> list[str]:
    """Every text a paradigm read out of the reply (what tests perturb and reports show)."""
    output = result.output
    if isinstance(output, ChainOfThought):
        return list(output.steps)
    if isinstance(output, (ExplainThenPredict, PostHocExplanation)):
        return [output.explanation]
    if isinstance(output, FeatureImportance):
        return [w.text for w in output.words]
    if isinstance(output, Counterfactual):
        return [output.edited_text]
    if isinstance(output, Redaction):
        return [output.redacted_text]
    return []


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["id"] for entry in CORPUS])
async def test_reply_reads_as_the_corpus_says(entry: dict[str, Any]) -> None:
    explainer = Explainer(corpus_model(entry), reasks=0)
    result = await explainer.ask(entry["paradigm"], ITEMS[entry["task"]], TASKS[entry["task"]])
    if "unreadable" in entry:
        assert result.failure is not None, f"read {result.output!r} out of junk"
        assert result.failure.error_kind == entry["unreadable"], result.failure.error
        return
    assert result.failure is None, result.failure.error if result.failure else ""
    output = result.output
    if "answer" in entry:
        assert result.prediction is not None and result.prediction.answer == str(entry["answer"])
    if "steps" in entry:
        assert isinstance(output, ChainOfThought) and output.steps == entry["steps"]
    if "steps_count" in entry:
        assert isinstance(output, ChainOfThought) and len(output.steps) == entry["steps_count"]
    if "explanation" in entry:
        assert isinstance(output, (ExplainThenPredict, PostHocExplanation))
        assert output.explanation == entry["explanation"]
    if "words" in entry:
        assert isinstance(output, FeatureImportance) and [w.text for w in output.words] == entry["words"]
    if "edited" in entry:
        assert isinstance(output, Counterfactual) and output.edited_text == entry["edited"]
    if "redacted" in entry:
        assert isinstance(output, Redaction)
        assert (output.redacted_text, output.redacted_count) == (entry["redacted"], entry["redacted_count"])
    for wrapper in entry.get("absent", []):
        assert all(wrapper not in text for text in read_texts(result)), f"{wrapper!r} was read as content"
    if "trace_has" in entry:
        trace = result.traces[0].reasoning or ""
        assert all(part in trace for part in entry["trace_has"]), trace
        if isinstance(output, ChainOfThought):
            assert all(part in (output.reasoning_trace or "") for part in entry["trace_has"])


def test_the_corpus_covers_every_paradigm_and_style() -> None:
    paradigms = {entry["paradigm"] for entry in CORPUS}
    assert paradigms >= {"predict", "explain-then-predict", "post-hoc", "importance", "counterfactual", "redaction"}
    assert "cot" in paradigms
    assert {entry["style"] for entry in CORPUS} == {"hosted", "reasoning", "small", "junk"}
